"""The closed loop through the real pipeline: ticks → OTLP/HTTP → spool → writer → storage → the
Evaluator as of the simulated now → the next tick's replicas or weights.

:class:`PipelineSink` posts each tick's spans and CPU gauges to a stackeye's OTLP/HTTP receiver and,
before a decision, waits until storage holds every row sent (the writer is asynchronous; deciding
earlier would read a partial window). :class:`PolicyThroughPipeline` is the controller: its
``evaluate(at)`` is the Evaluator's ``autoscale``/``routing`` for the scenario's service.
"""
from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from typing import Callable

from stackeye.core.errors import Fatal
from stackeye.core.retry import Backoff, retry, retry_on
from stackeye.decisions.simulate.controllers import INTERVALS, Control, control_from
from stackeye.decisions.simulate.fleet import Tick
from stackeye.decisions.simulate.otlp import CPU_GAUGE, OtlpEncoder
from stackeye.decisions.simulate.scenarios import Scenario

MAX_SPANS_PER_REQUEST = 2000
FLUSH_DEADLINE_S = 120.0


class NotYetWritten(Exception):
    pass


class PipelineSink:
    def __init__(self, otlp_url: str, storage, service: str, epoch: dt.datetime):
        self.otlp_url = otlp_url.rstrip("/")
        self.storage, self.service = storage, service
        self.encoder = OtlpEncoder(service, epoch)
        self._base = self._counts()
        self.sent = [0, 0]  # spans, gauge points

    def _post(self, path: str, body: bytes) -> None:
        def once():
            req = urllib.request.Request(self.otlp_url + path, data=body, method="POST",
                                         headers={"Content-Type": "application/x-protobuf"})
            with urllib.request.urlopen(req, timeout=60) as resp:
                resp.read()

        def transient(exc):
            return not isinstance(exc, urllib.error.HTTPError) or exc.code in (429, 502, 503, 504)
        try:
            retry(once, is_retryable=retry_on(OSError, when=transient), policy=Backoff(0.1, 2.0), deadline_s=60)
        except urllib.error.HTTPError as exc:
            raise Fatal(f"the OTLP receiver at {self.otlp_url} refused the simulated {path[4:]}: "
                        f"{exc.code} {exc.read()[:300]!r}") from None

    def send(self, tick: Tick) -> None:
        spans = self.encoder.spans(tick)
        while spans.resource_spans:
            part, n = type(spans)(), 0
            while spans.resource_spans and n < MAX_SPANS_PER_REQUEST:
                rs = spans.resource_spans.pop(0)
                n += len(rs.scope_spans[0].spans)
                part.resource_spans.append(rs)
            self._post("/v1/traces", part.SerializeToString())
            self.sent[0] += n
        gauges = self.encoder.gauges(tick)
        if gauges.resource_metrics:
            self._post("/v1/metrics", gauges.SerializeToString())
            self.sent[1] += len(gauges.resource_metrics)

    def _counts(self) -> tuple[int, int]:
        svc = self.service.replace("'", "''")
        spans = self.storage.query(f"SELECT count() FROM otel_traces WHERE ServiceName = '{svc}'").rows[0][0]
        gauges = self.storage.query(f"SELECT count() FROM otel_metrics_gauge WHERE ServiceName = '{svc}' "
                                    f"AND MetricName = '{CPU_GAUGE}'").rows[0][0]
        return int(spans), int(gauges)

    def flush(self) -> None:
        """Wait until storage holds every span and gauge point sent so far."""
        want = (self._base[0] + self.sent[0], self._base[1] + self.sent[1])

        def written():
            got = self._counts()
            if got[0] < want[0] or got[1] < want[1]:
                raise NotYetWritten(f"storage has {got[0] - self._base[0]} of {self.sent[0]} spans and "
                                    f"{got[1] - self._base[1]} of {self.sent[1]} CPU points")
        try:
            retry(written, is_retryable=retry_on(NotYetWritten), policy=Backoff(0.02, 0.5),
                  deadline_s=FLUSH_DEADLINE_S)
        except NotYetWritten as exc:
            raise Fatal(f"the pipeline did not write the simulated traffic within {FLUSH_DEADLINE_S:g} s: {exc}; "
                        "check the writer's log") from None


class PolicyThroughPipeline:
    """stackeye's policy, evaluated by the real Evaluator over what the pipeline stored."""

    def __init__(self, scenario: Scenario, sink: PipelineSink, evaluate: Callable[[dt.datetime], list],
                 epoch: dt.datetime, interval_s: float | None = None):
        self.scenario, self.sink, self.evaluate, self.epoch = scenario, sink, evaluate, epoch
        self.kind = scenario.kind
        self.name = f"stackeye-{self.kind} (pipeline)"
        self.interval_s = interval_s or INTERVALS[self.kind]

    def observe(self, tick: Tick) -> None:
        self.sink.send(tick)

    def decide(self, now: float) -> Control:
        self.sink.flush()
        return control_from(self.kind, list(self.evaluate(self.epoch + dt.timedelta(seconds=now))))
