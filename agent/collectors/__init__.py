"""Metric collectors, one module each, registered with @register (see agent/registry.py)."""
