#!/usr/bin/env python3
"""1,000 trigger rules over the 10M-span data set: one evaluation round, and the notification delay.

    python bench/events.py                      # loads bench/views.py's 10,000,000 spans once
    python bench/events.py --reuse --profile    # the data already loaded; + a pyinstrument profile
    python bench/events.py --reuse --no-delay   # rounds only (no Alertmanager)

**Rounds.** The rules are a realistic mix built from the data's own names: per service the
``error_rate``, ``latency_slo`` (p95 and p99) and ``apdex`` templates and view rules on
``services`` (throughput, p50), ``transactions`` (per route) and ``errors``; per host CPU and
memory on ``hosts``; a few ``sql`` rules; windows of 5, 10 and 15 minutes. Each round is
:meth:`TriggerEngine.evaluate` at successive instants (the first one reads the stored state,
as after a start), with the statements sent to chDB and their time. "alone" measures every rule
by itself (one view run per rule, as rounds did before rules shared runs), for the ratio.

**Delay.** A real Alertmanager (``/usr/bin/prometheus-alertmanager``, ``group_wait: 0s``) routes
to a local webhook receiver that stamps each arrival. The engine runs every ``--interval`` over
the same rules plus a probe (``error_rate`` of a service of its own, ``for`` = ``--for``), its
clock shifted back to the data set's end so the 1,000 rules measure real data. At a random
instant the bench inserts the probe's failing spans (stamped on the shifted clock): the condition
holds from the insert's start, has held for ``for`` ``for`` later; the delay is the arrival time
minus that instant. Goal: ≤ interval + 1 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import machine, save, table  # noqa: E402
from stackeye.events import rule_file  # noqa: E402
from stackeye.events.condition import measure, measure_all  # noqa: E402
from stackeye.events.engine import TriggerEngine  # noqa: E402
from stackeye.storage.factory import open_storage  # noqa: E402

GOAL_ROUND_S, GOAL_DELAY_EXTRA_S = 2.0, 1.0
WINDOWS = ("5m", "10m", "15m")


class Counting:
    """The storage, counting statements and their time."""

    def __init__(self, storage):
        self.storage, self.statements, self.seconds = storage, 0, 0.0

    def query(self, sql, **kw):
        started = time.perf_counter()
        try:
            return self.storage.query(sql, **kw)
        finally:
            self.statements += 1
            self.seconds += time.perf_counter() - started

    def __getattr__(self, name):
        return getattr(self.storage, name)


def names(storage, end: dt.datetime) -> dict:
    """The services, busiest routes and hosts of the last hour, as the views name them."""
    from stackeye.query.views import registry

    window = {"from": (end - dt.timedelta(hours=1)).isoformat(), "to": end.isoformat()}
    run = lambda view, **kw: registry.get(view).run(storage, **window, **kw).rows  # noqa: E731
    return {"services": [r.service for r in run("services")],
            "routes": [(r.service, r.route) for r in run("transactions", sort="calls", limit=1000)],
            "hosts": sorted({r.host for r in run("hosts")})}


def rules(found: dict, n: int = 1000) -> list[dict]:
    """``n`` rules over the services, routes and hosts ``found`` (SQL rules fill what routes do not)."""
    rng = random.Random(7)
    out: list[dict] = []
    add = lambda **r: out.append({"name": f"r{len(out):04d}-{r.pop('kind')}", "for": "1m", **r})  # noqa: E731
    for svc in found["services"]:
        w = rng.choice(WINDOWS)
        add(kind="errors", template="error_rate", params={"service": svc, "max_rate": "0.05", "window": w},
            severity="critical")
        add(kind="p95", template="latency_slo", params={"service": svc, "slo_ms": "300", "window": w})
        add(kind="p99", template="latency_slo", params={"service": svc, "slo_ms": "800", "quantile": "p99",
                                                        "window": rng.choice(WINDOWS)})
        add(kind="apdex", template="apdex", params={"service": svc, "min_score": "0.9"})
        add(kind="rate", view="services", where={"service": svc}, value="rate_per_s", op="<", threshold=0.5,
            window=rng.choice(WINDOWS))
        add(kind="p50", view="services", where={"service": svc}, value="p50_ms", op=">", threshold=100,
            window="5m")
        add(kind="error-count", view="errors", where={"service": svc}, value="count", by=["service", "exception_type"],
            op=">", threshold=20, window="15m", severity="info")
    for i, (svc, route) in enumerate(found["routes"]):
        if len(out) >= n - 2 * len(found["hosts"]) - 20:
            break
        value = ("p95_ms", "error_rate")[i % 2]
        add(kind=f"route-{value}", view="transactions", where={"service": svc, "route": route}, value=value,
            by=["service", "route"], op=">", threshold=(500, 0.1)[i % 2], window=rng.choice(WINDOWS))
    for host in found["hosts"]:
        add(kind="cpu", view="hosts", where={"host": host}, value="cpu_pct", by=["host"], op=">", threshold=90,
            window="5m")
        add(kind="memory", view="hosts", where={"host": host}, value="memory_used_pct", by=["host"], op=">",
            threshold=95, window="10m")
    sqls = [
        ("SELECT ServiceName AS service, countIf(StatusCode = 'Error') AS value FROM otel_traces "
         "WHERE Timestamp >= {from} AND Timestamp < {to} AND SpanKind = 'Client' GROUP BY service", ">", 50),
        ("SELECT ServiceName AS service, quantile(0.99)(Duration) / 1e6 AS value FROM otel_traces "
         "WHERE Timestamp >= {from} AND Timestamp < {to} AND SpanKind = 'Consumer' GROUP BY service", ">", 1000),
        ("SELECT SpanAttributes['db.system'] AS db, count() / 300 AS value FROM otel_traces "
         "WHERE Timestamp >= {from} AND Timestamp < {to} AND SpanKind = 'Client' AND db != '' GROUP BY db", "<", 1),
        ("SELECT ServiceName AS service, SeverityText AS level, count() AS value FROM otel_logs "
         "WHERE Timestamp >= {from} AND Timestamp < {to} AND SeverityNumber >= 17 GROUP BY service, level", ">", 100),
    ]
    while len(out) < n - 1:
        sql, op, threshold = sqls[len(out) % len(sqls)]
        add(kind="sql", sql=sql, op=op, threshold=threshold, window=rng.choice(WINDOWS))
    add(kind="agents", template="agent_silent", params={"after": "5m"})
    return out[:n]


def fresh_events(storage) -> None:
    for table_name in ("stackeye_events", "stackeye_event_deliveries"):
        storage.execute(f"TRUNCATE TABLE IF EXISTS {table_name}")


def rounds(storage, doc: dict, at: dt.datetime, n: int, step_s: float, offset_s: float) -> list[dict]:
    """``n`` rounds ``step_s`` apart from ``at`` + ``offset_s`` (0: on whole minutes, where the rollups
    serve the whole window; else the window's ends are partial minutes, read from raw spans)."""
    fresh_events(storage)
    counting = Counting(storage)
    engine = TriggerEngine(counting, rule_file.from_mapping_doc(doc), notifiers=[])
    out = []
    for i in range(n):
        counting.statements, counting.seconds = 0, 0.0
        started = time.perf_counter()
        rnd = engine.evaluate(at + dt.timedelta(seconds=i * step_s + offset_s))
        took = time.perf_counter() - started
        out.append({"round": i + 1, "offset_s": offset_s, "rules": len(rnd.evaluated), "failures": len(rnd.failures),
                    "events": len(rnd.events), "statements": counting.statements,
                    "sql_s": round(counting.seconds, 3), "round_s": round(took, 3)})
        print(json.dumps(out[-1]), flush=True)
    return out


def measuring(storage, doc: dict, at: dt.datetime) -> dict:
    """Every rule measured alone (one run each) against all together (shared runs)."""
    triggers = rule_file.from_mapping_doc(doc)
    counting = Counting(storage)
    started = time.perf_counter()
    alone = {}
    for rule in triggers.rules:
        try:
            alone[rule.name] = measure(rule, counting, at)
        except Exception as exc:  # noqa: BLE001
            alone[rule.name] = exc
    alone_s, alone_n = time.perf_counter() - started, counting.statements
    counting.statements = 0
    started = time.perf_counter()
    together = measure_all(triggers.rules, counting, at)
    together_s, together_n = time.perf_counter() - started, counting.statements
    same = all(alone[k] == v or isinstance(v, Exception) and str(alone[k]) == str(v) for k, v in together.items())
    return {"alone_s": round(alone_s, 3), "alone_statements": alone_n, "together_s": round(together_s, 3),
            "together_statements": together_n, "speedup": round(alone_s / together_s, 1),
            "same_observations": same}


def profile(storage, doc: dict, at: dt.datetime) -> str:
    from pyinstrument import Profiler

    fresh_events(storage)
    engine = TriggerEngine(storage, rule_file.from_mapping_doc(doc), notifiers=[])
    engine.evaluate(at)
    profiler = Profiler(interval=0.002)
    profiler.start()
    engine.evaluate(at + dt.timedelta(seconds=60))
    profiler.stop()
    return profiler.output_text(unicode=True, color=False, show_all=False)


AM_CONFIG = """route:
  receiver: bench
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: bench
    webhook_configs:
      - url: {url}
"""


def delays(storage, doc: dict, reps: int, interval_s: float, for_s: float, end: dt.datetime) -> list[dict]:
    """See the module docstring; one Alertmanager and receiver, ``reps`` probe services in turn."""
    shift = dt.datetime.now(dt.timezone.utc) - end  # the engine's clock: now - shift
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
    from support import decision_data
    from support.alertmanager import Alertmanager
    from support.webhook_receiver import WebhookReceiver

    receiver = WebhookReceiver().__enter__()
    workdir = tempfile.mkdtemp(prefix="bench-events-am-")
    am = Alertmanager(workdir, receiver.url)
    with open(os.path.join(workdir, "alertmanager.yml"), "w") as f:
        f.write(AM_CONFIG.format(url=receiver.url))
    am.start()
    out = []
    try:
        for rep in range(reps):
            probe = f"probe-{int(time.time())}-{rep}"
            rule = {"name": probe, "template": "error_rate", "for": f"{for_s}s", "severity": "critical",
                    "params": {"service": probe, "max_rate": "0.5", "window": "1m"}}
            trig = {**doc, "trigger": [*doc["trigger"], rule],
                    "notifier": [{"kind": "alertmanager", "url": am.url}]}
            fresh_events(storage)
            engine = TriggerEngine(storage, rule_file.from_mapping_doc(trig))
            stop = threading.Event()
            round_s: list[float] = []

            def loop():  # as app/triggers.py's schedule: a round, then the rest of the interval
                while not stop.is_set():
                    started = time.monotonic()
                    engine.evaluate(dt.datetime.now(dt.timezone.utc) - shift)
                    round_s.append(time.monotonic() - started)
                    stop.wait(max(0.0, interval_s - (time.monotonic() - started)))

            thread = threading.Thread(target=loop, daemon=True)
            thread.start()
            time.sleep(interval_s * (1.5 + random.random()))  # a random phase against the schedule
            held = time.time() + for_s  # the condition holds once the insert begins: held for `for` then
            start = dt.datetime.now(dt.timezone.utc) - shift - dt.timedelta(seconds=2)  # failing calls, 2 s
            decision_data.insert(storage, decision_data.spans(probe, "p1", start, [20] * 40, status=[500] * 40,
                                                              step_s=0.05))
            fired = lambda got: any(a["labels"]["alertname"] == probe and a["status"] == "firing"  # noqa: E731
                                    for r in got for a in r["json"]["alerts"])
            try:  # (the receiver wakes this thread as the request arrives)
                got = receiver.wait_for(fired, timeout=for_s + 10 * interval_s + 30) and time.time()
            except AssertionError:
                got = None
            stop.set()
            thread.join()
            row = {"rep": rep + 1, "interval_s": interval_s, "for_s": for_s,
                   "median_round_s": round(statistics.median(round_s), 3),
                   "delay_s": round(got - held, 3) if got else None}
            out.append(row)
            print(json.dumps(row), flush=True)
    finally:
        am.stop()
        receiver.__exit__(None, None, None)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=10_000_000, help="spans to load when there is no data set yet")
    ap.add_argument("--data-dir", default="/tmp/stackeye-bench-views", help="bench/views.py's data set")
    ap.add_argument("--reuse", action="store_true", help="keep the data already loaded in --data-dir")
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="print a pyinstrument profile of one round")
    ap.add_argument("--no-delay", action="store_true", help="skip the notification delay (no Alertmanager)")
    ap.add_argument("--reps", type=int, default=5, help="repetitions of the delay measurement")
    ap.add_argument("--interval", type=float, default=5.0, help="the evaluation interval of the delay runs, s")
    ap.add_argument("--for", dest="for_s", type=float, default=10.0, help="the probe rule's `for`, s")
    ap.add_argument("--name", default="events", help="bench/out/NAME.json")
    args = ap.parse_args()
    path = os.path.abspath(args.data_dir)
    mach = machine()
    if not (args.reuse and os.path.exists(os.path.join(path, "bench-views.json"))):
        from views import load
        end = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
        print("loading", load(path, args.spans, end), flush=True)
    with open(os.path.join(path, "bench-views.json")) as f:
        info = json.load(f)
    end = dt.datetime.fromisoformat(info["end"]) - dt.timedelta(minutes=7)
    storage = open_storage("chdb://" + path)
    storage.migrate()
    found = names(storage, end)
    doc = {"trigger": rules(found, args.rules)}
    kinds: dict[str, int] = {}
    for r in doc["trigger"]:
        kind = r["name"].split("-", 1)[1]
        kinds[kind] = kinds.get(kind, 0) + 1
    print("rules:", kinds, flush=True)
    result = {"machine": mach, "data": info, "rules": kinds}
    result["rounds"], result["round_s"] = [], {}
    for offset in (0.0, 27.5):  # rounds on whole minutes; rounds as a scheduler's fall, mid-minute
        result["rounds"] += rounds(storage, doc, end, args.rounds, 60.0, offset)
        times = [r["round_s"] for r in result["rounds"] if r["offset_s"] == offset]
        result["round_s"][offset] = {"median": statistics.median(times), "max": max(times), "goal": GOAL_ROUND_S}
    print(table(result["rounds"]))
    print("round:", result["round_s"], flush=True)
    result["measuring"] = measuring(storage, doc, end)
    print(json.dumps(result["measuring"]), flush=True)
    if args.profile:
        text = profile(storage, doc, end)
        print(text)
        result["profile"] = text
    if not args.no_delay:
        result["delay"] = delays(storage, doc, args.reps, args.interval, args.for_s, end)
        print(table(result["delay"]))
        got = [r["delay_s"] for r in result["delay"] if r["delay_s"] is not None]
        result["delay_s"] = {"median": statistics.median(got) if got else None, "max": max(got, default=None),
                             "lost": len(result["delay"]) - len(got), "goal": args.interval + GOAL_DELAY_EXTRA_S}
        print("delay:", result["delay_s"], flush=True)
    storage.close()
    print("saved", save(args.name, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
