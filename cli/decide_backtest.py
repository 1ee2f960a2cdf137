"""``stackeye decide backtest``: what a policy would have decided over stored history, step by step."""
from __future__ import annotations

import os
import sys

HELP = "replay stored history through a policy: the decisions it would have made, and why"
EPILOG = """examples:
  stackeye decide backtest --kind autoscale --from -24h --policy policies.toml
  stackeye decide backtest --kind autoscale --service checkout --from -6h --step 1m --plot checkout.png
  stackeye decide backtest --kind routing --upstream checkout --from 2026-12-01T09:00:00Z --to 2026-12-01T10:00:00Z
  stackeye decide backtest --kind autoscale --from -1h --format json       # every step

At each step (--step, default 15s) the Evaluator decides as of that instant (like --at TIME),
carrying the policy's state from step to step in memory; nothing is written. The table shows the
first step and each change of decision with its reason; --plot draws load, replicas and p95
against the SLO (matplotlib: pip install 'stackeye[plot]'). The data: --data-dir (a `stackeye up`
data directory) or --clickhouse URL.
"""


def configure(parser) -> None:
    from stackeye.cli.output import FORMATS

    parser.add_argument("--kind", required=True, choices=["autoscale", "routing"], help="which policy to replay")
    parser.add_argument("--service", help="autoscale: the service (default: every [autoscale.*] of the policy file)")
    parser.add_argument("--upstream", help="routing: the upstream set (a [routing.<upstream>] table); required")
    parser.add_argument("--from", dest="start", default="-1h", metavar="TIME",
                        help="first instant: now, -24h or RFC 3339 (default: -1h)")
    parser.add_argument("--to", dest="end", default="now", metavar="TIME", help="last instant (default: now)")
    parser.add_argument("--step", default="15s", metavar="DURATION", help="time between decisions (default: 15s)")
    parser.add_argument("--policy", metavar="FILE", help="policy file (TOML); default: each policy's defaults")
    parser.add_argument("--plot", metavar="PNG", help="draw load, replicas and p95 against the SLO")
    parser.add_argument("--format", "-f", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--data-dir", default=os.environ.get("STACKEYE_DATA_DIR", "./stackeye-data"),
                        help="data directory of the stored history (default: ./stackeye-data)")
    parser.add_argument("--clickhouse", metavar="URL", help="storage URL instead of --data-dir (chdb://… or clickhouse://…)")


def run(args) -> int:
    import datetime as dt

    from stackeye.cli.errors import UsageError
    from stackeye.cli.output import render
    from stackeye.core.units import parse_duration
    from stackeye.decisions import backtest as bt
    from stackeye.decisions.plot import draw, require_matplotlib
    from stackeye.decisions.replay import Replay

    if args.kind == "routing" and not args.upstream:
        raise UsageError("--kind routing needs --upstream NAME (a [routing.<upstream>] table of the policy file)")
    if args.kind == "autoscale" and args.upstream:
        raise UsageError("--upstream is for --kind routing; autoscale takes --service")
    try:
        step_s = parse_duration(args.step)
    except ValueError as exc:
        raise UsageError(f"--step: {exc}") from None
    if args.plot:
        require_matplotlib()
    now = dt.datetime.now(dt.timezone.utc)
    times = bt.instants(bt.instant(args.start, now, "--from"), bt.instant(args.end, now, "--to"), step_s)
    storage = _open_storage(args)
    try:
        replay = Replay(storage, args.policy, args.kind, args.upstream if args.kind == "routing" else args.service)
        steps = bt.backtest(args.kind, times, replay.evaluate, None if args.format != "table" else _progress)
    finally:
        storage.close()
    if args.format == "table":
        print(file=sys.stderr)
    shown = bt.changes(steps) if args.format == "table" else steps
    columns = ["at", "load_rps", "replicas", "p95_ms", "decision"]
    rows = [[s.at.strftime("%Y-%m-%dT%H:%M:%SZ"), s.load_rps, s.replicas, s.p95_ms, s.reason] for s in shown]
    print(render(columns, rows, args.format))
    if args.format == "table":
        print(f"{len(steps)} steps from {times[0]:%Y-%m-%dT%H:%M:%SZ} to {times[-1]:%Y-%m-%dT%H:%M:%SZ}, "
              f"{len(shown)} with a new decision", file=sys.stderr)
    if args.plot:
        draw(bt.series(steps, f"backtest: {args.kind} {replay.key}", replay.slo_ms), args.plot)
        print(f"plot saved to {args.plot}", file=sys.stderr)
    return 0


def _progress(done: int, total: int) -> None:
    if done == total or done % 20 == 0:
        print(f"\r[{100 * done / total:3.0f}%] step {done} of {total}", end="", file=sys.stderr, flush=True)


def _open_storage(args):
    from stackeye.cli.packages import require_storage_client
    from stackeye.core.errors import Fatal
    from stackeye.storage.base import StorageError
    from stackeye.storage.factory import open_storage
    from stackeye.storage.url import parse_storage_url

    if args.clickhouse:
        url = args.clickhouse
    else:
        path = os.path.join(args.data_dir, "clickhouse")
        if not os.path.isdir(path):
            raise Fatal(f"no stored history at {path}: pass --data-dir (the `stackeye up` data directory) or "
                        "--clickhouse URL")
        url = "chdb://" + os.path.abspath(path)
    require_storage_client(parse_storage_url(url))
    try:
        return open_storage(url)
    except StorageError as exc:
        raise Fatal(str(exc)) from None
