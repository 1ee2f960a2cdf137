"""Every process config (up, collector, writer, agent): each setting has a generated flag and is in the
sample config the command prints, and that sample loads back to the same values."""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import subprocess
import sys
import tomllib

import pytest
from stackeye.agent.config import AgentConfig
from stackeye.app.collector_config import KafkaCollectorConfig
from stackeye.app.up_config import UpConfig
from stackeye.app.writer_config import KafkaWriterConfig
from stackeye.core import config as cfg

PROCESSES = {"up": UpConfig, "collector": KafkaCollectorConfig, "writer": KafkaWriterConfig, "agent": AgentConfig}
PRINT = {"up": ["up", "--print-config"], "collector": ["collector", "--print-config"],
         "writer": ["writer", "--print-config"], "agent": ["agent", "print-config"]}


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("STACKEYE_")}


def stackeye(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", *args], capture_output=True, text=True,
                          env=_clean_env(), timeout=120)


def _sections_as_given(config, loaded):
    """The loaded config with its sections as in ``config`` (a sample writes every section out)."""
    changes = {s.name: getattr(config, s.name) for s in cfg.settings(type(loaded)) if s.kind == cfg.SECTIONS}
    for s in cfg.settings(type(loaded)):
        if s.kind == cfg.SECTIONS:
            for name, (cls, _doc) in s.sections().items():
                assert getattr(loaded, s.name).get(name, cls()) == getattr(config, s.name).get(name, cls()), name
    return dataclasses.replace(loaded, **changes)


@pytest.mark.parametrize("command", PROCESSES)
def test_every_setting_has_a_generated_flag(command):
    parser = argparse.ArgumentParser()
    importlib.import_module(f"stackeye.cli.{command}").configure(parser)
    flags = set(parser._option_string_actions)
    assert "--config" in flags
    for s in cfg.settings(PROCESSES[command]):
        wanted = s.options.toggle if s.kind == cfg.SECTIONS else (s.flag,)
        for flag in wanted:
            assert flag in flags, f"{command}: setting {s.name} has no flag {flag}"
        assert s.help, f"{command}: setting {s.name} has no help"


@pytest.mark.parametrize("command", PROCESSES)
def test_the_printed_sample_has_every_setting_and_loads_back_to_the_defaults(command, tmp_path):
    cls = PROCESSES[command]
    out = stackeye(*PRINT[command])
    assert out.returncode == 0, out.stderr
    doc = tomllib.loads(out.stdout)
    for s in cfg.settings(cls):
        if s.kind == cfg.TABLES:
            assert f"[[{s.name}]]" in out.stdout, f"{command}: [[{s.name}]] is not shown"
        elif s.kind == cfg.SECTIONS:
            assert set(doc[s.name]) == set(s.sections()), f"{command}: [{s.name}.*] sections"
        else:
            assert s.name in doc, f"{command}: {s.name} is missing from the sample"
            assert f"# {s.help.split()[0]}" in out.stdout, f"{command}: {s.name} has no comment"
    sample = tmp_path / f"{command}.toml"
    sample.write_text(out.stdout)
    default = cfg.load(cls, env={})
    assert _sections_as_given(default, cfg.load(cls, file=str(sample), env={})) == default


@pytest.mark.parametrize("command, flags", [
    ("up", ["--otlp-http", "off", "--token", "a", "--token", "b=t", "--batch-max-wait-s", "250ms",
            "--spool-max-bytes", "1GB", "--no-fsync"]),
    ("collector", ["--kafka", "k1:9092,[::1]:9093", "--produce-timeout", "2m", "--max-message-bytes", "2MiB",
                   "--http", "0.0.0.0:0"]),
    ("writer", ["--kafka", "k1:9092", "--clickhouse", "clickhouse://w:pw@ch:9000/otel", "--no-migrate",
                "--batch-max-wait", "0.3", "--connect-timeout", "1h", "--topics", "traces=t1"]),
    ("agent", ["--collector", "10.0.0.5:4317", "--interval", "90s", "--logs", "/a/*.log", "--enable", "redis",
               "--resource", "env=prod", "--no-gzip", "--otlp-listen", "off"]),
])
def test_a_printed_config_with_flags_loads_back_the_same(command, flags, tmp_path):
    cls = PROCESSES[command]
    out = stackeye(*PRINT[command], *flags)
    assert out.returncode == 0, out.stderr
    parser = argparse.ArgumentParser()
    importlib.import_module(f"stackeye.cli.{command}").configure(parser)
    from stackeye.cli.options import flag_values

    given = cfg.load(cls, env={}, flags=flag_values(cls, parser.parse_args(flags)))
    sample = tmp_path / f"{command}.toml"
    sample.write_text(out.stdout)
    assert _sections_as_given(given, cfg.load(cls, file=str(sample), env={})) == given
    assert given != cfg.load(cls, env={})
