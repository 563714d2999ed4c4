"""BuildRunner: safe, cheap and visible AI-assisted development."""

__version__ = "3.1.0"
