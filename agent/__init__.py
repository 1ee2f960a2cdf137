"""stackeye.agent: the host agent (host and middleware metrics, logs, local OTLP relay, shipping)."""
