"""What stackeye's policies are measured against, run in the same simulator on the same traffic.

- :class:`HpaCpu` — Kubernetes' HorizontalPodAutoscaler on CPU alone: every 15 s,
  ``desired = ceil(ready × mean CPU / target)`` (target 60 %, each pod's CPU as the metrics pipeline
  sees it: its mean over the last 30 s); no change within the 0.1 tolerance; pods still starting
  count as 0 % when scaling up (and the scale-up is dropped if that brings the ratio within
  tolerance); stabilization 0 s up and 300 s down (the highest recommendation of the window); the
  default step policies (up: the larger of +4 pods and +100 % per 15 s; down: −100 % per 15 s);
  min/max replicas.
- :class:`EnvoyOutlier` — Envoy's outlier detection with its defaults, run separately in each
  proxy on only the requests that proxy sent: consecutive 5xx ≥ 5 ejects at once; every 10 s
  interval, hosts with ≥ 100 requests in it are success-rate checked when at least 5 hosts
  qualify (below mean − 1.9 σ: ejected); ejection lasts 30 s × times ejected (capped at 300 s), the
  multiplier falling by one per interval the host stays healthy; at most 10 % of hosts ejected but
  at least one; failure-percentage detection is off by default (enforcing 0 %), as here.
"""
from __future__ import annotations

import math

import numpy as np

from stackeye.decisions.simulate.controllers import Control
from stackeye.decisions.simulate.fleet import Tick
from stackeye.decisions.simulate.scenarios import Scenario


class HpaCpu:
    name = "hpa-cpu"
    interval_s = 15.0

    def __init__(self, scenario: Scenario, target_pct: float = 60.0, tolerance: float = 0.1,
                 down_window_s: float = 300.0, up_window_s: float = 0.0, metric_window_s: float = 30.0):
        self.scenario = scenario
        self.target = target_pct / 100
        self.tolerance, self.down_window_s, self.up_window_s = tolerance, down_window_s, up_window_s
        self.metric_window_s = metric_window_s
        self._cpu: list[tuple[float, dict[str, float]]] = []  # (tick end, {live instance: utilization})
        self._starting = 0
        self._provisioned = scenario.replicas
        self._recs: list[tuple[float, int]] = []

    def observe(self, tick: Tick) -> None:
        end = tick.t0 + tick.dt
        self._cpu.append((end, {i: float(u) for i, ok, u in zip(tick.instances, tick.live, tick.cpu) if ok}))
        self._cpu = [c for c in self._cpu if c[0] > end - self.metric_window_s - 1e-9]
        self._starting = int(np.count_nonzero(~tick.live))
        self._provisioned = len(tick.instances)

    def recommend(self, current: int, pod_cpu: dict[str, float], starting: int = 0) -> int:
        """HPA's replica calculation for one sync (before stabilization and step limits)."""
        if not pod_cpu:
            return current
        ratio = float(np.mean(list(pod_cpu.values()))) / self.target
        if abs(ratio - 1) <= self.tolerance:
            return current
        ready = len(pod_cpu)
        if ratio > 1 and starting:
            ratio = sum(pod_cpu.values()) / (ready + starting) / self.target  # unready pods count as 0 %
            if ratio <= 1 + self.tolerance:
                return current
            return math.ceil(ratio * (ready + starting))
        return math.ceil(ratio * ready)

    def stabilize(self, now: float, current: int, desired: int) -> int:
        self._recs.append((now, desired))
        keep = max(self.down_window_s, self.up_window_s)
        self._recs = [r for r in self._recs if r[0] >= now - keep - 1e-9]
        up = min(d for t, d in self._recs if t >= now - self.up_window_s - 1e-9)
        down = max(d for t, d in self._recs if t >= now - self.down_window_s - 1e-9)
        out = current
        if out < up:
            out = up
        if out > down:
            out = down
        return out

    def limit(self, current: int, desired: int) -> int:
        up_limit = max(current + 4, current * 2)  # default scale-up policies, selectPolicy Max
        down_limit = current - current * 1  # -100 % per period
        desired = min(max(desired, down_limit), up_limit)
        return min(max(desired, self.scenario.min_replicas), self.scenario.max_replicas)

    def decide(self, now: float) -> Control:
        per_pod: dict[str, list[float]] = {}
        for _, sample in self._cpu:
            for inst, u in sample.items():
                per_pod.setdefault(inst, []).append(u)
        pod_cpu = {i: float(np.mean(v)) for i, v in per_pod.items() if i in self._cpu[-1][1]} if self._cpu else {}
        current = self._provisioned
        rec = self.recommend(current, pod_cpu, self._starting)
        desired = self.limit(current, self.stabilize(now, current, rec))
        mean = 100 * float(np.mean(list(pod_cpu.values()))) if pod_cpu else float("nan")
        return Control(replicas=desired, note=f"cpu {mean:.0f}% vs {100 * self.target:.0f}% → {rec}, stabilized {desired}")


