"""The agent's configuration: frozen dataclasses declared with :func:`stackeye.core.config.setting`.

One mechanism for every stackeye process (:mod:`stackeye.core.config`): defaults < TOML file <
``STACKEYE_*`` environment < flags; ``stackeye agent print-config`` renders these dataclasses
(help, defaults with units) as TOML that loads back unchanged, and the flags are generated from
them. Errors name the key, flag or variable and the fix (:class:`ConfigError`, exit code 2).

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
import os
import re
from typing import Any, Mapping

from stackeye.core import config as core_config
from stackeye.core.address import same_endpoint
from stackeye.core.config import ConfigError, setting
from stackeye.core.config_sample import render_toml as _render
from stackeye.core.directories import ensure_writable_dir
from stackeye.core.units import CONNECT, DURATION, LISTEN_OR_OFF, SIZE

from .shipper.sender import ChannelTLS

__all__ = ["AgentConfig", "ConfigError", "LogSource", "from_mapping", "load", "render_toml", "require_runnable"]

SEVERITY_WORDS = ("auto", "json", "none")


@dataclasses.dataclass(frozen=True)
class LogSource:
    """One ``[[logs]]`` entry: files to tail."""

    path: str = setting("", "Glob of files to tail, e.g. \"/var/log/app/*.log\". Rotated files are followed by inode.",
                        "GLOB")
    multiline_start: str = setting("", "Regex that starts a new record; lines that do not match are joined to the "
                                       "previous one. Empty: every line is a record.", "REGEX")
    severity: str = setting("auto", "How to find the severity: \"auto\" (a level word near the start of the line), "
                                    "\"json\" (the \"level\"/\"severity\" field of a JSON line), \"none\", or a regex "
                                    "with a (?P<severity>...) group.")
    start_at: str = setting("beginning", "Read new files from the start (\"beginning\") or only what is appended "
                                         "after (\"end\").", choices=("beginning", "end"))

    def validate(self) -> None:
        if not self.path:
            raise ConfigError("path", "a glob of files to tail is required, e.g. '/var/log/app/*.log'")
        for name in ("multiline_start",) + (("severity",) if self.severity not in SEVERITY_WORDS else ()):
            pattern = getattr(self, name)
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ConfigError(name, f"not a valid regular expression ({exc}): {pattern!r}") from None
            if name == "severity" and "severity" not in compiled.groupindex:
                raise ConfigError("severity", "use 'auto', 'json', 'none' or a regex with a (?P<severity>...) group")


def _collector_sections() -> dict[str, tuple[type, str]]:
    from .registry import all_collectors

    return {c.name: (c.config_class, (c.doc or "").strip().splitlines()[0] if c.doc.strip() else "")
            for c in all_collectors()}


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Everything the agent reads; collector-specific sections live in ``collectors``."""

    collector: str = setting("", "HOST:PORT of the stackeye collector's OTLP/gRPC endpoint", unit=CONNECT,
                             required=True, example="10.0.0.5:4317")
    token: str = setting("", "Bearer token sent as gRPC metadata \"authorization: Bearer <token>\"; empty: no token. "
                             "Prefer the STACKEYE_TOKEN environment variable over the file.")
    interval: float = setting(10.0, "How often collectors run.", unit=DURATION, positive=True, minimum=1.0)
    otlp_listen: str = setting("127.0.0.1:4317", "Local OTLP/gRPC relay for apps on this host; off disables it.",
                               unit=LISTEN_OR_OFF)
    state_dir: str = setting("/var/lib/stackeye-agent", "Where the disk buffer and log offsets live.", "DIR")
    tls_ca_file: str = setting("", "PEM file of the CA that signed the collector's certificate (TLS, the certificate "
                                   "verified against it); empty: plaintext gRPC unless tls is on.", "PEM")
    tls: bool = setting(False, "Speak TLS to the collector, verifying its certificate against the system's CAs "
                               "(tls_ca_file or a client certificate turns TLS on by itself).")
    tls_client_cert: str = setting("", "PEM certificate the agent shows the collector (mTLS: a collector started "
                                       "with --client-ca refuses agents without one).", "PEM")
    tls_client_key: str = setting("", "PEM private key of tls_client_cert; empty: the key is in that file.", "PEM")
    buffer_max_bytes: int = setting(256 << 20, "Largest disk buffer while the collector is unreachable; the oldest "
                                               "batches are dropped (and counted) only when it is full.",
                                    unit=SIZE, positive=True)
    request_timeout: float = setting(10.0, "Deadline of one export request to the collector.", unit=DURATION,
                                     positive=True)
    retry_initial: float = setting(0.5, "Retry backoff: the first wait; each wait doubles, with jitter (half fixed, "
                                        "half random).", unit=DURATION, positive=True)
    retry_max: float = setting(30.0, "Retry backoff: the longest wait.", unit=DURATION, positive=True)
    gzip: bool = setting(True, "Compress requests with gzip.")
    heartbeat_interval: float = setting(30.0, "How often the agent sends a heartbeat (and pulls central config when "
                                              "it changed).", unit=DURATION, positive=True)
    agent_protocol: bool = setting(True, "Register with the collector and pull central config (intervals, enabled "
                                         "collectors).")
    resource: Mapping[str, str] = setting({}, "Extra resource attributes added to everything this agent sends, "
                                              "e.g. env = \"prod\".", "KEY=VALUE")
    logs: tuple[LogSource, ...] = setting((), "Files to tail: one [[logs]] table each (each --logs GLOB adds one).",
                                          "GLOB", item_key="path", example={"path": "/var/log/app/*.log"})
    collectors: Mapping[str, Any] = setting({}, "Per-collector sections [collectors.<name>].",
                                            sections=_collector_sections, section_noun="collector",
                                            toggle=("--enable", "--disable"))

    def channel_tls(self) -> ChannelTLS | None:
        """TLS to the collector, or None for plaintext gRPC."""
        if not (self.tls or self.tls_ca_file or self.tls_client_cert):
            return None
        return ChannelTLS(self.tls_ca_file, self.tls_client_cert, self.tls_client_key)

    def collector_config(self, name: str):
        """The typed config of collector ``name`` (its defaults when the section is absent)."""
        from .registry import get

        return self.collectors.get(name) or get(name).config_class()

    def enabled_collectors(self) -> list[str]:
        from .registry import all_collectors

        return [c.name for c in all_collectors() if self.collector_config(c.name).enabled]

    def validate(self) -> None:
        if self.collector and self.otlp_listen and same_endpoint(self.collector, self.otlp_listen):
            raise ConfigError("otlp_listen", f"the relay would listen on the collector's own address {self.collector} "
                                             "and the agent would send to itself; set --otlp-listen to another port "
                                             "(e.g. 127.0.0.1:14317) or 'off'")
        if not self.state_dir:
            raise ConfigError("state_dir", "a directory for the disk buffer and log offsets is required")
        if self.tls_ca_file and not os.path.isfile(self.tls_ca_file):
            raise ConfigError("tls_ca_file", f"no such file: {self.tls_ca_file!r}; give the PEM of the collector's CA")
        if self.tls_client_key and not self.tls_client_cert:
            raise ConfigError("tls_client_key", "a client key without its certificate: add --tls-client-cert CERT.pem "
                                                "(or drop --tls-client-key)")
        for name in ("tls_client_cert", "tls_client_key"):
            path = getattr(self, name)
            if path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
                raise ConfigError(name, f"cannot read {path!r}; give a readable PEM file")
        if self.retry_max < self.retry_initial:
            raise ConfigError("retry_max", f"must be at least retry_initial ({self.retry_initial:g}s)")


