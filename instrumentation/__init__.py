"""stackeye.instrumentation: one import that configures OpenTelemetry for a Python service."""
