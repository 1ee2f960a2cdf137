#!/usr/bin/env python3
"""The closed routing loop on a real HAProxy, measured: how fast a failing upstream is drained, and
what it costs the clients meanwhile.

    python bench/decisions_gateway.py                       # 3 runs, 10 s window, apply every 1 s
    python bench/decisions_gateway.py --runs 5 --window 20s --every 2s

Each run starts everything afresh, every part a real process on this machine (the pieces of
tests/support/loop.py): ``stackeye up --policy`` with a ``[routing.shop]`` table (source
``instances``), three upstreams instrumented with stackeye.instrumentation, HAProxy (the Debian
package, admin socket) in front of them, a load client through HAProxy, and
``stackeye decide apply routing --apply --every``. After ``--baseline`` healthy seconds one
upstream fails every other request; the admin socket is polled every 50 ms. Reported per run:

- **drain s**: from the upstream going bad to the first ``maint`` or ``drain`` seen on the socket;
- **failed meanwhile**: requests the client saw fail (5xx or no answer) in that time, of all it sent;
- **failed after**: in the ``--after`` seconds once drained (the goal: none);
- **failed % run**: over the whole run (baseline, fault, after).

What bounds the drain time: the spans' way in (the SDK's 100 ms export delay, the writer's
0.2 s batches), the failure percentage reaching its threshold over the window (with a 10 s window
and 50 % failing, about 4 s of failures once the window is full of healthy calls), the policy
evaluation interval (``--decide-interval``) and the apply interval (``--every``). A table goes to
stdout, JSON to bench/out/decisions_gateway.json. Needs haproxy (apt-get install haproxy).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(1, os.path.join(os.path.dirname(BENCH), "tests"))
from common import machine, save, table  # noqa: E402
from stackeye.core.units import parse_duration  # noqa: E402
from stackeye.decisions.actuators.haproxy_runtime import parse_servers_state  # noqa: E402
from support.gateways import HAPROXY, HaproxyProcess  # noqa: E402
from support.loop import SERVICE, Applier, LoadClient, start_up, start_upstreams  # noqa: E402

NAMES = ("u0", "u1", "u2")
BAD = "u1"


def _state(gw: HaproxyProcess) -> str:
    return parse_servers_state(gw.command(f"show servers state {SERVICE}"), SERVICE)[BAD].state


def one_run(folder: str, args) -> dict:
    up = start_up(folder, window=args.window, decide_interval=args.decide_interval)
    ups, gw, client, applier = [], None, None, None
    try:
        ups = start_upstreams(NAMES, up.otlp_grpc, folder)
        os.makedirs(os.path.join(folder, "haproxy"))
        gw = HaproxyProcess(os.path.join(folder, "haproxy"), SERVICE, {u.name: u.address for u in ups}).start()
        client = LoadClient(f"http://127.0.0.1:{gw.port}/", threads=args.threads, pause=args.pause).start()
        applier = Applier(up, ["--haproxy-socket", gw.socket, "--backend", SERVICE],
                          os.path.join(folder, "applier.log"), every=args.every).start()
        start = time.monotonic()
        time.sleep(args.baseline)
        ups[NAMES.index(BAD)].fail_half()
        fault = time.monotonic()
        drained = None
        while time.monotonic() - fault < args.timeout:
            if _state(gw) in ("maint", "drain"):
                drained = time.monotonic()
                break
            time.sleep(0.05)
        end_fault = drained or time.monotonic()
        time.sleep(args.after)
        end = time.monotonic()
        failed_during, sent_during = client.failed(fault, end_fault)
        failed_after, sent_after = client.failed(end_fault, end)
        failed_run, sent_run = client.failed(start, end)
        return {"drain_s": round(drained - fault, 2) if drained else None,
                "failed_meanwhile": failed_during, "sent_meanwhile": sent_during,
                "failed_after": failed_after, "sent_after": sent_after,
                "failed_run": failed_run, "sent_run": sent_run,
                "failed_pct_run": round(100 * failed_run / sent_run, 2) if sent_run else None,
                "client_rps": round(sent_run / (end - start), 1)}
    finally:
        if client:
            client.stop()
        if applier:
            applier.stop()
        if gw:
            gw.stop()
        for u in ups:
            u.stop()
        up.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--runs", type=int, default=3, help="repetitions, each with everything started afresh (3)")
    ap.add_argument("--window", default="10s", help="the routing policy's window (10s)")
    ap.add_argument("--decide-interval", default="1s", help="stackeye up's --decide-interval (1s)")
    ap.add_argument("--every", default="1s", help="the applier's --every (1s)")
    ap.add_argument("--baseline", type=float, default=8.0, help="healthy seconds before the fault (8)")
    ap.add_argument("--after", type=float, default=8.0, help="seconds measured once drained (8)")
    ap.add_argument("--timeout", type=float, default=60.0, help="give up on a drain after this many seconds (60)")
    ap.add_argument("--threads", type=int, default=2, help="load client threads (2)")
    ap.add_argument("--pause", type=float, default=0.03, help="seconds between a thread's requests (0.03)")
    args = ap.parse_args()
    for flag in ("window", "decide_interval", "every"):
        parse_duration(getattr(args, flag))  # a bad duration fails here, not in a subprocess
    if not os.path.exists(HAPROXY):
        print(f"{HAPROXY} is missing: apt-get install haproxy", file=sys.stderr)
        return 2
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="stackeye-bench-gw-") as folder:
            runs.append({"run": i + 1, **one_run(folder, args)})
        print(f"run {i + 1}: {runs[-1]}", file=sys.stderr)
    rows = [{"run": r["run"], "drain s": r["drain_s"] if r["drain_s"] is not None else "never",
             "failed meanwhile": f"{r['failed_meanwhile']} of {r['sent_meanwhile']}",
             "failed after": f"{r['failed_after']} of {r['sent_after']}",
             "failed % run": r["failed_pct_run"], "client rps": r["client_rps"]} for r in runs]
    drains = [r["drain_s"] for r in runs if r["drain_s"] is not None]
    if drains:
        rows.append({"run": "median", "drain s": round(statistics.median(drains), 2),
                     "failed meanwhile": statistics.median(r["failed_meanwhile"] for r in runs),
                     "failed after": statistics.median(r["failed_after"] for r in runs),
                     "failed % run": round(statistics.median(r["failed_pct_run"] or 0 for r in runs), 2),
                     "client rps": round(statistics.median(r["client_rps"] for r in runs), 1)})
    print(table(rows))
    path = save("decisions_gateway", {"machine": machine(), "args": vars(args), "runs": runs})
    print(f"saved {path}")
    return 0 if len(drains) == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