def from_mapping(raw: Mapping[str, Any]) -> AgentConfig:
    """Build and validate an :class:`AgentConfig` from a parsed TOML document."""
    return core_config.from_mapping(AgentConfig, raw)


def build_section(cls, raw: Mapping[str, Any], prefix: str):
    """Instantiate config dataclass ``cls`` from a TOML table; errors name ``prefix.key``."""
    return core_config.from_mapping(cls, raw, prefix)


def load(path: str | None = None, overrides: Mapping[str, Any] | None = None) -> AgentConfig:
    """The file (if any), the ``STACKEYE_*`` environment, then ``overrides`` (setting name → raw value as
    on the command line; ``enable``/``disable``: lists of collectors; ``logs``: globs added to the file's)."""
    flags: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in ("enable", "disable"):
            for name in value:
                flags.setdefault("collectors", {}).setdefault(name, {})["enabled"] = key == "enable"
        else:
            flags[key] = value
    return core_config.load(AgentConfig, file=path, flags=flags)


def require_runnable(cfg: AgentConfig) -> None:
    """What running needs beyond a valid config (print-config and install-service do not)."""
    core_config.check_required(cfg)
    ensure_writable_dir(cfg.state_dir, "state_dir", "--state-dir ~/.stackeye-agent")


def render_toml(cfg: AgentConfig | None = None) -> str:
    """Every option with its value (defaults when ``cfg`` is None), generated from the dataclasses."""
    return _render(cfg or AgentConfig(), "stackeye agent configuration (stackeye agent --config FILE), "
                                         "generated by `stackeye agent print-config`.")


def _field_comments(cls) -> dict[str, list[str]]:
    """The doc of each field of a config dataclass (what print-config writes above it)."""
    return {s.name: [s.help] for s in core_config.settings(cls)}
