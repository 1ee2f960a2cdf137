"""``stackeye triggers check FILE``: read a triggers file whole; a bad one exits 2 naming rule and field."""
from __future__ import annotations

HELP = "validate a triggers file ([[trigger]], [[notifier]]); exit 2 naming the rule and field of an error"
EPILOG = """examples:
  stackeye triggers check /etc/stackeye/triggers.toml
"""


def configure(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="the triggers file (TOML)")


def run(args) -> int:
    from stackeye.events import rule_file

    triggers = rule_file.load(args.file)  # ConfigError: exit 2 with file, rule and field
    for rule in triggers.rules:
        how = f"view {rule.view}.{rule.value}" if rule.view else "sql"
        hold = f" for {rule.for_:g}s" if rule.for_ else ""
        print(f"{rule.name}: {how} {rule.op} {rule.threshold:g}{hold} ({rule.severity})")
    kinds = ", ".join(n.id for n in triggers.notifiers) or "none"
    print(f"{args.file}: {len(triggers.rules)} triggers, notifiers: {kinds}")
    return 0
