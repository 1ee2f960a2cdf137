"""Every registered trigger template: documented parameters, its example expands into a valid rule
that measures on a migrated (empty) storage without an error, and bad parameters are named."""
from __future__ import annotations

import datetime as dt

import pytest
from stackeye.core.config import ConfigError
from stackeye.events import rule_file
from stackeye.events.condition import measure
from stackeye.events.templates import registry

NAMES = registry.TEMPLATES


@pytest.mark.parametrize("name", NAMES)
def test_template_is_documented_and_its_example_expands(name):
    t = registry.get(name)
    assert t.summary and all(p.help for p in t.params)
    triggers = rule_file.from_mapping_doc({"trigger": [{"name": f"t-{name}", "template": name, "params": t.example}]})
    rule = triggers.rules[0]
    assert bool(rule.view) != bool(rule.sql)


@pytest.mark.parametrize("name", NAMES)
def test_template_rule_measures_on_storage(name, chdb_storage):
    t = registry.get(name)
    rule = rule_file.from_mapping_doc({"trigger": [{"name": "x", "template": name, "params": t.example}]}).rules[0]
    assert measure(rule, chdb_storage(f"tpl_{name}"), dt.datetime.now(dt.timezone.utc)) == []


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_parameter_is_named(name):
    with pytest.raises(ConfigError, match=r"trigger 'x', field params\.nonsense"):
        rule_file.from_mapping_doc({"trigger": [{"name": "x", "template": name,
                                                 "params": {**registry.get(name).example, "nonsense": "1"}}]})


def test_an_unknown_template_names_the_nearest():
    with pytest.raises(ConfigError, match="did you mean 'error_rate'"):
        rule_file.from_mapping_doc({"trigger": [{"name": "x", "template": "error_rat"}]})
