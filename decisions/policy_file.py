"""The policy file: one ``[<policy>.<key>]`` TOML table per service or upstream set.

::

    [autoscale.checkout]          # the autoscale policy of service "checkout"
    min_replicas = 2
    max_replicas = 20
    cpu_pct = 60

    [routing.payments]            # how gateways should route to the servers of "payments"
    source = "peers"

Each table is read with :func:`stackeye.core.config.from_mapping` into the policy's settings
dataclass (so defaults, units like ``"5m"`` and checks live with the policy), then checked across
fields by the policy's ``validate``. Every error is a :class:`~stackeye.core.config.ConfigError`
(exit 2) naming the file, the policy, the key and the field: ``policies.toml:
autoscale.checkout.max_replicas: must be at least min_replicas (2), got 1``. A file is read whole
or refused whole: nothing half-applied.

The same document comes as JSON through ``PUT /api/v1/policies``; :func:`save` writes it back as
TOML (atomically) so the running policy and the file stay one.
"""
from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable, Mapping, Sequence

import tomlkit
from stackeye.core.config import ConfigError, from_mapping, read_toml
from stackeye.core.config import settings as setting_specs
from stackeye.core.config_sample import render_table
from stackeye.core.files import write_atomically
from stackeye.decisions import registry


def registered(name: str):
    """The registered policy ``name`` (looked up at call time)."""
    return registry.get(name)


@dataclasses.dataclass(frozen=True)
class PolicyFile:
    """The policies in force: ``tables[policy][key]`` is a settings dataclass."""

    path: str = ""  # where it was read from ('' when it came from elsewhere)
    raw: Mapping[str, Mapping[str, Mapping[str, Any]]] = dataclasses.field(default_factory=dict)  # as written
    tables: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def keys(self, policy: str) -> list[str]:
        """The keys (services, upstreams) that have a table of ``policy``."""
        return sorted(self.tables.get(policy, {}))

    policy_of: Callable[[str], Any] = registered  # name -> Policy

    def settings(self, policy: str, key: str):
        """The table of ``key``, or the policy's defaults when it has none."""
        table = self.tables.get(policy, {}).get(key)
        return table if table is not None else defaults(policy, key, self.policy_of)

    def resolved(self) -> dict:
        """Every table with every setting, defaults filled in, values as a policy file writes them."""
        return {policy: {key: show(table) for key, table in sorted(tables.items())}
                for policy, tables in sorted(self.tables.items())}


def show(table) -> dict:
    """A settings dataclass as TOML values (durations as ``"5m"``…)."""
    return {s.name: _plain(s.show(getattr(table, s.name))) for s in setting_specs(type(table))}


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def defaults(policy: str, key: str, policy_of: Callable[[str], Any] = registered):
    """The settings of ``key`` with no table: every default."""
    return from_mapping(policy_of(policy).settings, {}, key=f"{policy}.{key}")


def _unknown_policy(name: str, source: str, names: Sequence[str]) -> ConfigError:
    near = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean [{near[0]}.<key>]?" if near else f"policies: {', '.join(names)}"
    return ConfigError(name, f"unknown policy [{name}]; {hint}", where=source)


