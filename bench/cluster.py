#!/usr/bin/env python3
"""Cluster mode throughput: OTLP → ``stackeye collector`` → Kafka (tansu) → ``stackeye writer`` → chDB,
with 1 and 2 writers, beside (a) the embedded pipeline on the same input and (b) the broker's own
produce/consume rate for the same bytes (the ceiling). Then the lag of one writer fed at 50 % of
its maximum rate.

    python bench/cluster.py                     # 200,000 spans, 512 per request, 4 client threads
    python bench/cluster.py --spans 500000

Two writers cannot share one chDB directory (one process owns it), so each writes its own — two
shards, as two writers would feed two ClickHouse shards. Rates are spans/s from the first request
sent until every span is in storage (the writers' written-items counters); "lag" is spans acked by
the collector but not yet written, in seconds of input at the feed rate.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)
import importlib.util  # noqa: E402

import ingest  # noqa: E402
from common import machine, save, table  # noqa: E402
from support.kafka import TansuBroker  # noqa: E402
from support.services import free_port  # noqa: E402

TRACE_EXPORT = ingest.TRACE_EXPORT
# tests/cluster/helpers.py (this script is itself named "cluster", so load it by path)
_spec = importlib.util.spec_from_file_location("cluster_helpers", os.path.join(HERE, "..", "tests", "cluster", "helpers.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
Proc, stackeye = _helpers.Proc, _helpers.stackeye


def _health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as resp:
        return json.loads(resp.read())


class Cluster:
    def __init__(self, tmp: str, writers: int, partitions: int = 4, writer_args: tuple[str, ...] = ()):
        self.tmp = tmp
        os.makedirs(tmp, exist_ok=True)
        self.kafka = TansuBroker(os.path.join(tmp, "tansu.log")).start()
        self.grpc_port = free_port()
        http = free_port()
        self.collector = Proc(stackeye("collector", "--kafka", self.kafka.bootstrap, "--otlp-grpc",
                                       f"127.0.0.1:{self.grpc_port}", "--partitions", str(partitions),
                                       "--http", f"127.0.0.1:{http}"),
                              os.path.join(tmp, "collector.log"), http).start()
        self.writers = []
        for i in range(writers):
            port = free_port()
            self.writers.append(Proc(stackeye("writer", "--kafka", self.kafka.bootstrap, "--clickhouse",
                                              f"chdb://{os.path.join(tmp, f'ch{i}')}", "--partitions", str(partitions),
                                              "--http", f"127.0.0.1:{port}", *writer_args),
                                     os.path.join(tmp, f"writer{i}.log"), port).start())

    def written(self) -> int:
        return sum(int(_health(w.http_port)["written_items"]) for w in self.writers)

    def wait_assigned(self, timeout: float = 60.0) -> None:
        """Writers join the group before the clock starts (≈ 3 s with this broker)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = [w.log_tail(20000) for w in self.writers]
            if all("assigned otlp" in log for log in logs):
                return
            time.sleep(0.2)

    def stop(self) -> None:
        for w in self.writers:
            w.stop()
        self.collector.stop()
        self.kafka.stop()


def send(grpc_port: int, requests: list[bytes], total_requests: int, threads: int, rate_rps: float = 0.0,
         acked: list | None = None) -> float:
    """Send ``total_requests`` (cycled) from ``threads`` clients, optionally paced; seconds taken."""
    counter = iter(range(total_requests))
    lock = threading.Lock()
    started = time.perf_counter()

    def client():
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}", options=[("grpc.max_send_message_length", 64 << 20)])
        call = channel.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        for n in counter:
            if rate_rps:
                due = started + n / rate_rps
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            call(requests[n % len(requests)], timeout=60)
            if acked is not None:
                with lock:
                    acked[0] += 1
        channel.close()

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - started


def run_cluster(requests, total_requests: int, per_request: int, threads: int, writers: int, tmp: str,
                writer_args: tuple[str, ...] = ()) -> dict:
    cluster = Cluster(tmp, writers, writer_args=writer_args)
    try:
        cluster.wait_assigned()
        expected = total_requests * per_request
        acked = [0]
        samples = []
        started = time.perf_counter()
        sender = threading.Thread(target=lambda: samples.append(("acked_s", send(cluster.grpc_port, requests,
                                                                                  total_requests, threads, acked=acked))))
        sender.start()
        max_lag = 0
        while True:
            written = cluster.written()
            max_lag = max(max_lag, acked[0] * per_request - written)
            if written >= expected:
                break
            time.sleep(0.25)
        done_s = time.perf_counter() - started
        sender.join()
        acked_s = dict(samples)["acked_s"]
        return {"spans": expected, "acked_spans_per_s": round(expected / acked_s),
                "queryable_spans_per_s": round(expected / done_s), "max_lag_spans": max_lag}
    finally:
        cluster.stop()


