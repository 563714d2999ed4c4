"""BuildRunner cli."""