class _ProxyView:
    def __init__(self):
        self.consecutive: dict[str, int] = {}
        self.ejected_until: dict[str, float] = {}
        self.times: dict[str, int] = {}
        self.interval_requests: dict[str, int] = {}
        self.interval_ok: dict[str, int] = {}


class EnvoyOutlier:
    name = "envoy-outlier"

    def __init__(self, scenario: Scenario, consecutive_5xx: int = 5, interval_s: float = 10.0,
                 base_ejection_s: float = 30.0, max_ejection_s: float = 300.0, max_ejection_pct: float = 10.0,
                 sr_minimum_hosts: int = 5, sr_request_volume: int = 100, sr_stdev_factor: float = 1.9):
        self.scenario = scenario
        self.interval_s = scenario.tick_s  # ejection acts on the next request; the tick is the resolution
        self.consecutive_5xx, self.detection_interval_s = consecutive_5xx, interval_s
        self.base_ejection_s, self.max_ejection_s, self.max_ejection_pct = base_ejection_s, max_ejection_s, max_ejection_pct
        self.sr_minimum_hosts, self.sr_request_volume, self.sr_stdev_factor = sr_minimum_hosts, sr_request_volume, sr_stdev_factor
        self.views = [_ProxyView() for _ in range(scenario.proxies)]
        self._hosts: tuple[str, ...] = ()
        self._next_interval = interval_s

    def _may_eject(self, view: _ProxyView, now: float) -> bool:
        ejected = sum(1 for until in view.ejected_until.values() if until > now)
        return ejected == 0 or ejected < len(self._hosts) * self.max_ejection_pct / 100

    def _eject(self, view: _ProxyView, host: str, now: float) -> None:
        view.times[host] = view.times.get(host, 0) + 1
        view.ejected_until[host] = now + min(self.base_ejection_s * view.times[host], self.max_ejection_s)
        view.consecutive[host] = 0

    def observe(self, tick: Tick) -> None:
        self._hosts = tick.instances
        for p, view in enumerate(self.views):
            mask = tick.proxy == p
            for i, host in enumerate(tick.instances):
                st = tick.status[mask & (tick.replica == i)]
                if not st.size:
                    continue
                view.interval_requests[host] = view.interval_requests.get(host, 0) + int(st.size)
                view.interval_ok[host] = view.interval_ok.get(host, 0) + int(np.count_nonzero(st < 500))
                run = view.consecutive.get(host, 0)
                for failed in (st >= 500):
                    run = run + 1 if failed else 0
                    if run >= self.consecutive_5xx and view.ejected_until.get(host, 0) <= tick.t0 \
                            and self._may_eject(view, tick.t0):
                        self._eject(view, host, tick.t0 + tick.dt)
                        run = 0
                view.consecutive[host] = run
        end = tick.t0 + tick.dt
        while end >= self._next_interval - 1e-9:
            self._interval(self._next_interval)
            self._next_interval += self.detection_interval_s

    def _interval(self, now: float) -> None:
        for view in self.views:
            for host in self._hosts:
                until = view.ejected_until.get(host, 0)
                if 0 < until <= now:
                    view.ejected_until[host] = 0  # back in
                elif until == 0 and view.times.get(host, 0) > 0:
                    view.times[host] -= 1
            volume = {h: n for h, n in view.interval_requests.items() if n >= self.sr_request_volume}
            if len(volume) >= self.sr_minimum_hosts:
                rates = {h: view.interval_ok.get(h, 0) / n for h, n in volume.items()}
                mean, sd = float(np.mean(list(rates.values()))), float(np.std(list(rates.values())))
                for host, rate in rates.items():
                    if rate < mean - self.sr_stdev_factor * sd and view.ejected_until.get(host, 0) <= now \
                            and self._may_eject(view, now):
                        self._eject(view, host, now)
            view.interval_requests, view.interval_ok = {}, {}

    def decide(self, now: float) -> Control:
        weights = {p: {h: 0.0 if v.ejected_until.get(h, 0) > now else 1.0 for h in self._hosts}
                   for p, v in enumerate(self.views)}
        out = [f"proxy {p}: " + ",".join(h for h, w in w_.items() if not w) for p, w_ in weights.items()
               if any(not w for w in w_.values())]
        return Control(weights=weights, note="; ".join(out) or "no host ejected")
