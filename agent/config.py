"""The agent's configuration: frozen dataclasses whose field comments are the documentation.

Every option has one source of truth here. ``stackeye agent print-config`` renders these
dataclasses (defaults and the comment above each field) as TOML, the config file uses the same
keys, and command-line flags override the file. Errors name the key and the fix
(:class:`ConfigError`, exit code 2).

Example ``/etc/stackeye/agent.toml``::

    collector = "10.0.0.5:4317"
    token = "s3cret"
    interval = "10s"

    [[logs]]
    path = "/var/log/app/*.log"
    multiline_start = '^\\d{4}-\\d{2}-\\d{2}'

    [collectors.redis]
    enabled = true
    url = "redis://127.0.0.1:6379"
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Defaults, in one place.
DEFAULT_COLLECTOR = ""  # required to run: there is no sensible default for a fleet
DEFAULT_INTERVAL = 10.0
DEFAULT_OTLP_LISTEN = "127.0.0.1:4317"
DEFAULT_STATE_DIR = "/var/lib/stackeye-agent"
DEFAULT_BUFFER_MAX_BYTES = 256 * 1024 * 1024


class ConfigError(ValueError):
    """A bad option: ``key`` names it, the message says what is wrong and how to fix it."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}


def parse_duration(value: Any, key: str) -> float:
    """``"10s"``, ``"500ms"``, ``"2m"``, ``"1h"`` or a number of seconds -> seconds (> 0)."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a duration like '10s', got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(key, f"expected a duration like '10s', '500ms' or '2m', got {value!r}")
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    if seconds <= 0:
        raise ConfigError(key, f"must be greater than zero, got {value!r}")
    return seconds


def parse_size(value: Any, key: str) -> int:
    """``"256MiB"``, ``"1GB"`` or a number of bytes -> bytes (> 0)."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        m = _SIZE.match(str(value))
        if not m:
            raise ConfigError(key, f"expected a size like '256MiB', got {value!r}")
        n = int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    if n <= 0:
        raise ConfigError(key, f"must be greater than zero, got {value!r}")
    return n


def parse_hostport(value: Any, key: str, allow_off: bool = False) -> str:
    """``HOST:PORT`` (``[v6]:PORT`` too); ``"off"`` or ``""`` when ``allow_off``."""
    text = str(value).strip()
    if allow_off and text.lower() in ("", "off", "none", "false"):
        return ""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not (0 if allow_off else 1) <= int(port) < 65536:
        hint = " (or 'off' to disable)" if allow_off else ""
        raise ConfigError(key, f"expected HOST:PORT like 127.0.0.1:4317{hint}, got {value!r}")
    return text


