"""BuildRunner routing."""
