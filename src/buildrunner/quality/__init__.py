"""BuildRunner quality."""
