"""The one config mechanism (stackeye.core.config) on dataclasses of its own: units, precedence,
nested tables and sections, unknown keys at any depth, types from annotations, errors naming the source."""
from __future__ import annotations

import dataclasses
import tomllib
from typing import Any, Mapping

import pytest
from stackeye.core.config import ConfigError, check_required, from_mapping, load, setting, settings
from stackeye.core.config_sample import render_toml
from stackeye.core.errors import Fatal
from stackeye.core.units import DURATION, LISTEN, LISTEN_OR_OFF, SIZE, parse_duration, parse_size, show_duration, show_size


@dataclasses.dataclass(frozen=True)
class Tail:
    path: str = setting("", "glob of files")
    mode: str = setting("beginning", "where to start", choices=("beginning", "end"))

    def validate(self) -> None:
        if not self.path:
            raise ConfigError("path", "a glob is required")


@dataclasses.dataclass(frozen=True)
class Plugin:
    enabled: bool = setting(False, "turn it on")
    timeout: float = setting(5.0, "give up after", unit=DURATION, positive=True)


def _plugins():
    return {"alpha": (Plugin, "the alpha plug-in"), "beta": (Plugin, "the beta plug-in")}


@dataclasses.dataclass(frozen=True)
class Sample:
    target: str = setting("", "where to send", "HOST:PORT", required=True, example="10.0.0.5:4317")
    listen: str = setting("127.0.0.1:4317", "where to listen", unit=LISTEN_OR_OFF)
    status: str = setting("127.0.0.1:8080", "status port", unit=LISTEN)
    interval: float = setting(10.0, "how often", unit=DURATION, positive=True, minimum=1.0)
    buffer: int = setting(256 << 20, "disk buffer", unit=SIZE, maximum=1 << 30)
    retries: int = setting(3, "attempts", positive=True)
    ratio: float = setting(0.5, "a share")
    gzip: bool = setting(True, "compress")
    timeout_bytes: str = setting("x", "a string whatever its name says")
    tokens: tuple[str, ...] = setting((), "accepted tokens", flag="--token")
    labels: Mapping[str, str] = setting({}, "extra labels", "KEY=VALUE")
    tails: tuple[Tail, ...] = setting((), "files to tail", item_key="path", example={"path": "/var/log/*.log"})
    plugins: Mapping[str, Any] = setting({}, "plug-in sections", sections=_plugins, section_noun="plug-in",
                                         toggle=("--enable", "--disable"))


