"""BuildRunner security."""
