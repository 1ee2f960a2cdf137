"""The running agent: the one place where the stages are wired together.

    collectors (every interval, each with a timeout)  --\\
    log tailer (every second)                          ---> DiskQueue ---> Shipper ---> collector
    OTLP relay (apps on this host)                     --/
    agent protocol (register, heartbeat, config pull)  ---> collector's AgentService

Everything produced is first written to the ordered disk queue; the shipper alone talks OTLP
to the collector. Stopping (SIGTERM) stops producers, gives the shipper a moment to drain, and
leaves the rest on disk for the next start.
"""
from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time

import psutil
from stackeye.core.retry import Backoff
from stackeye.core.version import __version__

from . import otlp
from .config import AgentConfig
from .logtail import LogTailer, Record
from .model import Point
from .registry import Instance, all_collectors, get
from .shipper.queue import DiskQueue
from .shipper.sender import GrpcSender, Shipper

log = logging.getLogger("stackeye.agent")

DEFAULT_COLLECTOR_TIMEOUT = 5.0
LOG_POLL_INTERVAL = 1.0


class Agent:
    def __init__(self, cfg: AgentConfig):
        self.cfg = cfg
        os.makedirs(cfg.state_dir, exist_ok=True)
        self.agent_id = _agent_id(cfg.state_dir)
        self.resource = otlp.host_resource(cfg.resource)
        self.queue = DiskQueue(os.path.join(cfg.state_dir, "buffer"), cfg.buffer_max_bytes)
        self.sender = GrpcSender(cfg.collector, cfg.token, cfg.channel_tls(), cfg.gzip, cfg.request_timeout)
        self.shipper = Shipper(self.queue, self.sender, Backoff(cfg.retry_initial, cfg.retry_max), self.agent_id)
        self.interval = cfg.interval
        self.instances: dict[str, Instance] = {}
        self._busy: dict[str, concurrent.futures.Future] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="stackeye-collector")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc = psutil.Process()
        self._last_cpu: tuple[float, float] | None = None
        self.collector_stats: dict[str, tuple[float, bool]] = {}
        self.tailer = LogTailer(cfg.logs, os.path.join(cfg.state_dir, "log-offsets.json"), self._emit_logs) if cfg.logs else None
        self.relay = None
        self.protocol = None
        self.config_version = 0
        self.cycles = 0  # metrics batches queued
        self.set_enabled(cfg.enabled_collectors())

    # -- configuration (local, then central) ---------------------------------------------------
    def set_enabled(self, names: list[str]) -> None:
        with self._lock:
            known = {c.name for c in all_collectors()}
            for name in [n for n in self.instances if n not in names]:
                self.instances.pop(name).close()
            for name in names:
                if name in known and name not in self.instances:
                    self.instances[name] = Instance(get(name), self.cfg.collector_config(name))
            log.info("collectors enabled: %s", ", ".join(self.instances) or "none")

    def apply_central_config(self, version: int, interval: float, enabled: list[str], replace: bool) -> None:
        """Config pulled from the collector (agent protocol): interval and enabled collectors."""
        if interval and interval >= 1 and interval != self.interval:
            log.info("central config v%d: interval %gs -> %gs", version, self.interval, interval)
            self.interval = interval
        if replace or enabled:
            names = list(enabled) if replace else sorted(set(self.instances) | set(enabled))
            self.set_enabled(names)
        self.config_version = version

    # -- producers -----------------------------------------------------------------------------
    def collect_once(self, now: float | None = None) -> int:
        """Run every enabled collector (each within its timeout) and queue one metrics request."""
        now = now if now is not None else time.time()
        with self._lock:
            instances = list(self.instances.values())
        futures = {}
        points: list[Point] = []
        for inst in instances:
            if inst.name in self._busy and not self._busy[inst.name].done():
                points.append(_timed_out(inst, "still running from the previous interval"))
                continue
            futures[inst.name] = (inst, self._pool.submit(inst.run))
            self._busy[inst.name] = futures[inst.name][1]
        for name, (inst, fut) in futures.items():
            timeout = getattr(inst.config, "timeout", DEFAULT_COLLECTOR_TIMEOUT)
            try:
                pts, duration, ok = fut.result(timeout=max(timeout - (time.time() - now), 0.01) + 0.5)
            except concurrent.futures.TimeoutError:
                points.append(_timed_out(inst, f"took longer than its timeout ({timeout:g}s)"))
                self.collector_stats[name] = (timeout, False)
                continue
            points.extend(pts)
            self.collector_stats[name] = (duration, ok)
        points.extend(self.self_telemetry())
        req = otlp.metrics_request(self.resource, points, now)
        self.queue.put("metrics", req.SerializeToString())
        self.cycles += 1
        return len(points)

    def self_telemetry(self) -> list[Point]:
        """The agent's own CPU, RSS, queue, sent/dropped and per-collector duration/success."""
        pts = []
        cpu = self._proc.cpu_times()
        t, used = time.monotonic(), cpu.user + cpu.system
        if self._last_cpu is not None and t > self._last_cpu[0]:
            pts.append(Point("stackeye.agent.cpu.utilization", (used - self._last_cpu[1]) / (t - self._last_cpu[0]), {}, "gauge", "1"))
        self._last_cpu = (t, used)
        pts.append(Point("stackeye.agent.cpu.time", used, {}, "sum", "s"))
        pts.append(Point("stackeye.agent.memory.rss", float(self._proc.memory_info().rss), {}, "gauge", "By"))
        pts.append(Point("stackeye.agent.queue.depth", float(self.queue.depth), {}, "gauge", "{batch}"))
        pts.append(Point("stackeye.agent.queue.bytes", float(self.queue.bytes), {}, "gauge", "By"))
        pts.append(Point("stackeye.agent.dropped", float(self.queue.dropped + self.shipper.rejected), {}, "sum", "{batch}"))
        pts.append(Point("stackeye.agent.sent", float(self.shipper.sent), {}, "sum", "{batch}"))
        pts.append(Point("stackeye.agent.sent_bytes", float(self.shipper.sent_bytes), {}, "sum", "By"))
        pts.append(Point("stackeye.agent.send.failures", float(self.shipper.failures), {}, "sum", "{attempt}"))
        if self.tailer:
            pts.append(Point("stackeye.agent.logs.records", float(self.tailer.lines), {}, "sum", "{record}"))
        if self.relay:
            pts.append(Point("stackeye.agent.relay.requests", float(self.relay.requests), {}, "sum", "{request}"))
        for name, (duration, ok) in self.collector_stats.items():
            pts.append(Point("stackeye.agent.collector.duration", duration, {"collector": name}, "gauge", "s"))
            pts.append(Point("stackeye.agent.collector.success", 1.0 if ok else 0.0, {"collector": name}, "gauge", "1"))
        return pts

    def _emit_logs(self, records: list[Record]) -> None:
        recs = [otlp.log_record(r.body, r.time, {"log.file.path": r.path, "log.file.name": os.path.basename(r.path)},
                                r.severity) for r in records]
        self.queue.put("logs", otlp.logs_request(self.resource, recs).SerializeToString())

    def _log_loop(self) -> None:
        while not self._stop.wait(LOG_POLL_INTERVAL):
            try:
                self.tailer.poll()
            except Exception:  # noqa: BLE001 - never let one bad file stop the agent
                log.exception("log tailing pass failed")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "Agent":
        self.shipper.start()
        if self.cfg.otlp_listen:
            from .otlp_relay import Relay

            try:
                self.relay = Relay(self.cfg.otlp_listen, self.queue, self.resource).start()
            except RuntimeError as exc:
                log.error("%s", exc)
        if self.tailer:
            self.tailer.poll()
            threading.Thread(target=self._log_loop, name="stackeye-logs", daemon=True).start()
        if self.cfg.agent_protocol:
            from .protocol import ProtocolClient

            self.protocol = ProtocolClient(self).start()
        log.info("stackeye agent %s (id %s) shipping to %s every %gs; state in %s",
                 __version__, self.agent_id, self.cfg.collector, self.interval, self.cfg.state_dir)
        return self

    def run_forever(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.collect_once()
            except Exception:  # noqa: BLE001
                log.exception("collection cycle failed")
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind (suspend, overload): skip, don't burst
                next_at, delay = time.monotonic() + self.interval, self.interval
            self._stop.wait(delay)

    def stop(self, drain_timeout: float = 3.0) -> None:
        self._stop.set()
        if self.protocol:
            self.protocol.stop()
        if self.relay:
            self.relay.stop()
        if self.tailer:
            try:
                self.tailer.poll()
            except Exception:  # noqa: BLE001
                log.exception("last log pass failed")
            self.tailer.close()
        self.shipper.stop(drain_timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for inst in self.instances.values():
            inst.close()
        self.sender.close()


def _timed_out(inst: Instance, why: str) -> Point:
    """The point that stands for a collector that did not finish in time."""
    log.warning("collector %s %s; skipped this interval", inst.name, why)
    attrs = {k.replace("__", "."): v for k, v in inst.target_attrs().items()}
    if inst.reg.middleware:
        return Point(f"{inst.name}.up", 0.0, attrs, "gauge", "1")
    return Point("stackeye.agent.collector.timeout", 1.0, {**attrs, "collector": inst.name}, "gauge", "1")


def _agent_id(state_dir: str) -> str:
    """A stable id for this agent, created once in its state dir."""
    import uuid

    path = os.path.join(state_dir, "agent-id")
    try:
        with open(path) as f:
            value = f.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = str(uuid.uuid4())
    with open(path, "w") as f:
        f.write(value + "\n")
    return value