def from_mapping_doc(doc: Mapping[str, Any], source: str = "", path: str = "",
                     policy_of: Callable[[str], Any] = registered, names: Sequence[str] | None = None) -> PolicyFile:
    """A policy file from its parsed document (TOML or the API's JSON); ``source`` names it in errors.
    ``policy_of`` and ``names``: the policies known (default: the registry's)."""
    names = list(names if names is not None else registry.POLICIES)
    where = source or path or "policies"
    if not isinstance(doc, Mapping):
        raise ConfigError("", f"{where}: expected tables like [autoscale.<service>], got {doc!r}")
    tables: dict[str, dict[str, Any]] = {}
    for name, by_key in doc.items():
        if name not in names:
            raise _unknown_policy(str(name), where, names)
        policy = policy_of(name)
        if not isinstance(by_key, Mapping) or any(not isinstance(t, Mapping) for t in by_key.values()):
            raise ConfigError(name, f"expected one [{name}.<{policy.key_noun}>] table per {policy.key_noun}, e.g. "
                                    f"[{name}.checkout]", where=f"{where}: {name}")
        for key, table in by_key.items():
            settings = from_mapping(policy.settings, table, key=f"{name}.{key}", source=where)
            problems = policy.validate(settings)
            if problems:
                field, problem = problems[0]
                path_ = f"{name}.{key}.{field}"
                raise ConfigError(path_, problem, where=f"{where}: {path_}")
            tables.setdefault(name, {})[str(key)] = settings
    return PolicyFile(path, {k: {kk: dict(vv) for kk, vv in v.items()} for k, v in doc.items()}, tables, policy_of)


def load(path: str, **known) -> PolicyFile:
    """The policy file at ``path`` (ConfigError naming file, policy, key and field when it is bad);
    ``known``: ``policy_of``/``names`` as :func:`from_mapping_doc` takes them."""
    try:
        doc = read_toml(path)
    except ConfigError as exc:  # read_toml speaks of --config: this is the policy file
        raise ConfigError("policy", exc.problem.replace("config file", "policy file"), where="--policy") from None
    return from_mapping_doc(doc, source=path, path=path, **known)


def dumps(policies: PolicyFile) -> str:
    """The policies as TOML, as written (``[autoscale.checkout]`` tables)."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("stackeye decision policies (docs/decisions.md); PUT /api/v1/policies rewrites this file"))
    for name, by_key in policies.raw.items():
        outer = tomlkit.table(is_super_table=True)
        for key, table in by_key.items():
            inner = tomlkit.table()
            for k, v in table.items():
                inner.add(k, v)
            outer.add(key, inner)
        doc.add(name, outer)
    return tomlkit.dumps(doc)


def save(policies: PolicyFile, path: str) -> None:
    """Write ``policies`` to ``path`` atomically (a reader sees the old file or the new one)."""
    write_atomically(path, dumps(policies))


EXAMPLE_KEY = "checkout"


def sample(policies: Sequence[str] | None = None, policy_of: Callable[[str], Any] = registered) -> str:
    """A policy file with every setting of each policy, its default and what it does (commented
    TOML, generated from the settings dataclasses: docs/decisions.md embeds it)."""
    parts = ["# stackeye decision policies: one table per service ([autoscale.<service>]) or upstream set",
             "# ([routing.<upstream>]); every key is optional, these are the defaults.", ""]
    for name in policies or registry.POLICIES:
        policy = policy_of(name)
        parts.append(f"# [{name}.<{policy.key_noun}>]: {policy.summary}")
        parts.append(render_table(defaults(name, EXAMPLE_KEY, policy_of), f"{name}.{EXAMPLE_KEY}"))
    return "\n".join(parts)


DOCS_BEGIN, DOCS_END = "<!-- policy-sample", "<!-- /policy-sample -->"


def docs_block(text: str) -> str:
    """The generated block of docs/decisions.md (between its markers)."""
    start = text.index("\n", text.index(DOCS_BEGIN)) + 1
    return text[start:text.index(DOCS_END)]


def write_docs(path: str, policy_of: Callable[[str], Any] = registered) -> None:
    """Put :func:`sample` into ``path`` between the policy-sample markers."""
    with open(path) as f:
        text = f.read()
    old = docs_block(text)
    with open(path, "w") as f:
        f.write(text.replace(old, "```toml\n" + sample(policy_of=policy_of) + "```\n", 1))


if __name__ == "__main__":  # the sample policy file; --write-docs docs/decisions.md refreshes the docs
    import sys

    if sys.argv[1:2] == ["--write-docs"]:
        write_docs(sys.argv[2])
    else:
        print(sample(), end="")