def test_units_parse_and_show_round_trip():
    assert [parse_duration(v) for v in ("10s", "500ms", "2m", "1h", 3, "1.5")] == [10.0, 0.5, 120.0, 3600.0, 3.0, 1.5]
    for seconds in (0.0, 0.3, 0.25, 1.5, 10.0, 90.0, 120.0, 7200.0):
        assert parse_duration(show_duration(seconds)) == seconds
    assert show_duration(0.5) == "500ms" and show_duration(120.0) == "2m" and show_duration(10.0) == "10s"
    assert [parse_size(v) for v in ("256MiB", "1GB", "64KiB", 1000, "12")] == [256 << 20, 10**9, 64 << 10, 1000, 12]
    for n in (0, 1, 1000, 1_000_000, 16 << 20, 4 << 30, 123_457):
        assert parse_size(show_size(n)) == n
    assert show_size(16 << 20) == "16MiB" and show_size(1_000_000) == "1MB" and show_size(123_457) == 123_457
    for bad in ("soon", "-1s", True):
        with pytest.raises(ValueError):
            parse_duration(bad)
    for bad in ("lots", 1.5, "1 parsec"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_types_come_from_the_annotations_not_the_names():
    kinds = {s.name: (s.kind, s.type) for s in settings(Sample)}
    assert kinds["timeout_bytes"] == ("scalar", str)  # neither a duration nor a size because of its name
    assert kinds["tokens"] == ("list", str) and kinds["labels"] == ("map", str)
    assert kinds["tails"] == ("tables", Tail) and kinds["plugins"][0] == "sections"
    cfg = from_mapping(Sample, {"timeout_bytes": "10s", "ratio": 1, "retries": 7})
    assert cfg.timeout_bytes == "10s" and cfg.ratio == 1.0 and isinstance(cfg.ratio, float)

    @dataclasses.dataclass(frozen=True)
    class Undeclared:
        x: int = 1

    with pytest.raises(TypeError, match="not declared with stackeye.core.config.setting"):
        settings(Undeclared)

    @dataclasses.dataclass(frozen=True)
    class WrongUnit:
        wait: int = setting(1, "a duration is a float", unit=DURATION)

    with pytest.raises(TypeError, match="a duration is a float"):
        settings(WrongUnit)


def test_precedence_defaults_file_environment_flags(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('interval = "30s"\nretries = 5\nratio = 0.1\ntokens = ["file"]\n')
    env = {"STACKEYE_RETRIES": "6", "STACKEYE_RATIO": "0.2", "STACKEYE_TOKENS": "e1, e2"}
    cfg = load(Sample, file=str(f), env=env, flags={"ratio": "0.3", "gzip": False})
    assert (cfg.interval, cfg.retries, cfg.ratio, cfg.gzip, cfg.tokens) == (30.0, 6, 0.3, False, ("e1", "e2"))
    assert cfg.buffer == 256 << 20  # the default
    assert load(Sample, env={"STACKEYE_BUFFER": "1GiB", "STACKEYE_GZIP": "off"}).buffer == 1 << 30
    assert load(Sample, env={}, flags={"token": None, "tokens": ["a", "b=t"]}).tokens == ("a", "b=t")


def test_nested_tables_and_sections(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[[tails]]\npath = "/a/*.log"\nmode = "end"\n\n[labels]\nenv = "prod"\n\n'
                 '[plugins.alpha]\nenabled = true\ntimeout = "250ms"\n')
    cfg = load(Sample, file=str(f), env={"STACKEYE_LABELS": "env=staging,team=ops"},
               flags={"tails": ["/b/*.log"], "plugins": {"beta": {"enabled": True}, "alpha": {"enabled": False}}})
    assert cfg.tails == (Tail("/a/*.log", "end"), Tail("/b/*.log"))  # flags add tables to the file's
    assert cfg.labels == {"env": "staging", "team": "ops"}
    assert cfg.plugins == {"alpha": Plugin(False, 0.25), "beta": Plugin(True, 5.0)}
    assert from_mapping(Sample, {"tails": "/only/*.log"}).tails == (Tail("/only/*.log"),)


@pytest.mark.parametrize("raw, key, words", [
    ({"intervall": "1s"}, "intervall", "unknown key 'intervall'; did you mean 'interval'?"),
    ({"tails": [{"path": "/x", "mdoe": "end"}]}, "tails[0].mdoe", "unknown key 'tails[0].mdoe'; did you mean 'mode'?"),
    ({"plugins": {"alpha": {"timout": "1s"}}}, "plugins.alpha.timout", "did you mean 'timeout'?"),
    ({"plugins": {"alhpa": {}}}, "plugins.alhpa", "no such plug-in 'alhpa'; did you mean 'alpha'?"),
    ({"zzz": 1}, "zzz", "valid: buffer, gzip, interval"),
])
def test_unknown_keys_name_the_nearest_valid_one_at_any_depth(raw, key, words):
    with pytest.raises(ConfigError) as err:
        from_mapping(Sample, raw)
    assert err.value.key == key and words in str(err.value)


@pytest.mark.parametrize("raw, key, words", [
    ({"interval": "soon"}, "interval", "expected a duration like '10s'"),
    ({"interval": "0s"}, "interval", "must be positive (greater than zero)"),
    ({"interval": "500ms"}, "interval", "must be at least '1s', got '500ms'"),
    ({"buffer": "2GiB"}, "buffer", "must be at most '1GiB', got '2GiB'"),
    ({"buffer": "lots"}, "buffer", "expected a size like '256MiB'"),
    ({"retries": 1.5}, "retries", "expected a whole number"),
    ({"gzip": "yes"}, "gzip", "expected true or false"),  # in a file a boolean is true or false
    ({"timeout_bytes": 5}, "timeout_bytes", "expected a string"),
    ({"status": "8080"}, "status", "expected HOST:PORT"),
    ({"labels": {"a": 1}}, "labels", "expected a table of strings"),
    ({"tails": [{"path": "/x", "mode": "middle"}]}, "tails[0].mode", "expected one of 'beginning', 'end'"),
    ({"tails": [{"mode": "end"}]}, "tails[0].path", "a glob is required"),  # the table's validate(), re-keyed
    ({"plugins": {"beta": {"timeout": -1}}}, "plugins.beta.timeout", "cannot be negative"),
    ({"plugins": 3}, "plugins", "expected [plugins.<plug-in>] tables"),
])
def test_bad_values_name_the_key_and_what_was_expected(raw, key, words):
    with pytest.raises(ConfigError) as err:
        from_mapping(Sample, raw)
    assert err.value.key == key and words in str(err.value)
    assert isinstance(err.value, Fatal), "a bad setting exits 2"


def test_bad_values_name_their_source(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("[plugins.alpha]\nenabled = 'yes'\n")
    with pytest.raises(ConfigError, match=rf"^{f}: plugins.alpha.enabled: expected true or false"):
        load(Sample, file=str(f), env={})
    with pytest.raises(ConfigError, match=r"^STACKEYE_RETRIES: must be positive"):
        load(Sample, env={"STACKEYE_RETRIES": "0"})
    with pytest.raises(ConfigError, match=r"^--interval: expected a duration"):
        load(Sample, env={}, flags={"interval": "soon"})
    with pytest.raises(ConfigError, match=r"^--enable/--disable: plugins.gamma: no such plug-in 'gamma'"):
        load(Sample, env={}, flags={"plugins": {"gamma": {"enabled": True}}})
    with pytest.raises(ConfigError, match="does not exist"):
        load(Sample, file=str(tmp_path / "missing.toml"), env={})
    f.write_text("x = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(Sample, file=str(f), env={})


def test_off_and_required():
    assert from_mapping(Sample, {"listen": "off"}).listen == ""
    cfg = from_mapping(Sample, {})
    assert cfg.target == ""  # loading (and printing) accepts an empty required setting…
    with pytest.raises(ConfigError) as err:  # …running does not
        check_required(cfg)
    assert str(err.value).startswith("target: required: where to send; set --target 10.0.0.5:4317")
    assert "STACKEYE_TARGET" in str(err.value)
    check_required(from_mapping(Sample, {"target": "10.0.0.5:4317"}))


def test_sample_config_loads_back_to_the_same_values(tmp_path):
    default = from_mapping(Sample, {})
    text = render_toml(default, "sample")
    loaded = from_mapping(Sample, tomllib.loads(text))
    # Every section is written out (with its defaults), so the loaded map names them all.
    assert dataclasses.replace(loaded, plugins={}) == default and loaded.plugins == {"alpha": Plugin(), "beta": Plugin()}
    assert "# [[tails]]\n" in text and '# path = "/var/log/*.log"' in text  # an empty list: a commented example
    assert "# the alpha plug-in\n[plugins.alpha]\n" in text
    assert 'interval = "10s"' in text and 'buffer = "256MiB"' in text
    assert "(duration; > 0; >= 1s; flag --interval; env STACKEYE_INTERVAL)" in text
    changed = from_mapping(Sample, {"target": "[::1]:4317", "interval": "90s", "buffer": 1234, "labels": {"a.b": "c"},
                                    "tokens": ["t"], "tails": [{"path": r"C:\logs\*.log"}, {"path": "/b", "mode": "end"}],
                                    "plugins": {"beta": {"enabled": True, "timeout": 0.3}}, "listen": "off"})
    f = tmp_path / "s.toml"
    f.write_text(render_toml(changed, "sample"))
    assert load(Sample, file=str(f), env={}) == dataclasses.replace(changed, plugins={"alpha": Plugin(), **changed.plugins})