def run_lag(requests, per_request: int, threads: int, rate_spans: float, seconds: float, tmp: str) -> dict:
    """One writer fed at ``rate_spans``: lag (acked − written) sampled every 0.25 s."""
    cluster = Cluster(tmp, 1)
    try:
        cluster.wait_assigned()
        rate_rps = rate_spans / per_request
        total = max(1, int(rate_rps * seconds))
        acked = [0]
        sender = threading.Thread(target=lambda: send(cluster.grpc_port, requests, total, threads, rate_rps, acked))
        sender.start()
        lags = []
        while sender.is_alive() or cluster.written() < total * per_request:
            lags.append(max(0, acked[0] * per_request - cluster.written()) / rate_spans)
            time.sleep(0.25)
        sender.join()
        lags.sort()
        return {"feed_spans_per_s": round(rate_spans), "seconds": seconds, "lag_p50_s": round(lags[len(lags) // 2], 2),
                "lag_p95_s": round(lags[int(len(lags) * 0.95)], 2), "lag_max_s": round(lags[-1], 2)}
    finally:
        cluster.stop()


def run_broker_ceiling(requests, total_requests: int, per_request: int, tmp: str) -> dict:
    """kafka-python alone on the same broker and bytes: produce (acks=all) then consume everything."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    broker = TansuBroker(os.path.join(tmp, "tansu-ceiling.log")).start()
    try:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic("ceiling", 4, 1)])
        admin.close()
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5, batch_size=1 << 20,
                                 max_request_size=4 << 20)
        t0 = time.perf_counter()
        futures = [producer.send("ceiling", requests[n % len(requests)]) for n in range(total_requests)]
        producer.flush()
        for f in futures:
            f.get(30)
        produce_s = time.perf_counter() - t0
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                                 auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
        tps = [TopicPartition("ceiling", p) for p in range(4)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got = 0
        t0 = time.perf_counter()
        while got < total_requests:
            for msgs in consumer.poll(timeout_ms=500, max_records=10_000).values():
                got += len(msgs)
        consume_s = time.perf_counter() - t0
        consumer.close()
        spans = total_requests * per_request
        mib = sum(len(requests[n % len(requests)]) for n in range(total_requests)) / 2**20
        return {"produce_spans_per_s": round(spans / produce_s), "consume_spans_per_s": round(spans / consume_s),
                "produce_mib_per_s": round(mib / produce_s, 1), "consume_mib_per_s": round(mib / consume_s, 1)}
    finally:
        broker.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--per-request", type=int, default=512)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--distinct", type=int, default=64, help="distinct pre-encoded requests, cycled")
    ap.add_argument("--lag-seconds", type=float, default=20.0, help="length of the 50 %% feed run")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved runs of each pipeline; medians reported")
    ap.add_argument("--writer-args", default="", help="extra flags for each stackeye writer, e.g. '--batch-max-bytes 33554432'")
    args = ap.parse_args()
    ingest.SPANS_PER_REQUEST = args.per_request
    total_requests = max(1, args.spans // args.per_request)
    print(f"encoding {args.distinct} distinct requests of {args.per_request} spans…", flush=True)
    requests = ingest.make_requests(args.distinct, args.per_request)
    tmp = tempfile.mkdtemp(prefix="stackeye-bench-cluster-")
    results = {}
    try:
        runs: dict[str, list[dict]] = {"embedded": [], "cluster_1": [], "cluster_2": []}
        for rep in range(args.repeat):  # interleaved, so that load from other users hits all alike
            print(f"[{rep + 1}/{args.repeat}] embedded: stackeye up…", flush=True)
            runs["embedded"].append(ingest.run_stackeye(requests, total_requests, args.threads,
                                                        os.path.join(tmp, f"up{rep}")))
            print("  ", runs["embedded"][-1], flush=True)
            for n in (1, 2):
                print(f"[{rep + 1}/{args.repeat}] cluster: collector → Kafka → {n} writer(s)…", flush=True)
                runs[f"cluster_{n}"].append(run_cluster(requests, total_requests, args.per_request, args.threads, n,
                                                        os.path.join(tmp, f"c{n}-{rep}"), tuple(args.writer_args.split())))
                print("  ", runs[f"cluster_{n}"][-1], flush=True)
        for name, got in runs.items():  # the median run by queryable rate
            got.sort(key=lambda r: r["queryable_spans_per_s"])
            results[name] = dict(got[len(got) // 2], runs=[r["queryable_spans_per_s"] for r in got])
        print("broker ceiling: kafka-python produce/consume of the same bytes…", flush=True)
        results["broker"] = run_broker_ceiling(requests, total_requests, args.per_request, tmp)
        print("  ", results["broker"], flush=True)
        half = results["cluster_1"]["queryable_spans_per_s"] / 2
        print(f"lag: one writer fed at {half:,.0f} spans/s for {args.lag_seconds:g} s…", flush=True)
        results["lag"] = run_lag(requests, args.per_request, args.threads, half, args.lag_seconds, os.path.join(tmp, "lag"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    emb = results["embedded"]["queryable_spans_per_s"]
    rows = [
        {"path": "embedded: stackeye up", "spans/s queryable": emb, "spans/s acked": results["embedded"]["acked_spans_per_s"],
         "vs embedded": "1.00", "max lag (spans)": ""},
    ]
    for n in (1, 2):
        r = results[f"cluster_{n}"]
        rows.append({"path": f"cluster: {n} writer{'s' if n > 1 else ''}", "spans/s queryable": r["queryable_spans_per_s"],
                     "spans/s acked": r["acked_spans_per_s"], "vs embedded": f"{r['queryable_spans_per_s'] / emb:.2f}",
                     "max lag (spans)": r["max_lag_spans"]})
    b = results["broker"]
    rows.append({"path": "broker ceiling (kafka-python alone)", "spans/s queryable": b["consume_spans_per_s"],
                 "spans/s acked": b["produce_spans_per_s"], "vs embedded": "", "max lag (spans)": ""})
    print()
    print(table(rows))
    print(f"\nbroker: produce {b['produce_mib_per_s']} MiB/s, consume {b['consume_mib_per_s']} MiB/s")
    print(f"lag at 50 % of one writer's rate: {results['lag']}")
    print("all runs (spans/s queryable):", {k: results[k]["runs"] for k in runs})
    print("saved", save("cluster", {"machine": machine(), "args": vars(args), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