@dataclasses.dataclass(frozen=True)
class LogSource:
    """One ``[[logs]]`` entry: files to tail."""

    # Glob of files to tail, e.g. "/var/log/app/*.log". Rotated files are followed by inode.
    path: str = ""
    # Regex that starts a new record; lines that do not match are joined to the previous one.
    # Empty: every line is a record.
    multiline_start: str = ""
    # How to find the severity: "auto" (a level word near the start of the line), "json" (the
    # "level"/"severity" field of a JSON line), "none", or a regex with a (?P<severity>...) group.
    severity: str = "auto"
    # Read new files from the start ("beginning") or only what is appended after ("end").
    start_at: str = "beginning"

    def validate(self, key: str) -> None:
        if not self.path:
            raise ConfigError(f"{key}.path", "a glob of files to tail is required, e.g. '/var/log/app/*.log'")
        for name in ("multiline_start",) + (("severity",) if self.severity not in ("auto", "json", "none") else ()):
            pattern = getattr(self, name)
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{key}.{name}", f"not a valid regular expression ({exc}): {pattern!r}") from None
            if name == "severity" and "severity" not in compiled.groupindex:
                raise ConfigError(f"{key}.severity", "use 'auto', 'json', 'none' or a regex with a (?P<severity>...) group")
        if self.start_at not in ("beginning", "end"):
            raise ConfigError(f"{key}.start_at", f"use 'beginning' or 'end', got {self.start_at!r}")


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Everything the agent reads; collector-specific sections live in ``collectors``."""

    # HOST:PORT of the stackeye collector's OTLP/gRPC endpoint (flag --collector); required.
    collector: str = DEFAULT_COLLECTOR
    # Bearer token sent as gRPC metadata "authorization: Bearer <token>" (flag --token).
    # Empty: no token. Prefer the STACKEYE_TOKEN environment variable over the file.
    token: str = ""
    # How often collectors run (flag --interval), e.g. "10s".
    interval: float = DEFAULT_INTERVAL
    # Local OTLP/gRPC relay for apps on this host (flag --otlp-listen); "off" disables it.
    otlp_listen: str = DEFAULT_OTLP_LISTEN
    # Where the disk buffer and log offsets live (flag --state-dir).
    state_dir: str = DEFAULT_STATE_DIR
    # PEM file of the CA that signed the collector's certificate; empty: plaintext gRPC.
    tls_ca_file: str = ""
    # Largest disk buffer while the collector is unreachable; the oldest batches are dropped
    # (and counted) only when it is full, e.g. "256MiB".
    buffer_max_bytes: int = DEFAULT_BUFFER_MAX_BYTES
    # Deadline of one export request to the collector.
    request_timeout: float = 10.0
    # Retry backoff: first wait and cap; each wait doubles, with jitter (half fixed, half random).
    retry_initial: float = 0.5
    retry_max: float = 30.0
    # Compress requests with gzip.
    gzip: bool = True
    # How often the agent sends a heartbeat (and pulls central config when it changed).
    heartbeat_interval: float = 30.0
    # Register with the collector and pull central config (intervals, enabled collectors).
    agent_protocol: bool = True
    # Extra resource attributes added to everything this agent sends, e.g. {env = "prod"}.
    resource: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Files to tail, one [[logs]] table each (flag --logs GLOB, repeatable).
    logs: tuple[LogSource, ...] = ()
    # Per-collector sections [collectors.<name>]; see print-config for every collector's keys.
    collectors: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def collector_config(self, name: str):
        """The typed config of collector ``name`` (its defaults when the section is absent)."""
        from .registry import get

        return self.collectors.get(name) or get(name).config_class()

    def enabled_collectors(self) -> list[str]:
        from .registry import all_collectors

        return [c.name for c in all_collectors() if self.collector_config(c.name).enabled]


_TOP_KEYS = {f.name for f in dataclasses.fields(AgentConfig)}


_DURATION_FIELDS = {"interval", "request_timeout", "retry_initial", "retry_max", "heartbeat_interval", "timeout"}


def build_section(cls, raw: Mapping[str, Any], prefix: str):
    """Instantiate dataclass ``cls`` from a TOML table, checking every key and type."""
    if not isinstance(raw, Mapping):
        raise ConfigError(prefix, f"expected a table of keys, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in raw.items():
        key = f"{prefix}.{k}" if prefix else k
        if k not in fields:
            close = difflib.get_close_matches(k.replace("-", "_"), list(fields), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(fields))}"
            raise ConfigError(key, f"unknown key{hint}")
        kwargs[k] = _check_type(fields[k], key, v)
    try:
        obj = cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(prefix or "config", str(exc)) from None
    validate = getattr(obj, "validate", None)
    if validate:
        validate(prefix)
    return obj


def _check_type(field: dataclasses.Field, key: str, value: Any):
    name = field.name
    if name in _DURATION_FIELDS:
        return parse_duration(value, key)
    if name.endswith("_bytes"):
        return parse_size(value, key)
    default = field.default if field.default is not dataclasses.MISSING else None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {value!r}")
    elif isinstance(default, (int, float)) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"expected a number, got {value!r}")
        if value < 0:
            raise ConfigError(key, f"must not be negative, got {value!r}")
        return type(default)(value) if isinstance(default, float) else value
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {value!r}")
    elif isinstance(default, tuple):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) for x in value):
            raise ConfigError(key, f"expected a list of strings, got {value!r}")
        return tuple(value)
    return value


def from_mapping(raw: Mapping[str, Any]) -> AgentConfig:
    """Build and validate an :class:`AgentConfig` from a parsed TOML document."""
    from .registry import all_collectors, get

    raw = dict(raw)
    for k in raw:
        if k not in _TOP_KEYS:
            close = difflib.get_close_matches(k.replace("-", "_"), sorted(_TOP_KEYS), n=1, cutoff=0.75)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(_TOP_KEYS))}"
            raise ConfigError(k, f"unknown key; {hint}")
    logs_raw = raw.pop("logs", [])
    if isinstance(logs_raw, str):
        logs_raw = [logs_raw]
    if not isinstance(logs_raw, list):
        raise ConfigError("logs", "expected [[logs]] tables (or a list of globs)")
    logs = []
    for i, entry in enumerate(logs_raw):
        if isinstance(entry, str):
            entry = {"path": entry}
        logs.append(build_section(LogSource, entry, f"logs[{i}]"))
    collectors_raw = raw.pop("collectors", {})
    if not isinstance(collectors_raw, Mapping):
        raise ConfigError("collectors", "expected [collectors.<name>] tables")
    known = {c.name for c in all_collectors()}
    collectors = {}
    for name, section in collectors_raw.items():
        if name not in known:
            raise ConfigError(f"collectors.{name}", f"no such collector; known: {', '.join(sorted(known))}")
        collectors[name] = build_section(get(name).config_class, section, f"collectors.{name}")
    resource = raw.pop("resource", {})
    if not isinstance(resource, Mapping) or not all(isinstance(v, str) for v in resource.values()):
        raise ConfigError("resource", "expected a table of string values, e.g. resource = {env = \"prod\"}")
    if isinstance(raw.get("otlp_listen"), str):
        raw["otlp_listen"] = parse_hostport(raw["otlp_listen"], "otlp_listen", allow_off=True)
    base = build_section(AgentConfig, raw, "")
    cfg = dataclasses.replace(base, logs=tuple(logs), collectors=collectors, resource=dict(resource))
    validate(cfg)
    return cfg


def validate(cfg: AgentConfig) -> None:
    if cfg.collector:
        parse_hostport(cfg.collector, "collector")
        if cfg.otlp_listen and _same_endpoint(cfg.collector, cfg.otlp_listen):
            raise ConfigError("otlp_listen", f"the relay would listen on the collector's own address {cfg.collector} "
                                             "and the agent would send to itself; set --otlp-listen to another port "
                                             "(e.g. 127.0.0.1:14317) or 'off'")
    parse_hostport(cfg.otlp_listen, "otlp_listen", allow_off=True)
    if not cfg.state_dir:
        raise ConfigError("state_dir", "a directory for the disk buffer and log offsets is required")
    if cfg.tls_ca_file and not os.path.isfile(cfg.tls_ca_file):
        raise ConfigError("tls_ca_file", f"no such file: {cfg.tls_ca_file!r}; give the PEM of the collector's CA")
    if cfg.retry_max < cfg.retry_initial:
        raise ConfigError("retry_max", f"must be at least retry_initial ({cfg.retry_initial}s)")
    if cfg.interval < 1:
        raise ConfigError("interval", f"must be at least 1s, got {cfg.interval}s")
    for i, src in enumerate(cfg.logs):
        src.validate(f"logs[{i}]")


def _same_endpoint(a: str, b: str) -> bool:
    loopback = {"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0", "[::]", ""}
    ha, _, pa = a.rpartition(":")
    hb, _, pb = b.rpartition(":")
    return pa == pb and (ha == hb or (ha in loopback and hb in loopback))


def require_runnable(cfg: AgentConfig) -> None:
    """What running needs beyond a valid config (print-config and install-service do not)."""
    if not cfg.collector:
        raise ConfigError("collector", "required: the HOST:PORT of your stackeye collector, "
                                       "e.g. --collector 10.0.0.5:4317 or collector = \"10.0.0.5:4317\" in the file")


    try:
        os.makedirs(cfg.state_dir, exist_ok=True)
        probe = os.path.join(cfg.state_dir, ".write-test")
        with open(probe, "w"):
            pass
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError("state_dir", f"cannot write to {cfg.state_dir!r} ({exc.strerror}); give a directory the "
                                       "agent's user owns, e.g. --state-dir ~/.stackeye-agent") from None


def load_file(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError("config", f"no such file: {path!r}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None


def load(path: str | None = None, overrides: Mapping[str, Any] | None = None) -> AgentConfig:
    """The file (if any) with command-line ``overrides`` (flag name -> raw value) on top."""
    raw = load_file(path) if path else {}
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if k in ("enable", "disable"):
            sections = raw.setdefault("collectors", {})
            if not isinstance(sections, dict):
                raise ConfigError("collectors", "expected [collectors.<name>] tables")
            for name in v:
                sections.setdefault(name, {})
                if not isinstance(sections[name], dict):
                    raise ConfigError(f"collectors.{name}", "expected a table")
                sections[name] = {**sections[name], "enabled": k == "enable"}
        elif k == "logs":
            raw["logs"] = list(raw.get("logs", [])) + list(v)
        else:
            raw[k] = v
    if not raw.get("token") and os.environ.get("STACKEYE_TOKEN"):
        raw["token"] = os.environ["STACKEYE_TOKEN"]
    return from_mapping(raw)


# -- print-config ------------------------------------------------------------------------------

def _field_comments(cls) -> dict[str, list[str]]:
    """The ``#`` comment lines directly above each field in the class source."""
    import inspect

    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    comments: dict[str, list[str]] = {}
    pending: list[str] = []
    for line in lines:
        s = line.strip()
        if s.startswith("#"):
            pending.append(s[1:].strip())
            continue
        m = re.match(r"^(\w+)\s*:", s)
        if m:
            comments[m.group(1)] = pending
        pending = []
    return comments


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f'"{v:g}s"'
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return "'" + v + "'" if ("\\" in v and "'" not in v) else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def _render_fields(obj, skip=()) -> list[str]:
    out = []
    comments = _field_comments(type(obj))
    for f in dataclasses.fields(obj):
        if f.name in skip:
            continue
        for c in comments.get(f.name, []):
            out.append(f"# {c}")
        out.append(f"{f.name} = {_toml_value(getattr(obj, f.name))}")
    return out


