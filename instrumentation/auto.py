"""Auto-instrumentation: every installed ``opentelemetry-instrumentation-*`` package, each on its own.

The instrumentors are found on the ``opentelemetry_instrumentor`` entry point, as the stock
``opentelemetry-instrument`` does. An instrumentor whose library is not installed (or is of an
unsupported version) is skipped quietly; one that raises is logged once and skipped, and the
others still run. ``sqlite3`` and ``flask`` are replaced by :class:`.sqlite.StackeyeSQLite3Instrumentor`
and :class:`.flask_server.StackeyeFlaskInstrumentor` (lean hot paths, see bench/RESULTS.md);
``logging`` injects trace ids into log records and exports records as OTLP logs.

Call :func:`instrument_installed` before the app creates its Flask/FastAPI/Django app object:
the web-framework instrumentors patch the framework classes.

>>> instrument_installed(disabled=("*",))
{}
>>> TRIGGERS["mysqlclient"]
'MySQLdb'
>>> instrumentor_package("kafka")
'opentelemetry-instrumentation-kafka-python'

The per-library instrumentors are in stackeye's ``instrumentation`` extra; a library that is
installed while its instrumentor is not is named once, with that extra (:func:`uninstrumented_hint`).
"""
from __future__ import annotations

import importlib.util
import logging
import re
import sys
from importlib import metadata
from importlib.metadata import entry_points

import wrapt
from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
from opentelemetry.metrics import NoOpMeterProvider

from .stats import STATS

_log = logging.getLogger("stackeye.instrumentation")

# Extra keyword arguments per entry-point name.
INSTRUMENTOR_KWARGS: dict[str, dict] = {
    "logging": {"inject_trace_context": True},
    # The per-message ASGI send/receive spans double the span count of every request and carry
    # nothing the views use; the server span keeps status and timing.
    "fastapi": {"exclude_spans": ["receive", "send"]},
}
_INSTRUMENTED: dict[str, object] = {}

# Entry-point name -> the module whose import makes the instrumentor useful. Names not listed
# (and "logging") are instrumented at once.
TRIGGERS: dict[str, str] = {
    "flask": "flask", "django": "django", "fastapi": "fastapi", "starlette": "starlette",
    "falcon": "falcon", "pyramid": "pyramid", "tornado": "tornado", "aiohttp-server": "aiohttp",
    "requests": "requests", "urllib3": "urllib3", "urllib": "urllib.request", "httpx": "httpx", "httpx2": "httpx2",
    "aiohttp-client": "aiohttp", "sqlite3": "sqlite3", "psycopg2": "psycopg2", "psycopg": "psycopg",
    "pymysql": "pymysql", "mysqlclient": "MySQLdb", "mysql": "mysql.connector", "sqlalchemy": "sqlalchemy",
    "asyncpg": "asyncpg", "redis": "redis", "pymongo": "pymongo", "kafka": "kafka",
    "confluent_kafka": "confluent_kafka", "celery": "celery", "boto3sqs": "boto3", "botocore": "botocore",
    "grpc_client": "grpc", "grpc_server": "grpc", "grpc_aio_client": "grpc", "grpc_aio_server": "grpc",
    "elasticsearch": "elasticsearch", "pika": "pika", "jinja2": "jinja2", "asyncio": "asyncio",
}


# The PyPI package of an entry point's instrumentor, where it is not "opentelemetry-instrumentation-<name>".
_PACKAGES: dict[str, str] = {
    "kafka": "opentelemetry-instrumentation-kafka-python", "httpx2": "opentelemetry-instrumentation-httpx",
    "confluent_kafka": "opentelemetry-instrumentation-confluent-kafka",
    **{name: "opentelemetry-instrumentation-grpc"
       for name in ("grpc_client", "grpc_server", "grpc_aio_client", "grpc_aio_server")},
}


# Library instrumentors record their own request-duration histograms; the views derive RED
# metrics from spans, so those would be paid on every request for nothing (see bench/RESULTS.md).
_NO_METRICS = NoOpMeterProvider()


def _replacement(name: str):
    """Our instrumentor for an entry-point name, where profiling made us replace the stock one."""
    if name == "sqlite3":
        from .sqlite import StackeyeSQLite3Instrumentor

        return StackeyeSQLite3Instrumentor
    if name == "flask":
        from .flask_server import StackeyeFlaskInstrumentor

        return StackeyeFlaskInstrumentor
    return None


