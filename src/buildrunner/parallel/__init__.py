"""BuildRunner parallel."""
