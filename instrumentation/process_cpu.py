"""``process.cpu.utilization``: this process's CPU, as a share of the CPUs it may use (0..1).

The autoscale decisions size replicas on it (``cpu_pct`` of a replica = 100 × its mean), so it has
to mean what Kubernetes' HPA means by CPU utilization of a pod: CPU time used over wall time, over
the CPUs the process is *allowed* — its affinity mask and its cgroup's quota (``cpu.max`` in
cgroup v2, ``cfs_quota_us``/``cfs_period_us`` in v1), not the machine's core count.
``opentelemetry-instrumentation-system-metrics`` divides by ``psutil.cpu_count()`` (every core of
the host) and reports 0 on its first reading, so a container limited to one core of a 32-core
node would look idle; this observable gauge does the division right and is nothing else.

Every reading covers the time since the previous one (since start for the first). After
``fork()`` the child's CPU clock starts again at zero: the first reading there resets the
baseline instead of reporting a negative share.

>>> cpu = ProcessCpu(clock=iter([0.0, 2.0]).__next__, cpu_time=iter([0.0, 1.0]).__next__, cpus=lambda: 2.0)
>>> cpu.sample()
0.25
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Iterable

METRIC = "process.cpu.utilization"
METER_NAME = "stackeye.process"
_CGROUP_V2 = "/sys/fs/cgroup/cpu.max"
_CGROUP_V1 = ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cgroup_cpu_limit() -> float | None:
    """CPUs the cgroup's quota allows (``1.5`` for ``150000 100000``), None when unlimited or unknown."""
    v2 = _read(_CGROUP_V2)
    if v2:
        quota, _, period = v2.partition(" ")
        if quota != "max" and period:
            try:
                return int(quota) / int(period)
            except (ValueError, ZeroDivisionError):
                return None
        return None
    quota, period = (_read(p) for p in _CGROUP_V1)
    try:
        q, p = int(quota or "-1"), int(period or "0")
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def cpus_available() -> float:
    """The CPUs this process may run on: its affinity mask, capped by its cgroup's quota."""
    try:
        cpus = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        cpus = float(os.cpu_count() or 1)
    limit = cgroup_cpu_limit()
    return max(min(cpus, limit) if limit else cpus, 1e-3)


class ProcessCpu:
    """Successive readings of this process's CPU share; ``observe`` is the gauge's callback."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 cpu_time: Callable[[], float] = time.process_time, cpus: Callable[[], float] = cpus_available):
        self._clock, self._cpu_time, self._cpus = clock, cpu_time, cpus
        self._lock = threading.Lock()
        self._last = (self._clock(), self._cpu_time())

    def sample(self) -> float | None:
        """The share since the previous reading; None right after a fork or within the same instant."""
        with self._lock:
            wall, cpu = self._clock(), self._cpu_time()
            last_wall, last_cpu = self._last
            self._last = (wall, cpu)
        d_wall, d_cpu = wall - last_wall, cpu - last_cpu
        if d_wall <= 0 or d_cpu < 0:  # a forked child: its CPU clock restarted
            return None
        return min(max(d_cpu / d_wall / self._cpus(), 0.0), 1.0)

    def observe(self, options=None) -> Iterable:
        from opentelemetry.metrics import Observation

        value = self.sample()
        return [Observation(value)] if value is not None else []


def register(meter_provider) -> ProcessCpu:
    """Add the gauge to ``meter_provider``; its readings follow the provider's export interval."""
    cpu = ProcessCpu()
    meter = meter_provider.get_meter(METER_NAME)
    meter.create_observable_gauge(METRIC, callbacks=[cpu.observe], unit="1",
                                  description="CPU time over wall time over the CPUs available to the process")
    return cpu
