"""Config: defaults, print-config generated from the dataclasses, errors that name the key, exit 2."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import tomllib
from stackeye.agent import config as agent_config
from stackeye.agent import registry
from stackeye.agent.config import ConfigError


def test_defaults_are_safe():
    cfg = agent_config.from_mapping({})
    assert cfg.interval == 10.0
    assert cfg.otlp_listen == "127.0.0.1:4317"  # loopback only
    assert cfg.enabled_collectors() == ["cpu", "memory", "load", "disk", "filesystem", "network", "processes"]


def test_print_config_round_trips_to_the_defaults():
    text = agent_config.render_toml()
    doc = tomllib.loads(text)
    parsed, default = agent_config.from_mapping(doc), agent_config.from_mapping({})
    assert dataclasses.replace(parsed, collectors={}) == default
    for c in registry.all_collectors():
        assert parsed.collector_config(c.name) == default.collector_config(c.name)
    for name in ("collector", "token", "interval", "otlp_listen", "state_dir", "tls_ca_file", "buffer_max_bytes"):
        assert name in doc
    assert doc["collectors"]["redis"] == {"enabled": False, "url": "redis://127.0.0.1:6379", "timeout": "5s"}


def test_flags_override_file(tmp_path):
    f = tmp_path / "agent.toml"
    f.write_text('collector = "10.0.0.5:4317"\ninterval = "30s"\n[[logs]]\npath = "/a/*.log"\n[collectors.redis]\nenabled = true\n')
    cfg = agent_config.load(str(f), {"interval": "5s", "logs": ["/b/*.log"], "enable": ["nginx"], "disable": ["cpu"]})
    assert cfg.collector == "10.0.0.5:4317" and cfg.interval == 5.0
    assert [s.path for s in cfg.logs] == ["/a/*.log", "/b/*.log"]
    assert {"redis", "nginx"} <= set(cfg.enabled_collectors()) and "cpu" not in cfg.enabled_collectors()


@pytest.mark.parametrize("raw, key, words", [
    ({"interval": "ten"}, "interval", "duration like '10s'"),
    ({"interval": "0s"}, "interval", "greater than zero"),
    ({"collector": "nohost"}, "collector", "HOST:PORT"),
    ({"colector": "a:1"}, "colector", "did you mean 'collector'"),
    ({"collector": "localhost:4317"}, "otlp_listen", "send to itself"),
    ({"buffer_max_bytes": "lots"}, "buffer_max_bytes", "size like"),
    ({"gzip": "yes"}, "gzip", "true or false"),
    ({"tls_ca_file": "/nonexistent/ca.pem"}, "tls_ca_file", "no such file"),
    ({"logs": [{"path": "/x", "multiline_start": "("}]}, "logs[0].multiline_start", "regular expression"),
    ({"logs": [{"multiline_start": "^x"}]}, "logs[0].path", "glob"),
    ({"collectors": {"redis": {"url": 5}}}, "collectors.redis.url", "string"),
    ({"collectors": {"redis": {"timout": "1s"}}}, "collectors.redis.timout", "did you mean 'timeout'"),
    ({"collectors": {"mongo": {}}}, "collectors.mongo", "no such collector"),
])
def test_bad_config_names_the_key(raw, key, words):
    with pytest.raises(ConfigError) as err:
        agent_config.from_mapping(raw)
    assert err.value.key == key
    assert words in str(err.value)


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", "agent", *args],
                          capture_output=True, text=True, timeout=60, **kw)


def test_cli_bad_config_exits_2_naming_the_key(tmp_path):
    r = _cli("--interval", "soon")
    assert r.returncode == 2
    assert "interval" in r.stderr and "10s" in r.stderr
    bad = tmp_path / "agent.toml"
    bad.write_text("[collectors.redis]\nenabled = 'yes'\n")
    r = _cli("--config", str(bad))
    assert r.returncode == 2 and "collectors.redis.enabled" in r.stderr
    bad.write_text("collector = \n")
    r = _cli("--config", str(bad))
    assert r.returncode == 2 and "not valid TOML" in r.stderr


def test_cli_running_needs_a_collector(tmp_path):
    r = _cli("--state-dir", str(tmp_path))
    assert r.returncode == 2 and "collector: required" in r.stderr and "--collector" in r.stderr


def test_cli_unwritable_state_dir_names_the_key(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = _cli("--collector", "127.0.0.1:9", "--state-dir", str(blocker / "sub"))
    assert r.returncode == 2 and "state_dir: cannot write" in r.stderr and "--state-dir" in r.stderr


def test_cli_print_config_and_install_service_dry_run():
    r = _cli("print-config", "--interval", "15s")
    assert r.returncode == 0 and 'interval = "15s"' in r.stdout and "[collectors.nginx]" in r.stdout
    r = _cli("install-service", "--dry-run", "--collector", "10.0.0.5:4317")
    assert r.returncode == 0
    assert "User=stackeye" in r.stdout and "agent --collector 10.0.0.5:4317" in r.stdout
    r = _cli("install-service", "--dry-run", "--collector", "10.0.0.5:4317", "--token", "secret", "--logs", "/a/*.log")
    assert "--logs '/a/*.log'" in r.stdout and "secret" not in r.stdout, "the token stays out of the unit"
    assert "NoNewPrivileges=yes" in r.stdout


def test_public_api(tmp_path):
    from stackeye.agent import Agent, AgentConfig, load_config
    from stackeye.agent import ConfigError as PublicConfigError

    cfg = load_config(None, {"collector": "127.0.0.1:9", "state_dir": str(tmp_path), "otlp_listen": "off"})
    assert isinstance(cfg, AgentConfig) and PublicConfigError is ConfigError and callable(Agent)