def load_one(entry_point, **kwargs) -> str:
    """Instrument one entry point; returns ``"ok"``, ``"missing"`` or ``"failed"``. Never raises."""
    name = entry_point.name
    if name in _INSTRUMENTED:
        return "ok"
    try:
        dist = getattr(entry_point, "dist", None)
        if dist is not None and get_dist_dependency_conflicts(dist):
            return "missing"
        cls = _replacement(name) or entry_point.load()
        instrumentor = cls()
        options = {"meter_provider": _NO_METRICS, **INSTRUMENTOR_KWARGS.get(name, {}), **kwargs,
                   "skip_dep_check": True}
        instrumentor.instrument(**options)
        _INSTRUMENTED[name] = instrumentor
        return "ok"
    except ModuleNotFoundError:
        return "missing"
    except Exception as exc:  # a broken instrumentor must not take the app (or the others) down
        STATS.add("instrumentors_failed")
        _log.warning("stackeye: instrumentation %r failed and is skipped: %r", name, exc)
        return "failed"


def instrument_installed(disabled: tuple[str, ...] = (), **kwargs) -> dict[str, str]:
    """Instrument what is installed; returns ``{entry point name: "ok"|"missing"|"failed"|"deferred"}``.

    An instrumentor whose library the app has not imported yet is *deferred*: it runs from a
    post-import hook when (if ever) the library is imported. Importing every installed library
    up front (what the stock loader does) costs tens of MiB and seconds of start-up for code the
    app never uses; the result is the same for the libraries it does use.
    """
    if "*" in disabled:
        return {}
    results = {}
    for ep in entry_points(group="opentelemetry_instrumentor"):
        if ep.name in disabled or ep.name in results:
            continue
        results[ep.name] = load_when_imported(ep, **kwargs)
    hint = uninstrumented_hint(disabled)
    if hint:
        _log.warning("stackeye: %s", hint)
    return results


def instrumentor_package(name: str) -> str:
    """The PyPI package that ships the instrumentor of entry point ``name``."""
    return _PACKAGES.get(name, f"opentelemetry-instrumentation-{name}")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extra_packages(extra: str = "instrumentation") -> set[str]:
    """The (normalized) names of the packages that stackeye's ``extra`` adds, from the installed
    metadata; empty when stackeye is not installed as a distribution."""
    try:
        requirements = metadata.requires("stackeye") or []
    except metadata.PackageNotFoundError:
        return set()
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    return {_normalized(re.split(r"[\s\[<>=!~;(@]", req.strip(), maxsplit=1)[0])
            for req in requirements if marker.search(req.partition(";")[2])}


def _present(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def uninstrumented(disabled: tuple[str, ...] = ()) -> dict[str, str]:
    """Libraries that are installed while their instrumentor, one of stackeye's ``instrumentation``
    extra, is not: ``{library module: instrumentor package}`` (``disabled`` names are left out)."""
    if "*" in disabled:
        return {}
    wanted = extra_packages()
    installed = {ep.name for ep in entry_points(group="opentelemetry_instrumentor")}
    found: dict[str, str] = {}
    for name, module in {**TRIGGERS, "logging": "logging"}.items():
        package = instrumentor_package(name)
        if name in installed or name in disabled or module in found or _normalized(package) not in wanted:
            continue
        if _present(module):
            found[module] = package
    return found


def uninstrumented_hint(disabled: tuple[str, ...] = ()) -> str | None:
    """One sentence naming the installed libraries without an instrumentor and the extra that adds
    them; ``None`` when nothing is missing."""
    missing = uninstrumented(disabled)
    if not missing:
        return None
    libraries = ", ".join(f"{module} ({package})" for module, package in sorted(missing.items()))
    return (f"no instrumentor installed for {libraries}; their calls are not traced. "
            "pip install 'stackeye[instrumentation]' adds them")


def load_when_imported(entry_point, **kwargs) -> str:
    """:func:`load_one` now if the library is imported (or unknown to :data:`TRIGGERS`), else on import."""
    module = TRIGGERS.get(entry_point.name, "")
    if not module or module in sys.modules:
        return load_one(entry_point, **kwargs)
    dist = getattr(entry_point, "dist", None)
    try:
        if dist is not None and get_dist_dependency_conflicts(dist):
            return "missing"
    except Exception:
        return "missing"
    wrapt.register_post_import_hook(lambda _module: load_one(entry_point, **kwargs), module)
    return "deferred"


def uninstrument_all() -> None:
    """Undo :func:`instrument_installed` (tests, or an app that wants to stop tracing)."""
    for name, instrumentor in list(_INSTRUMENTED.items()):
        try:
            instrumentor.uninstrument()
        except Exception:
            pass
        _INSTRUMENTED.pop(name, None)
