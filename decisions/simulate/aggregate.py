"""The simulator's own aggregates: the rows a policy reads, computed from the last ticks directly.

The same definitions as the pipeline's inputs (:mod:`stackeye.decisions.inputs`) over the same
window: current replicas are the instances that served requests in the window, CPU % is 100 × the
mean of their per-tick utilization gauges, latency percentiles are over every request of the window.
Used when a scenario is too long to push through chDB (the 24 h diurnal in the bench); the bench
checks on a shorter scenario that both paths give the same decisions.
"""
from __future__ import annotations

import collections
import datetime as dt

import numpy as np

from stackeye.decisions.model import InstanceLoad, ServerLoad, ServiceLoad
from stackeye.decisions.simulate.fleet import OK, Tick

HOST = "sim-host"


class Window:
    """The ticks of the last ``seconds`` (as of the end of the latest tick)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ticks: collections.deque[Tick] = collections.deque()

    def add(self, tick: Tick) -> None:
        self.ticks.append(tick)
        end = tick.t0 + tick.dt
        while self.ticks and self.ticks[0].t0 < end - self.seconds - 1e-9:
            self.ticks.popleft()

    def _cat(self, name: str) -> np.ndarray:
        return np.concatenate([getattr(t, name) for t in self.ticks]) if self.ticks else np.zeros(0)

    def _instances(self) -> np.ndarray:
        return np.concatenate([np.asarray(t.instances, dtype=object)[t.replica] for t in self.ticks]) \
            if self.ticks else np.zeros(0, dtype=object)

    def service_load(self, service: str, at: dt.datetime) -> ServiceLoad:
        lat, status, inst = self._cat("latency_ms"), self._cat("status"), self._instances()
        cpu: dict[str, list[float]] = collections.defaultdict(list)
        for t in self.ticks:
            for name, ok, u in zip(t.instances, t.live, t.cpu):
                if ok:
                    cpu[name].append(float(u))
        instances = []
        for name in sorted(set(inst.tolist())):
            mask = inst == name
            instances.append(InstanceLoad(name, HOST, int(mask.sum()), int(np.count_nonzero(status[mask] != OK)),
                                          100 * float(np.mean(cpu[name])) if cpu.get(name) else None))
        has = lat.size > 0
        return ServiceLoad(service, at, self.seconds, tuple(instances), int(lat.size),
                           int(np.count_nonzero(status != OK)),
                           float(lat.mean()) if has else None,
                           float(np.percentile(lat, 95)) if has else None,
                           float(np.percentile(lat, 99)) if has else None)

    def server_loads(self, upstream: str, slow_call_ms: float) -> tuple[ServerLoad, ...]:
        lat, status, inst = self._cat("latency_ms"), self._cat("status"), self._instances()
        time, proxy = self._cat("time"), self._cat("proxy")
        rows = []
        for name in sorted(set(inst.tolist())):
            mask = inst == name
            st = status[mask][np.argsort(time[mask], kind="stable")]
            failed = st >= 500
            trailing = int(np.argmax(~failed[::-1])) if not failed.all() else int(failed.size)
            rows.append(ServerLoad(upstream, name, "instances", int(mask.sum()), int(failed.sum()), int(failed.sum()),
                                   int(np.count_nonzero(lat[mask] > slow_call_ms)), float(lat[mask].mean()),
                                   float(np.percentile(lat[mask], 95)), trailing,
                                   int(np.unique(proxy[mask]).size), HOST))
        return tuple(rows)
