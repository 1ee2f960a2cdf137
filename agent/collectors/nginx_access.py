"""nginx's access log → per-upstream requests, statuses and latencies (gateway.*).

nginx writes the log in a named ``log_format``; the default one, ``stackeye``, is::

    log_format stackeye '$time_iso8601 $status $request_time $request_method $proxy_host '
                        '"$upstream_addr" "$upstream_status" "$upstream_response_time" $host';
    access_log /var/log/nginx/stackeye.log stackeye;

The collector's ``log_format`` setting is the same string (any format works that carries the
variables in :data:`REQUIRED`, with the multi-value ones quoted): it is compiled to a regex, so the
agent reads exactly what nginx was told to write. nginx's multi-value upstream variables hold one
entry per attempt: ``a:80, b:80`` for a retry within one upstream group, ``a:80 : b:80`` when an
internal redirect went to another group; each attempt counts for its own server (all of them under
``$proxy_host``, the only group name nginx logs). ``-`` means "none": no upstream, no status, or no
time measured. When no server of a group was live nginx writes the group's name as the address:
the client's 502 counts for the gateway, no server is charged.
"""
from __future__ import annotations

import dataclasses
import re

from stackeye.core.config import ConfigError, setting
from stackeye.core.units import DURATION

from ..access_log import AccessLogReader, AccessRecord, Attempt
from ..registry import register

FORMAT_NAME = "stackeye"
DEFAULT_FORMAT = ('$time_iso8601 $status $request_time $request_method $proxy_host '
                  '"$upstream_addr" "$upstream_status" "$upstream_response_time" $host')
REQUIRED = ("status", "request_time", "proxy_host", "upstream_addr", "upstream_status", "upstream_response_time")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def nginx_directive(fmt: str = DEFAULT_FORMAT) -> str:
    """The ``log_format`` line to paste into nginx's ``http`` block."""
    return f"log_format {FORMAT_NAME} '{fmt}';"


@dataclasses.dataclass(frozen=True)
class NginxAccessConfig:
    enabled: bool = setting(False, "Count nginx's access log per upstream server (status, latency, retries).")
    path: str = setting("/var/log/nginx/stackeye.log", "Glob of the access log(s) nginx writes with "
                        "'access_log /var/log/nginx/stackeye.log stackeye;' (log_format stackeye: below).", "GLOB")
    log_format: str = setting(DEFAULT_FORMAT, "The format nginx writes: paste it into nginx's http block as "
                              "log_format stackeye '<this string>'; (docs/agent.md). Any format with $" +
                              ", $".join(REQUIRED) + " works, the upstream ones in double quotes.")
    name: str = setting("nginx", "The gateway's name: resource service.name of its metrics and its row in the "
                                 "gateway view.")
    start_at: str = setting("end", "Read the files from their start (\"beginning\") or only the lines written "
                                   "after the agent started (\"end\").", choices=("beginning", "end"))
    timeout: float = setting(5.0, "Give up on one pass over the log after this long.", unit=DURATION, positive=True)

    def validate(self) -> None:
        compile_log_format(self.log_format)
        if not self.name:
            raise ConfigError("name", "the gateway needs a name, e.g. 'nginx' or 'edge-nginx'")


def compile_log_format(fmt: str) -> re.Pattern:
    """A regex with one named group per variable of an nginx ``log_format`` string. A variable
    matches up to the character that follows it in the format (a space, a quote, a bracket)."""
    parts, names, pos = ["^"], [], 0
    for m in _VARIABLE.finditer(fmt):
        literal = fmt[pos:m.start()]
        parts.append(re.escape(literal))
        name = m.group(1) or m.group(2)
        following = fmt[m.end():m.end() + 1]
        body = f"[^{re.escape(following)}]*" if following else ".*"
        parts.append(f"(?P<{name}>{body})" if name not in names else f"(?:{body})")
        names.append(name)
        pos = m.end()
    parts.append(re.escape(fmt[pos:]) + "$")
    missing = [v for v in REQUIRED if v not in names]
    if missing:
        raise ConfigError("log_format", "the format lacks $" + ", $".join(missing) +
                          f"; use the documented one: {nginx_directive()}")
    return re.compile("".join(parts))


def _seconds(text: str) -> float | None:
    text = text.strip()
    return None if text in ("", "-") else float(text)


def _status(text: str) -> int | None:
    text = text.strip()
    return None if text in ("", "-") else int(text)


def _entries(value: str) -> list[str]:
    """nginx's multi-value upstream variable → one entry per attempt (", " within a group, " : "
    between groups of an internal redirect)."""
    if value.strip() in ("", "-"):
        return []
    return [e.strip() for group in value.split(" : ") for e in group.split(",")]


def parse_fields(fields: dict[str, str]) -> AccessRecord:
    """The variables of one line (``$name`` → text) → the request and its upstream attempts."""
    status = _status(fields["status"])
    if status is None:
        raise ValueError(f"$status is {fields['status']!r}")
    upstream = fields["proxy_host"].strip()
    upstream = upstream if upstream not in ("", "-") else "-"
    addrs = _entries(fields["upstream_addr"])
    statuses = _entries(fields["upstream_status"])
    times = _entries(fields["upstream_response_time"])
    attempts = []
    for i, addr in enumerate(addrs):
        if addr == "-" or (addr == upstream and ":" not in addr):
            continue  # no upstream; or nginx wrote the group's name: no server of it was live
        attempts.append(Attempt(upstream, addr, _status(statuses[i]) if i < len(statuses) else None,
                                _seconds(times[i]) if i < len(times) else None))
    return AccessRecord(status, _seconds(fields["request_time"]), tuple(attempts))


def parse_line(line: str, pattern: re.Pattern) -> AccessRecord:
    """One access-log line in the format ``pattern`` was compiled from (ValueError otherwise)."""
    m = pattern.match(line)
    if not m:
        raise ValueError(f"not in the configured log_format: {line[:120]!r}")
    return parse_fields(m.groupdict())


@register("nginx_access", default_enabled=False, config=NginxAccessConfig)
class NginxAccessCollector:
    """nginx access log (log_format stackeye): requests, 5xx and latency per upstream server."""

    def __init__(self, config: NginxAccessConfig):
        pattern = compile_log_format(config.log_format)
        self.reader = AccessLogReader("nginx", config.name, config.path, config.start_at,
                                      lambda line: parse_line(line, pattern),
                                      f"nginx must write it with: {nginx_directive(config.log_format)}")
        self.target = config.path

    def collect(self):
        return self.reader.collect()

    def close(self) -> None:
        self.reader.close()
