"""The limits of every query ``stackeye up`` and ``stackeye sql`` run: UpConfig's ``query_*``
settings as :class:`~stackeye.storage.base.QueryLimits`, whose errors name the setting to raise."""
from __future__ import annotations

from stackeye.app.up_config import UpConfig
from stackeye.storage.base import QueryLimits

# ClickHouse setting (a QueryLimits field) -> the UpConfig setting that sets it
SETTING_OF_LIMIT = {
    "max_result_rows": "query_max_rows",
    "max_execution_time": "query_timeout_s",
    "max_memory_usage": "query_max_memory_bytes",
    "max_threads": "query_max_threads",
    "tenant_concurrency": "query_max_concurrent",
}


def query_limits(config: UpConfig) -> QueryLimits:
    return QueryLimits(
        **{limit: getattr(config, name) for limit, name in SETTING_OF_LIMIT.items()},
        raised_by=tuple((limit, f"{name} / --{name.replace('_', '-')}") for limit, name in SETTING_OF_LIMIT.items()),
    )