def render_toml(cfg: AgentConfig | None = None) -> str:
    """Every option with its value (defaults when ``cfg`` is None), generated from the dataclasses."""
    from .registry import all_collectors

    cfg = cfg or AgentConfig()
    out = ["# stackeye agent configuration (stackeye agent --config FILE).",
           "# Generated by `stackeye agent print-config` from the config dataclasses.", ""]
    out += _render_fields(cfg, skip=("logs", "collectors", "resource"))
    out += ["", "# Extra resource attributes added to everything this agent sends.", "[resource]"]
    out += [f"{k} = {_toml_value(v)}" for k, v in cfg.resource.items()]
    out += ["", "# Files to tail: one [[logs]] table per glob (flag --logs GLOB)."]
    sources = cfg.logs or (LogSource(path="/var/log/example/*.log"),)
    for src in sources:
        body = _render_fields(src)
        if not cfg.logs:
            body = [line if line.startswith("#") else "# " + line for line in body]
            out += ["# [[logs]]"] + body
        else:
            out += ["[[logs]]"] + body
    for c in all_collectors():
        section = cfg.collector_config(c.name)
        doc = (c.doc or "").strip().splitlines()
        out += ["", f"# {doc[0]}" if doc else "", f"[collectors.{c.name}]"]
        out += _render_fields(section)
    return "\n".join(out) + "\n"
