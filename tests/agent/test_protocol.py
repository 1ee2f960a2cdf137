"""stackeye.agent.v1 end to end: the agent registers and heartbeats into `stackeye_agents`; an
operator's SetConfig changes a running agent's interval and collectors without touching files."""
from __future__ import annotations

import subprocess
import sys

import pytest
from stackeye.agent.runtime import Agent
from support.wait import wait_until

pytestmark = pytest.mark.slow


def test_register_heartbeat_and_central_config(stackeye_up, make_config):
    cfg = make_config(collector=stackeye_up.otlp_grpc, agent_protocol=True, heartbeat_interval="1s",
                      resource={"env": "protocol-test"})
    agent = Agent(cfg).start()
    try:
        q = f"SELECT count() AS n FROM stackeye_agents WHERE AgentId = '{agent.agent_id}'"
        assert stackeye_up.wait_for_count(q, 2, 90) >= 2, "registered, then at least one heartbeat"
        row = stackeye_up.sql(f"SELECT HostName, OsType, Collectors, Labels, Stats FROM stackeye_agents FINAL "
                              f"WHERE AgentId = '{agent.agent_id}'")[0]
        assert row["HostName"] == agent.resource["host.name"] and row["OsType"] == "linux"
        assert "cpu" in row["Collectors"] and row["Labels"] == {"env": "protocol-test"}
        assert {"queue_depth", "sent", "dropped", "rss_bytes", "cpu_seconds"} <= set(row["Stats"])

        r = subprocess.run([sys.executable, "-m", "stackeye.cli.main", "agent", "set-config", "--collector",
                            stackeye_up.otlp_grpc, "--agent-id", agent.agent_id, "--interval", "3s",
                            "--enable", "process"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "interval=3s" in r.stdout
        wait_until(lambda: agent.interval == 3.0 and "process" in agent.instances, timeout=60, interval=0.2,
                   message=lambda: f"SetConfig not applied: {(agent.interval, list(agent.instances))}")
        assert "cpu" in agent.instances, "without --replace-collectors the local ones stay"
    finally:
        agent.stop()
