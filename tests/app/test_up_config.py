from __future__ import annotations

import pytest
from stackeye.app.up_config import UpConfig
from stackeye.core.config import ConfigError, describe, load


def test_defaults_work():
    cfg = load(UpConfig, env={})
    assert cfg.otlp_grpc == "127.0.0.1:4317" and cfg.http == "127.0.0.1:8080" and cfg.retention_days == 7
    assert cfg.storage_url().startswith("chdb:///") and cfg.storage_url().endswith("stackeye-data/clickhouse")


def test_precedence_file_then_env_then_flags(tmp_path):
    f = tmp_path / "up.toml"
    f.write_text('retention_days = 10\nhttp = "127.0.0.1:1000"\notlp_grpc = "127.0.0.1:2000"\ntokens = ["a=t1"]\n')
    cfg = load(UpConfig, file=str(f), env={"STACKEYE_HTTP": "127.0.0.1:1001", "STACKEYE_OTLP_GRPC": "127.0.0.1:2001"},
               flags={"otlp_grpc": "127.0.0.1:2002"})
    assert (cfg.retention_days, cfg.http, cfg.otlp_grpc, cfg.tokens) == (10, "127.0.0.1:1001", "127.0.0.1:2002", ("a=t1",))


def test_env_values_are_typed():
    cfg = load(UpConfig, env={"STACKEYE_FSYNC": "false", "STACKEYE_BATCH_MAX_WAIT_S": "0.25", "STACKEYE_TOKENS": "x, y=z"})
    assert cfg.fsync is False and cfg.batch_max_wait_s == 0.25 and cfg.tokens == ("x", "y=z")


def test_unknown_file_key_is_named(tmp_path):
    f = tmp_path / "up.toml"
    f.write_text("otlp_grcp = '127.0.0.1:1'\n")
    with pytest.raises(ConfigError, match="unknown key 'otlp_grcp'.*did you mean 'otlp_grpc'"):
        load(UpConfig, file=str(f), env={})


@pytest.mark.parametrize("env,message", [
    ({"STACKEYE_RETENTION_DAYS": "0"}, "STACKEYE_RETENTION_DAYS: must be positive"),
    ({"STACKEYE_HTTP": "8080"}, "STACKEYE_HTTP: expected HOST:PORT"),
    ({"STACKEYE_FSYNC": "maybe"}, "STACKEYE_FSYNC: expected true or false"),
    ({"STACKEYE_BATCH_MAX_BYTES": str(1 << 30)}, "STACKEYE_BATCH_MAX_BYTES: must be at most '64MiB'"),
    ({"STACKEYE_BATCH_MAX_WAIT_S": "soon"}, "STACKEYE_BATCH_MAX_WAIT_S: expected a duration"),
])
def test_bad_values_say_what_is_expected(env, message):
    with pytest.raises(ConfigError, match=message):
        load(UpConfig, env=env)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(UpConfig, file=str(tmp_path / "nope.toml"), env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("x = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(UpConfig, file=str(bad), env={})


def test_every_setting_is_documented():
    for name, default, help_ in describe(UpConfig):
        assert help_, f"{name} has no help text"


def test_the_keda_scaler_is_off_by_default_and_takes_a_listen_address():
    assert load(UpConfig, env={}).keda_grpc == ""
    cfg = load(UpConfig, env={"STACKEYE_KEDA_GRPC": "0.0.0.0:9090", "STACKEYE_KEDA_RECHECK_S": "5s"},
               flags={"policy": "policies.toml"})
    assert (cfg.keda_grpc, cfg.keda_recheck_s) == ("0.0.0.0:9090", 5.0)
    assert load(UpConfig, env={}, flags={"keda_grpc": "off"}).keda_grpc == ""
    with pytest.raises(ConfigError, match="STACKEYE_KEDA_GRPC: .*HOST:PORT"):
        load(UpConfig, env={"STACKEYE_KEDA_GRPC": "9090"})


def test_the_keda_scaler_needs_a_policy_file():
    with pytest.raises(ConfigError, match="keda_grpc: .*add --policy FILE"):
        load(UpConfig, env={}, flags={"keda_grpc": "127.0.0.1:9090"})
