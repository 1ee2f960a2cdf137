#!/usr/bin/env python3
"""Where the time of ingest goes: each stage of the embedded pipeline measured alone, in-process.

    python bench/ingest_stages.py            # 100 requests x 512 spans, 5 rounds

Stages: OTLP parse + item count (ingest validation), spool append (4 threads, group-committed
fsync), spool read, the engine's flattening SELECT alone, the insert into a bare copy of
otel_traces (no skip indexes, no materialized views), and the real insert into otel_traces with
the exporter's bloom-filter indexes and every materialized view of the schema. The slowest stage
bounds end-to-end throughput.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine, save, table  # noqa: E402
from ingest import make_requests  # noqa: E402
from stackeye.collector.queue.base import Record  # noqa: E402
from stackeye.collector.queue.spool import Spool  # noqa: E402
from stackeye.core.signals import Signal, count_items  # noqa: E402
from stackeye.storage import engine_flatten  # noqa: E402
from stackeye.storage.chdb_storage import ChdbStorage, length_delimited  # noqa: E402
from stackeye.storage.url import parse_storage_url  # noqa: E402


def best_of(rounds: int, fn) -> float:
    times = []
    for i in range(rounds):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--per-request", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    reqs = make_requests(args.requests, args.per_request)
    spans = args.requests * args.per_request
    tmp = tempfile.mkdtemp(prefix="stackeye-stages-")
    rows = []

    def record(stage: str, seconds: float):
        rows.append({"stage": stage, "ms_per_batch": round(seconds * 1000, 1), "spans_per_s": round(spans / seconds)})
        print(f"  {stage}: {spans / seconds:,.0f} spans/s", flush=True)

    try:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        record("parse + count (ingest validation)", best_of(args.rounds, lambda i: [
            count_items(Signal.TRACES, ExportTraceServiceRequest.FromString(r)) for r in reqs]))

        spool = Spool(os.path.join(tmp, "spool"))

        def append(_):
            chunks = [reqs[k::4] for k in range(4)]
            threads = [threading.Thread(target=lambda c=c: [spool.put([Record(Signal.TRACES, r, 512, 0)]) for r in c])
                       for c in chunks]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        record("spool append, 4 threads, fsync'd", best_of(args.rounds, append))

        def read(_):
            b = spool.read(len(reqs), 1 << 40, 0)
            spool.begin(b)
            spool.commit(b)
        spool2 = spool
        for _ in range(args.rounds - 1):
            append(0)
        record("spool read", best_of(args.rounds, read))
        spool2.close()

        st = ChdbStorage(parse_storage_url("chdb://" + os.path.join(tmp, "ch")))
        st.migrate()
        path = os.path.join(tmp, "batch.bin")
        with open(path, "wb") as f:
            f.write(length_delimited(reqs))
        insert = engine_flatten.STATEMENTS[Signal.TRACES][0].render(path, st._schema_path, "TOKEN")
        select = insert[insert.index("SELECT\n"):]
        select_only = "SELECT count() FROM (" + select.split("\nSETTINGS format_schema")[0] + ")\nSETTINGS format_schema" + select.split("\nSETTINGS format_schema")[1]
        record("engine flatten (SELECT only)", best_of(args.rounds, lambda i: st.execute(select_only)))
        st.execute("CREATE TABLE bare AS otel_traces ENGINE = MergeTree ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))")
        indexes = [r[0] for r in st.query("SELECT name FROM system.data_skipping_indices WHERE table = 'bare' AND database = currentDatabase()").rows]
        if indexes:
            st.execute("ALTER TABLE bare " + ", ".join(f"DROP INDEX {i}" for i in indexes))
        record("insert, bare table", best_of(args.rounds, lambda i: st.execute(
            insert.replace("INSERT INTO otel_traces", "INSERT INTO bare").replace("'TOKEN'", f"'bare{i}'"))))
        mvs = st.query("SELECT count() FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'").rows[0][0]
        record(f"insert, otel_traces (indexes + {mvs} MVs)", best_of(args.rounds, lambda i: st.execute(
            insert.replace("'TOKEN'", f"'real{i}'"))))
        st.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(table(rows))
    print("saved", save("ingest_stages", {"machine": machine(), "args": vars(args), "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
