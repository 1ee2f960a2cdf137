"""The agent shipping to a real ``stackeye up --tls-cert … --client-ca``: with its client certificate
it gets in, without one (or when it cannot verify the collector) nothing is accepted and the data
stays buffered on disk."""
from __future__ import annotations

import pytest
from stackeye.agent.runtime import Agent
from stackeye.core.config import ConfigError
from support.certs import make_ca, make_leaf
from support.tls_server import TLSStackeyeServer
from support.wait import wait_until

OFF = {n: {"enabled": False} for n in ("cpu", "disk", "filesystem", "network", "processes")}
COUNT = "SELECT count() FROM otel_metrics_gauge WHERE ResourceAttributes['test.agent'] = '{}'"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("certs")
    make_ca(tmp_path)
    make_leaf(tmp_path, "served", serial=101)
    make_leaf(tmp_path, "agent", serial=303, client=True)
    make_ca(tmp_path, "other-ca")
    make_leaf(tmp_path, "stranger", ca="other-ca", serial=404, client=True)
    return tmp_path


@pytest.fixture(scope="module")
def mtls_up(tmp_path_factory, certs):
    """One server for the module: each test's agent tags its data with its own name."""
    srv = TLSStackeyeServer(str(tmp_path_factory.mktemp("up") / "data"), certs, ["--client-ca", str(certs / "ca.pem")],
                            client=(str(certs / "agent.pem"), str(certs / "agent.key")))
    srv.start()
    yield srv
    srv.stop()


def _agent(make_config, tmp_path, srv, name: str, **tls) -> Agent:
    return Agent(make_config(collector=f"localhost:{srv.grpc_port}", state_dir=str(tmp_path / f"state-{name}"),
                             resource={"test.agent": name}, collectors=OFF, **tls))


def _ship_and_stop(agent: Agent, wait_s: float) -> tuple[bool | None, int]:
    agent.start()
    try:
        agent.collect_once()
        wait_until(lambda: agent.shipper.connected is not None, timeout=wait_s, interval=0.1, required=False)
        return agent.shipper.connected, agent.queue.depth
    finally:
        agent.stop(drain_timeout=0)


def test_the_agent_with_its_client_certificate_is_accepted(tmp_path, certs, mtls_up, make_config):
    agent = _agent(make_config, tmp_path, mtls_up, "with-cert", tls_ca_file=str(certs / "ca.pem"),
                   tls_client_cert=str(certs / "agent.pem"), tls_client_key=str(certs / "agent.key"))
    connected, _ = _ship_and_stop(agent, 60)
    assert connected is True
    assert mtls_up.wait_for_count(COUNT.format("with-cert"), 1, timeout=60) >= 1


@pytest.mark.parametrize("name,tls", [
    ("no-cert", {"tls_ca_file": "ca.pem"}),  # verifies the collector, shows nothing
    ("stranger", {"tls_ca_file": "ca.pem", "tls_client_cert": "stranger.pem", "tls_client_key": "stranger.key"}),
    ("system-cas", {"tls": True, "tls_client_cert": "agent.pem", "tls_client_key": "agent.key"}),  # cannot verify our test CA
])
def test_an_agent_the_collector_or_the_agent_does_not_trust_ships_nothing(tmp_path, certs, mtls_up, make_config,
                                                                         name, tls):
    agent = _agent(make_config, tmp_path, mtls_up, name,
                   **{k: (v if isinstance(v, bool) else str(certs / v)) for k, v in tls.items()})
    connected, depth = _ship_and_stop(agent, 20)
    assert connected is False and depth >= 1  # kept on disk for when the certificates are fixed
    assert mtls_up.sql(f"SELECT count() AS n FROM otel_metrics_gauge WHERE ResourceAttributes['test.agent'] = '{name}'"
                       )[0]["n"] == 0


def test_agent_tls_settings(make_config, certs, tmp_path):
    assert make_config(collector="c:4317").channel_tls() is None
    assert make_config(collector="c:4317", tls=True).channel_tls().ca_file == ""
    both = make_config(collector="c:4317", tls_client_cert=str(certs / "agent.pem"))
    assert both.channel_tls().client_cert.endswith("agent.pem")
    with pytest.raises(ConfigError, match="tls_client_key: a client key without its certificate"):
        make_config(collector="c:4317", tls_client_key=str(certs / "agent.key"))
    with pytest.raises(ConfigError, match="tls_client_cert: cannot read"):
        make_config(collector="c:4317", tls_client_cert=str(tmp_path / "missing.pem"))
