#!/usr/bin/env python3
"""Long coverage-guided fuzzing runs (libFuzzer through atheris) of what reads hostile input: the
OTLP receiver per signal, the collector's agent protocol service, the config parsers.

    pip install -e '.[bench]'              # atheris
    python bench/fuzz.py                   # 60 s per target
    python bench/fuzz.py --seconds 600 --targets traces,agent

Each target runs in a process of its own (libFuzzer exits when it is done), seeded with the valid
inputs tests/fuzz mutates (tests/support). An input may be accepted or refused cleanly
(IngestError, an aborted RPC, a ConfigError, a protobuf DecodeError); anything else is a crash,
kept under bench/out/fuzz-crashes/<target>/ to replay (``python bench/fuzz.py --replay FILE
--targets T``). Reported per target: inputs, crashes, inputs/s; saved to bench/out/fuzz.json.
The tests in tests/fuzz are the fixed-size, deterministic runs; these are the long ones.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)

TARGETS = ("traces", "metrics", "logs", "agent", "config")
OUT = os.path.join(HERE, "out")


# -- the targets (run in the child) ------------------------------------------------------------

def receiver_target(signal_name: str, work: str):
    from stackeye.collector.ingest.receiver import IngestError, Receiver
    from stackeye.collector.queue.spool import Spool
    from stackeye.collector.telemetry import PipelineMetrics
    from stackeye.core.signals import Signal
    from support import hostile_otlp

    signal = Signal[signal_name.upper()]
    spool = Spool(os.path.join(work, "spool"), fsync=False, max_bytes=1 << 30)
    receiver = Receiver(spool, PipelineMetrics())
    seen = [0]

    def one(data: bytes) -> None:
        try:
            receiver.accept(signal, data, {}, "fuzz")
        except IngestError as err:
            assert err.status in ("INVALID_ARGUMENT", "RESOURCE_EXHAUSTED") and err.message, err
        seen[0] += 1
        if seen[0] % 5000 == 0:  # what was queued is consumed, as the writer would
            while (batch := spool.read(10_000, 64 << 20, 0)) is not None:
                spool.begin(batch)
                spool.commit(batch)

    return one, hostile_otlp.SEEDS[signal]()


def agent_target(work: str):
    import types

    from google.protobuf.message import DecodeError
    from stackeye.collector.ingest.agent_service import AgentService
    from stackeye.collector.ingest.receiver import TENANT_HEADER, Receiver
    from stackeye.collector.queue.spool import Spool
    from stackeye.collector.telemetry import PipelineMetrics
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url
    from support.agent_requests import RPCS, Aborted, CallContext, seeds

    storage = ChdbStorage(parse_storage_url(f"chdb://{work}/clickhouse?database=fuzz"))
    storage.migrate()
    metrics = PipelineMetrics()
    receiver = Receiver(Spool(os.path.join(work, "spool"), fsync=False), metrics)
    service = AgentService(types.SimpleNamespace(storage=storage, receiver=receiver, metrics=metrics))
    rpcs = list(RPCS)
    seen = [0]

    def one(data: bytes) -> None:
        if not data:
            return
        rpc = rpcs[data[0] % len(rpcs)]  # the first byte picks the RPC
        try:
            request = RPCS[rpc][0].FromString(data[1:])
        except DecodeError:
            return
        try:
            getattr(service, rpc)(request, CallContext({TENANT_HEADER: "fuzz"}))
        except Aborted as err:
            assert err.details, err
        seen[0] += 1
        if seen[0] % 5000 == 0:
            service.flush()

    corpus = [bytes([i]) + seed for i, rpc in enumerate(rpcs) for seed in seeds(rpc)]
    return one, corpus


def config_target(work: str):
    from stackeye.agent import config as agent_config
    from stackeye.agent.config import AgentConfig
    from stackeye.app.up_config import UpConfig
    from stackeye.core import config
    from stackeye.core.config_sample import render_toml
    from stackeye.decisions import policy_file
    from stackeye.events import rule_file

    readers = (lambda doc: config.from_mapping(UpConfig, doc), lambda doc: config.from_mapping(AgentConfig, doc),
               rule_file.from_mapping_doc, policy_file.from_mapping_doc)

    def one(data: bytes) -> None:
        if not data:
            return
        try:  # the first byte picks the reader; the same text goes to it as to `--config FILE`
            readers[data[0] % len(readers)](config.parse_toml(data[1:], "fuzz.toml"))
        except config.ConfigError as err:
            assert str(err), err

    corpus = [b"\x00" + render_toml(UpConfig(), "up").encode(), b"\x01" + agent_config.render_toml().encode(),
              b'\x02[[trigger]]\nname = "slow"\nview = "red"\nvalue = "p95_ms"\nthreshold = 250\nfor = "2m"\n',
              b'\x03[autoscale.checkout]\nmin_replicas = 2\nmax_replicas = 20\n\n[routing.payments]\nsource = "peers"\n']
    return one, corpus


def build(target: str, work: str):
    if target == "agent":
        return agent_target(work)
    if target == "config":
        return config_target(work)
    return receiver_target(target, work)


def child(target: str, seconds: float, replay: str | None) -> None:
    import atheris

    work = tempfile.mkdtemp(prefix=f"stackeye-fuzz-{target}-")
    with atheris.instrument_imports(include=["stackeye"]):
        one, corpus = build(target, work)
    if replay:
        with open(replay, "rb") as f:
            one(f.read())
        print("replayed without a crash")
        return
    corpus_dir = os.path.join(OUT, "fuzz-corpus", target)
    crash_dir = os.path.join(OUT, "fuzz-crashes", target)
    os.makedirs(corpus_dir, exist_ok=True)
    os.makedirs(crash_dir, exist_ok=True)
    for i, seed in enumerate(corpus):
        with open(os.path.join(corpus_dir, f"seed-{i}"), "wb") as f:
            f.write(seed)
    atheris.Setup([sys.argv[0], corpus_dir, f"-max_total_time={int(seconds)}", f"-artifact_prefix={crash_dir}/",
                   "-print_final_stats=1", "-rss_limit_mb=4096", "-max_len=65536", "-timeout=30"], one)
    atheris.Fuzz()


# -- the driver ---------------------------------------------------------------------------------

def run(target: str, seconds: float) -> dict:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", target, "--seconds", str(seconds)],
                          capture_output=True, text=True, errors="replace", timeout=seconds * 3 + 120)
    elapsed = time.monotonic() - started
    log = proc.stdout + proc.stderr
    with open(os.path.join(OUT, f"fuzz-{target}.log"), "w") as f:
        f.write(log)
    units = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log) or re.findall(r"Done (\d+) runs", log)
    inputs = int(units[-1]) if units else 0
    crashes = len(re.findall(r"Test unit written to", log))
    coverage = re.findall(r"\bcov: (\d+)", log)
    return {"target": target, "seconds": round(elapsed, 1), "inputs": inputs, "crashes": crashes,
            "inputs_per_s": round(inputs / max(elapsed, 1e-9)), "coverage_edges": int(coverage[-1]) if coverage else 0,
            "exit": proc.returncode}  # agent: -11 after the final stats is chDB torn down by libFuzzer's exit()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="per target (default 60)")
    p.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, of {', '.join(TARGETS)}")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--replay", help="run one saved input (a crash file) through the --targets target")
    args = p.parse_args()
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("bench/fuzz.py needs atheris: pip install -e '.[bench]' (or pip install atheris)", file=sys.stderr)
        return 2
    if args.child or args.replay:
        child(args.child or args.targets, args.seconds, args.replay)
        return 0
    from common import machine, save, table

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        print(f"unknown targets {sorted(unknown)}; use {', '.join(TARGETS)}", file=sys.stderr)
        return 2
    os.makedirs(OUT, exist_ok=True)
    info = machine()
    rows = []
    for target in targets:
        rows.append(run(target, args.seconds))
        print(f"{target}: {rows[-1]['inputs']} inputs, {rows[-1]['crashes']} crashes", flush=True)
    print(table(rows))
    path = save("fuzz", {"machine": info, "seconds_per_target": args.seconds, "results": rows})
    print(f"saved {path}")
    return 1 if any(r["crashes"] or r["inputs"] == 0 for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
