"""stackeye.proto: stackeye's own protocol messages (what OTLP lacks: agent registration, heartbeat, remote config)."""
