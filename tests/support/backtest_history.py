"""Stored history for the backtest tests: 20 minutes of a 3-replica service, hot then idle.

Minutes 0-9: every replica at 90 % CPU; minutes 10-19: at 20 %. Spans every 2 s per replica
(:mod:`support.decision_data`, i.e. ``support.otlp_builders``), a CPU point every 15 s.
Run as a script (``python -m support.backtest_history DATA_DIR END``) it loads a fresh data directory.
"""
from __future__ import annotations

import datetime as dt
import sys

from .decision_data import gauge, insert, spans

SERVICE = "checkout"
INSTANCES = ("r1", "r2", "r3")
POLICY = """[autoscale.checkout]
min_replicas = 1
max_replicas = 10
cpu_pct = 60
window = "1m"
"""


def load(storage, start: dt.datetime) -> None:
    requests = []
    for minute in range(20):
        t = start + dt.timedelta(minutes=minute)
        cpu = 0.9 if minute < 10 else 0.2
        for inst in INSTANCES:
            requests.append(spans(SERVICE, inst, t, [40] * 30, host="h-" + inst, step_s=2.0))
            requests.append(gauge(SERVICE, inst, "process.cpu.utilization",
                                  [(t + dt.timedelta(seconds=15 * k), cpu) for k in range(4)], host="h-" + inst))
    insert(storage, *requests)


if __name__ == "__main__":
    from stackeye.storage.factory import open_storage

    path, start = sys.argv[1], dt.datetime.fromisoformat(sys.argv[2])
    st = open_storage("chdb://" + path)
    st.migrate()
    load(st, start)
    st.close()
