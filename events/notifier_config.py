"""One ``[[notifier]]`` table of a triggers file: where the rules' transitions are sent.

``kind``: ``alertmanager`` (``url`` = its base URL; alerts go to ``POST {url}/api/v2/alerts``),
``webhook`` (``url`` gets a JSON POST per event, signed with ``secret`` in the
``X-Stackeye-Signature: sha256=<hex HMAC-SHA256 of the body>`` header), or ``log`` (one log line
per event). ``severities`` limits a notifier to some severities (default: all).
"""
from __future__ import annotations

import dataclasses
import urllib.parse

from stackeye.core.config import ConfigError, setting
from stackeye.core.units import DURATION

KINDS = ("alertmanager", "webhook", "log")


@dataclasses.dataclass(frozen=True)
class NotifierConfig:
    name: str = setting("", "the notifier's name in the delivery records (default: its kind)")
    kind: str = setting("log", "alertmanager, webhook or log", choices=KINDS)
    url: str = setting("", "alertmanager: its base URL (http://alertmanager:9093); webhook: the URL to POST to")
    secret: str = setting("", "webhook: the HMAC-SHA256 key of the X-Stackeye-Signature header")
    timeout: float = setting(10.0, "the time one delivery attempt may take", unit=DURATION, positive=True)
    retry_for: float = setting(30.0, "how long one round retries a failing delivery before leaving it in the "
                                     "outbox for the next round", unit=DURATION, minimum=0.0)
    severities: tuple[str, ...] = setting((), "only events of these severities (default: all)")

    @property
    def id(self) -> str:
        return self.name or self.kind

    def validate(self) -> None:
        if self.kind in ("alertmanager", "webhook"):
            parts = urllib.parse.urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                example = "http://127.0.0.1:9093" if self.kind == "alertmanager" else "https://hooks.example.com/x"
                raise ConfigError("url", f"a {self.kind} notifier needs an http(s) URL, e.g. url = \"{example}\", "
                                         f"got {self.url!r}")
