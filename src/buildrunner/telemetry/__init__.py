"""BuildRunner telemetry."""
