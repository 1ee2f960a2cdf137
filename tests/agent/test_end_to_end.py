"""The agent shipping into a real `stackeye up`: host metrics with host resource attributes,
log lines, the collector down and back (disk buffer, replay, once), a refused token."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from stackeye.agent.runtime import Agent
from support.server import StackeyeServer
from support.services import free_port

pytestmark = pytest.mark.slow


def _sql_count(server, query):
    rows = server.sql(query)
    return int(next(iter(rows[0].values()))) if rows else 0


def test_host_metrics_arrive_with_host_resource(stackeye_up, make_config):
    agent = Agent(make_config(collector=stackeye_up.otlp_grpc, resource={"env": "e2e-host"})).start()
    try:
        agent.collect_once()
        time.sleep(0.05)
        agent.collect_once()
        base = "FROM otel_metrics_gauge WHERE ResourceAttributes['env'] = 'e2e-host'"
        assert stackeye_up.wait_for_count(f"SELECT count() {base} AND MetricName = 'system.memory.utilization'", 2, 90) >= 2
    finally:
        agent.stop()
    # gauges and sums are separate tables, written separately: wait for both
    sum_q = ("SELECT count() FROM otel_metrics_sum WHERE ResourceAttributes['env'] = 'e2e-host' "
             "AND MetricName = 'stackeye.agent.sent'")
    assert stackeye_up.wait_for_count(sum_q, 2, 90) >= 2
    rows = stackeye_up.sql(f"SELECT ResourceAttributes AS r, groupUniqArray(MetricName) AS names {base} GROUP BY r")
    assert len(rows) == 1
    res = rows[0]["r"]
    assert res["host.name"] and res["host.id"] and res["os.type"] == "linux"
    assert {"system.cpu.load_average.1m", "system.memory.utilization", "stackeye.agent.memory.rss",
            "stackeye.agent.cpu.utilization", "stackeye.agent.queue.depth", "stackeye.agent.collector.duration",
            "stackeye.agent.collector.success"} <= set(rows[0]["names"]), "host metrics and self-telemetry"
    sums = stackeye_up.sql("SELECT DISTINCT MetricName FROM otel_metrics_sum WHERE ResourceAttributes['env'] = 'e2e-host'")
    assert {"system.network.io", "system.cpu.time", "system.memory.usage", "stackeye.agent.sent",
            "stackeye.agent.dropped"} <= {r["MetricName"] for r in sums}


def test_collector_down_then_back_everything_arrives_once_in_order(tmp_path, make_config):
    """The issue's "collector down for 30 s" while the agent collects every second and the app
    keeps logging: on return every sample and every line arrives, once."""
    data = str(tmp_path / "collector")
    server = StackeyeServer(data).start()
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    log_file = log_dir / "app.log"
    cfg = make_config(collector=server.otlp_grpc, interval="1s", resource={"env": "outage"},
                      logs=[{"path": str(log_dir / "*.log")}], retry_max="1s",
                      collectors={name: {"enabled": False} for name in ("disk", "filesystem", "network", "processes")})
    agent = Agent(cfg).start()
    runner = threading.Thread(target=agent.run_forever, daemon=True)
    runner.start()
    lines = 0

    def write(n):
        nonlocal lines
        with open(log_file, "a") as f:
            for _ in range(n):
                f.write(f"line {lines:05d} INFO outage test\n")
                lines += 1
    try:
        write(20)
        assert server.wait_for_count("SELECT count() FROM otel_logs WHERE ResourceAttributes['env'] = 'outage'", 20, 90) == 20
        server.kill()  # the collector dies (kill -9): nothing it acknowledged may be lost, nothing resent twice
        for _ in range(30):
            write(10)
            time.sleep(1)
        assert agent.queue.depth > 0, "the agent buffered while the collector was away"
        restarted = StackeyeServer(data)
        restarted.grpc_port, restarted.otlp_http_port, restarted.http_port = server.grpc_port, server.otlp_http_port, free_port()
        server = restarted.start()
        write(10)
        assert server.wait_for_count("SELECT count() FROM otel_logs WHERE ResourceAttributes['env'] = 'outage'",
                                     lines, timeout=60) >= lines
        agent._stop.set()
        runner.join(timeout=30)
        assert agent.queue.wait_empty(30)
    finally:
        agent.stop()
    limit_q = ("SELECT count() FROM otel_metrics_sum WHERE ResourceAttributes['env'] = 'outage' "
               "AND MetricName = 'system.memory.limit'")
    assert server.wait_for_count(limit_q, agent.cycles, timeout=60) == agent.cycles, "every cycle's sample, once"
    logs = server.sql("SELECT Body FROM otel_logs WHERE ResourceAttributes['env'] = 'outage' ORDER BY Body")
    bodies = [r["Body"] for r in logs]
    assert bodies == [f"line {i:05d} INFO outage test" for i in range(lines)], "every line, once"
    # one memory sample per cycle: no cycle lost, none twice
    rows = server.sql("SELECT count() AS n, uniqExact(TimeUnix) AS u FROM otel_metrics_sum "
                      "WHERE ResourceAttributes['env'] = 'outage' AND MetricName = 'system.memory.limit'")
    assert rows[0]["n"] == rows[0]["u"] >= 30
    assert agent.queue.dropped == 0 and agent.shipper.rejected == 0
    server.kill()  # cleanup only


def test_refused_token_is_reported(tmp_path):
    server = StackeyeServer(str(tmp_path / "collector"), extra_args=["--token", "right-token"]).start()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stackeye.cli.main", "agent", "--collector", server.otlp_grpc, "--token", "wrong",
             "--interval", "1s", "--otlp-listen", "off", "--state-dir", str(tmp_path / "state")],
            stderr=subprocess.PIPE, text=True)
        seen: list[str] = []
        found = threading.Event()

        def read():
            for line in proc.stderr:
                seen.append(line)
                if "refused the agent's token" in line:
                    found.set()
        threading.Thread(target=read, daemon=True).start()
        found.wait(60)
        proc.terminate()
        proc.wait(30)
        assert any("refused the agent's token" in l and "--token" in l for l in seen), "".join(seen)
    finally:
        server.kill()  # cleanup only


def test_batches_buffered_before_a_restart_are_replayed(stackeye_up, make_config, tmp_path):
    """The agent collects while the collector is unreachable, stops, and starts again: the disk
    buffer is replayed first."""
    down = Agent(make_config(collector="127.0.0.1:9", resource={"env": "restart-replay"}, request_timeout="1s"))
    down.start()
    for _ in range(3):
        down.collect_once()
        time.sleep(0.01)
    down.stop(drain_timeout=0)
    assert down.queue.depth >= 3
    up = Agent(make_config(collector=stackeye_up.otlp_grpc, resource={"env": "restart-replay"})).start()
    try:
        q = ("SELECT count() FROM otel_metrics_gauge WHERE ResourceAttributes['env'] = 'restart-replay' "
             "AND MetricName = 'system.cpu.load_average.1m'")
        assert stackeye_up.wait_for_count(q, 3, 90) == 3
        assert up.queue.wait_empty(30)
    finally:
        up.stop()
    assert _sql_count(stackeye_up, q) == 3, "each buffered sample once"


def test_cli_agent_ships_metrics_logs_and_middleware_then_exits_cleanly(stackeye_up, tmp_path):
    """`stackeye agent --config FILE` as ops run it: host metrics, a tailed log file, a middleware
    collector (Redis), then SIGTERM -> exit 0."""
    import signal

    from support.services import require_service

    require_service("Redis", "127.0.0.1", 6379, "scripts/services-up")
    log_file = tmp_path / "app.log"
    log_file.write_text("2026-11-26 12:00:00 ERROR first\n  at frame 1\n2026-11-26 12:00:01 INFO second\n")
    conf = tmp_path / "agent.toml"
    conf.write_text(f"""
