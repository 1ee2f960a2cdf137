"""``stackeye decide apply routing|autoscale``: put decisions into effect, dry-run unless --apply.

``routing`` sets a live HAProxy's servers over its admin socket (only those that differ, read back
to verify) or rewrites nginx's upstream file (``nginx -t``, roll back when refused, graceful
reload); ``autoscale`` runs a command per service whose replica count changes (``--exec``). The
decisions come from where ``stackeye decide routing|autoscale`` get theirs (the running stackeye,
or the data), evaluated read-only. Exit 0 when everything planned or applied went through, 1 when
something failed (the report says what, server by server), 2 for bad flags.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import signal
import sys
import threading

from stackeye.cli import decision_source
from stackeye.cli.decide_routing import add_render_flags, render_options
from stackeye.cli.errors import UsageError
from stackeye.core.errors import Fatal

HELP = "apply decisions, dry-run by default: HAProxy's runtime API, nginx's upstream file, a command per service"
EPILOG = """examples:
  stackeye decide apply routing --upstream checkout --haproxy-socket /run/haproxy/admin.sock --backend checkout
  stackeye decide apply routing --upstream checkout --haproxy-socket /run/haproxy/admin.sock --apply
  stackeye decide apply routing --upstream checkout --nginx-conf /etc/nginx/conf.d/checkout-upstream.conf --apply
  stackeye decide apply autoscale --service checkout --exec 'kubectl scale deployment/{service} --replicas={desired}'
  stackeye decide apply routing --upstream checkout --haproxy-socket /run/haproxy/admin.sock --apply --every 5s

