"""stackeye.proto.agent: the host agent protocol."""
