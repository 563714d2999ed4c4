"""BuildRunner gaps."""