Without --apply nothing changes: the report shows what would (HAProxy: the commands, after reading
the live state; nginx: the file's diff; --exec: the commands). See docs/gateways.md.
"""

ROUTING_EPILOG = """examples:
  stackeye decide apply routing --upstream checkout --haproxy-socket /run/haproxy/admin.sock --dry-run
  stackeye decide apply routing --upstream checkout --haproxy-socket 127.0.0.1:9999 --backend be_checkout --apply
  stackeye decide apply routing --upstream checkout --nginx-conf /etc/nginx/conf.d/checkout-upstream.conf --apply
  stackeye decide apply routing --upstream checkout --nginx-conf up.conf --server-map-file servers.toml --apply
  stackeye decide apply routing --upstream checkout --haproxy-socket /run/haproxy/admin.sock --apply --every 5s

HAProxy needs `stats socket PATH level admin` in its global section; decisions whose server the
backend does not have fail (add it to haproxy.cfg). nginx: the file holds only stackeye's upstream
block, included inside http {} of --nginx-main-conf; the previous file is kept as FILE.last-good.
"""

AUTOSCALE_EPILOG = """examples:
  stackeye decide apply autoscale --exec 'kubectl scale deployment/{service} --replicas={desired}'
  stackeye decide apply autoscale --service checkout --exec 'nomad job scale checkout {desired}' --apply

Fields: {service} {desired} {current} {limiting_target}. Only services whose desired count differs
from the current one get a command; there is no shell (the template is split into words first).
Do not point KEDA and --exec at the same workload (docs/keda.md).
"""


def _common(p) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", dest="apply", action="store_false",
                      help="show what would change and change nothing (the default)")
    mode.add_argument("--apply", dest="apply", action="store_true", help="make the changes")
    p.set_defaults(apply=False)
    p.add_argument("--every", metavar="DURATION", default=None,
                   help="apply again every DURATION (e.g. 5s) until stopped (SIGTERM, Ctrl-C), logging each change")
    decision_source.add_flags(p)


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="apply_what", metavar="WHAT")
    r = sub.add_parser("routing", help="routing decisions to HAProxy (runtime API) or nginx (upstream file)",
                       description="apply an upstream's routing decisions to HAProxy or nginx, dry-run by default",
                       epilog=ROUTING_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--upstream", required=True, help="the upstream set (a [routing.<upstream>] key or a service)")
    gw = r.add_mutually_exclusive_group(required=True)
    gw.add_argument("--haproxy-socket", metavar="PATH|HOST:PORT", help="HAProxy's admin socket (level admin)")
    gw.add_argument("--nginx-conf", metavar="FILE", help="the upstream file nginx includes, rewritten by stackeye")
    r.add_argument("--nginx-main-conf", default="/etc/nginx/nginx.conf",
                   help="the main configuration nginx -t and nginx -s reload use (default: /etc/nginx/nginx.conf)")
    r.add_argument("--nginx-prefix", default="", metavar="DIR", help="nginx -p DIR (default: nginx's own)")
    r.add_argument("--nginx-bin", default="", metavar="PATH", help="the nginx binary (default: nginx on PATH)")
    add_render_flags(r)
    _common(r)
    r.set_defaults(_apply_run=run_routing, _apply_parser=r)
    a = sub.add_parser("autoscale", help="a command per service whose replica count changes (--exec)",
                       description="run a command per autoscale decision, dry-run by default",
                       epilog=AUTOSCALE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--exec", dest="exec_template", required=True, metavar="TEMPLATE",
                   help="the command, e.g. 'kubectl scale deployment/{service} --replicas={desired}'")
    a.add_argument("--service", help="only this service (default: every service of the policies)")
    a.add_argument("--exec-timeout", type=float, default=60.0, metavar="SECONDS",
                   help="how long one command may run (default: 60)")
    _common(a)
    a.set_defaults(_apply_run=run_autoscale, _apply_parser=a)
    parser.set_defaults(_apply_top=parser)


def run(args) -> int:
    if not getattr(args, "_apply_run", None):
        args._apply_top.print_help()
        return 2
    if args.print_policy:
        from stackeye.decisions import policy_file

        print(policy_file.sample([args.apply_what]), end="")
        return 0
    if args.every is None:
        return args._apply_run(args, False)
    if args.at:
        raise UsageError("--every decides as of now, round after round: drop --at")
    return _every(args, _interval(args.every))


def _interval(text: str) -> float:
    from stackeye.core.units import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--every: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"--every: must be more than 0, got {text!r}; e.g. --every 5s")
    return seconds


def _every(args, interval: float) -> int:
    """A round every ``interval`` seconds until SIGTERM/SIGINT; 0 once stopped."""
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    first = True
    try:
        while not stop.is_set():
            try:
                args._apply_run(args, True)
            except Fatal as exc:
                if first:
                    raise
                _log(args, {"action": "failed", "message": f"{exc} (next round in {interval:g} s)"})
            first = False
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _log(args, change: dict) -> None:
    """One change of a --every round: a line with the time, or a JSON line with ``--format json``."""
    at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if args.format == "json":
        print(json.dumps({"at": at, **change}, ensure_ascii=False), flush=True)
        return
    who = " ".join(str(change[k]) for k in ("server", "service", "conf") if change.get(k))
    extra = f" [{change['commands']}]" if change.get("commands") else ""
    print(f"{at} {who + ' ' if who else ''}{change['action']}: {change.get('message', '')}{extra}", flush=True)


def _rows(kind: str, args, params: dict, changes_only: bool = False):
    try:
        return decision_source.evaluate(kind, args, params)
    except decision_source.DecideFailed as exc:
        if changes_only:
            _log(args, {"action": "failed", "message": str(exc)})
        else:
            print(f"stackeye decide apply {kind}: {exc}", file=sys.stderr)
        return None


def _print(results, columns: list[str], fmt: str) -> None:
    decision_source.print_rows([dataclasses.asdict(r) for r in results], columns, fmt)


def _changes(args, results) -> None:
    for r in results:
        if r.action not in ("unchanged", "planned"):
            _log(args, {k: v for k, v in dataclasses.asdict(r).items() if v not in ("", ())})
        elif r.action == "planned":
            _log(args, {**dataclasses.asdict(r), "message": f"{r.message} (dry-run)"})


def run_routing(args, changes_only: bool = False) -> int:
    """One round; ``changes_only`` (--every): log what changed instead of the full report."""
    from stackeye.decisions import gateways

    from stackeye.decisions.actuators import haproxy_runtime

    options = render_options(args)
    api = haproxy_runtime.RuntimeAPI(args.haproxy_socket) if args.haproxy_socket else None  # no socket: exit 2 now
    rows = _rows("routing", args, {"upstream": args.upstream}, changes_only)
    if rows is None:
        return 1
    if changes_only and not rows:
        return 0  # no calls in the window yet: nothing to hand the gateway, ask again next round
    if api is not None:
        from stackeye.decisions.gateways import haproxy

        wanted = haproxy.settings(args.upstream, rows, options, need_address=False)
        backend = haproxy.backend_name(args.upstream, options)
        report = haproxy_runtime.apply(api, backend, wanted, dry_run=not args.apply)
        results = [dataclasses.replace(r, commands="; ".join(r.commands)) for r in report.results]
        if changes_only:
            _changes(args, results)
            return 0 if report.ok else 1
        _print(results, ["server", "name", "action", "commands", "message"], args.format)
        failed = [r.server for r in report.results if r.action == "failed"]
        if failed:
            print(f"stackeye decide apply routing: not applied to {', '.join(failed)} of backend {backend}",
                  file=sys.stderr)
        elif report.dry_run:
            print("dry-run: nothing sent (pass --apply to send the commands)", file=sys.stderr)
        return 0 if report.ok else 1
    from stackeye.decisions.actuators import nginx_conf

    nginx = nginx_conf.Nginx(main_conf=args.nginx_main_conf, prefix=args.nginx_prefix, binary=args.nginx_bin)
    report = nginx_conf.apply(gateways.render("nginx", args.upstream, rows, options), args.nginx_conf, nginx,
                              dry_run=not args.apply)
    if changes_only:
        if report.action != "unchanged":
            changed = [ln for ln in report.diff.splitlines()
                       if ln[:1] in ("+", "-") and ln[:3] not in ("+++", "---")]
            _log(args, {"conf": report.conf, "action": report.action, "message": report.message,
                        "commands": "; ".join(ln.strip() for ln in changed)})
        return 0 if report.ok else 1
    if args.format == "json":
        _print([report], list(dataclasses.asdict(report)), "json")
    else:
        if report.diff:
            print(report.diff, end="")
        print(f"{report.conf}: {report.action}: {report.message}")
    if not report.ok:
        print(f"stackeye decide apply routing: {report.message}", file=sys.stderr)
    return 0 if report.ok else 1


def run_autoscale(args, changes_only: bool = False) -> int:
    from stackeye.decisions.actuators import exec as exec_actuator

    exec_actuator.parse_template(args.exec_template)  # a bad template exits 2 before anything is asked
    rows = _rows("autoscale", args, {"service": args.service}, changes_only)
    if rows is None:
        return 1
    results = exec_actuator.run(args.exec_template, rows, dry_run=not args.apply, timeout_s=args.exec_timeout)
    if changes_only:
        _changes(args, results)
        return 0 if all(r.action != "failed" for r in results) else 1
    _print(results, ["service", "current", "desired", "action", "command", "message"], args.format)
    failed = [r.service for r in results if r.action == "failed"]
    if failed:
        print(f"stackeye decide apply autoscale: the command failed for {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0
