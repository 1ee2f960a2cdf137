"""Built-in triggers, one module per template (see :mod:`.registry`)."""
