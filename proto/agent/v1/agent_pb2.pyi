from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterRequest(_message.Message):
    __slots__ = ("agent_id", "host_name", "host_id", "os_type", "version", "collectors", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    OS_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COLLECTORS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    host_name: str
    host_id: str
    os_type: str
    version: str
    collectors: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, agent_id: _Optional[str] = ..., host_name: _Optional[str] = ..., host_id: _Optional[str] = ..., os_type: _Optional[str] = ..., version: _Optional[str] = ..., collectors: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: AgentConfig
    def __init__(self, config: _Optional[_Union[AgentConfig, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("agent_id", "stats", "config_version")
    class StatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    stats: _containers.ScalarMap[str, float]
    config_version: int
    def __init__(self, agent_id: _Optional[str] = ..., stats: _Optional[_Mapping[str, float]] = ..., config_version: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("config_version", "reregister")
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    REREGISTER_FIELD_NUMBER: _ClassVar[int]
    config_version: int
    reregister: bool
    def __init__(self, config_version: _Optional[int] = ..., reregister: _Optional[bool] = ...) -> None: ...

class GetConfigRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class AgentConfig(_message.Message):
    __slots__ = ("version", "interval_seconds", "enabled_collectors", "replace_collectors")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_COLLECTORS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_COLLECTORS_FIELD_NUMBER: _ClassVar[int]
    version: int
    interval_seconds: float
    enabled_collectors: _containers.RepeatedScalarFieldContainer[str]
    replace_collectors: bool
    def __init__(self, version: _Optional[int] = ..., interval_seconds: _Optional[float] = ..., enabled_collectors: _Optional[_Iterable[str]] = ..., replace_collectors: _Optional[bool] = ...) -> None: ...

class SetConfigRequest(_message.Message):
    __slots__ = ("agent_id", "interval_seconds", "enabled_collectors", "replace_collectors")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_COLLECTORS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_COLLECTORS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    interval_seconds: float
    enabled_collectors: _containers.RepeatedScalarFieldContainer[str]
    replace_collectors: bool
    def __init__(self, agent_id: _Optional[str] = ..., interval_seconds: _Optional[float] = ..., enabled_collectors: _Optional[_Iterable[str]] = ..., replace_collectors: _Optional[bool] = ...) -> None: ...
