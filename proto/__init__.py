"""stackeye.proto: stackeye's own protocol messages (what OTLP lacks: agent registration, heartbeat, remote config) and the interfaces it serves to others (KEDA's external scaler)."""