collector = "{stackeye_up.otlp_grpc}"
interval = "1s"
otlp_listen = "off"
state_dir = "{tmp_path / 'state'}"
resource = {{env = "cli-e2e"}}

[[logs]]
path = "{tmp_path / '*.log'}"
multiline_start = '^\\d{{4}}-'

[collectors.redis]
enabled = true
url = "redis://127.0.0.1:6379"
""")
    err = open(tmp_path / "agent.err", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "stackeye.cli.main", "agent", "--config", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=err, text=True)
    try:
        res = "ResourceAttributes['env'] = 'cli-e2e'"
        assert stackeye_up.wait_for_count(f"SELECT count() FROM otel_logs WHERE {res}", 1, timeout=60) >= 1
        assert stackeye_up.wait_for_count(
            f"SELECT count() FROM otel_metrics_gauge WHERE {res} AND MetricName = 'redis.up' AND Value = 1", 1, 60) >= 1
        # the multi-line record that ends the file is shipped once the file has been idle for a moment
        assert stackeye_up.wait_for_count(f"SELECT count() FROM otel_logs WHERE {res}", 2, timeout=60) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    err.seek(0)
    assert rc == 0, err.read()
    logs = stackeye_up.sql(f"SELECT Body, SeverityText, LogAttributes FROM otel_logs WHERE {res} ORDER BY Body")
    assert [(r["Body"], r["SeverityText"]) for r in logs] == [
        ("2026-11-26 12:00:00 ERROR first\n  at frame 1", "ERROR"), ("2026-11-26 12:00:01 INFO second", "INFO")]
    assert logs[0]["LogAttributes"]["log.file.path"] == str(log_file)
