"""nginx connections and requests from the stub_status page (nginx.*)."""
from __future__ import annotations

import dataclasses
import re
import time
import urllib.request

from stackeye.core.config import setting
from stackeye.core.units import DURATION

from ..model import Point
from ..rates import Counters, counter_points
from ..registry import register


@dataclasses.dataclass(frozen=True)
class NginxConfig:
    enabled: bool = setting(False, "Scrape nginx's stub_status page (needs `stub_status;` in a location block).")
    url: str = setting("http://127.0.0.1/nginx_status", "URL of the stub_status page.")
    timeout: float = setting(5.0, "Give up on one scrape after this long.", unit=DURATION, positive=True)


_STUB = re.compile(
    r"Active connections:\s*(?P<active>\d+)\s+server accepts handled requests\s+"
    r"(?P<accepted>\d+)\s+(?P<handled>\d+)\s+(?P<requests>\d+)\s+"
    r"Reading:\s*(?P<reading>\d+)\s+Writing:\s*(?P<writing>\d+)\s+Waiting:\s*(?P<waiting>\d+)", re.S)


def parse_stub_status(text: str) -> dict[str, int]:
    """The stub_status page -> {active, accepted, handled, requests, reading, writing, waiting}."""
    m = _STUB.search(text)
    if not m:
        raise ValueError(f"not an nginx stub_status page: {text[:80]!r}")
    return {k: int(v) for k, v in m.groupdict().items()}


def stub_status_points(s: dict[str, int], counters: Counters, now: float) -> list[Point]:
    points = [Point("nginx.connections_current", float(s[k]), {"state": k}, "gauge", "{connection}")
              for k in ("active", "reading", "writing", "waiting")]
    points += counter_points(counters, "nginx.connections_accepted", s["accepted"], now, "{connection}", {})
    points += counter_points(counters, "nginx.connections_handled", s["handled"], now, "{connection}", {})
    points += counter_points(counters, "nginx.requests", s["requests"], now, "{request}", {}, "nginx.requests.rate")
    counters.end_cycle(now)
    return points


def fetch_stub_status(url: str, timeout: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read(65536).decode("utf-8", "replace")


@register("nginx", default_enabled=False, config=NginxConfig, middleware=True)
class NginxCollector:
    """nginx stub_status: active/reading/writing/waiting connections, accepted, handled, requests."""

    def __init__(self, config: NginxConfig):
        self.config = config
        self.target = config.url
        self.counters = Counters()

    def collect(self) -> list[Point]:
        status = parse_stub_status(fetch_stub_status(self.config.url, self.config.timeout))
        return stub_status_points(status, self.counters, time.time())
