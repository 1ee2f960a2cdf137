"""``stackeye decide simulate``: close the loop on synthetic traffic through the real pipeline.

Each tick of the scenario's traffic model becomes OTLP spans and CPU gauges with simulated
timestamps, posted to an embedded ``stackeye up`` on a temporary data directory (or ``--data-dir``);
the Evaluator as of the simulated now decides; the decision's replicas (autoscale) or weights
(routing) shape the next tick. ``--aggregates`` skips the pipeline and feeds the policy the
simulator's own aggregates (same definitions; for scenarios too long for chDB here, like the 24 h
diurnal).
"""
from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile

HELP = "run a policy on synthetic traffic (diurnal, spike, slow or failing instance) through the pipeline"
EPILOG = """examples:
  stackeye decide simulate --scenario spike                        # 20 min of 5x spike, through OTLP → chDB → policy
  stackeye decide simulate --scenario spike --duration 5m --plot spike.png
  stackeye decide simulate --scenario failing-instance --policy policies.toml --out failing.json
  stackeye decide simulate --scenario diurnal --aggregates --plot day.png   # 24 h off the simulator's aggregates

Scenarios: diurnal (24 h ramp), spike (5x within 60 s), slow-instance (one replica 1.75x slower),
failing-instance (one replica fails half its requests); autoscale scenarios scale the service,
routing ones reweight 5 replicas behind 3 proxies. Every simulated request is one span (no
sampling), so the rates the policy reads are the simulated ones. The timeline (time, load, replicas,
p95, SLO ok?) is printed at each decision and saved as JSON (--out); --plot draws it (matplotlib:
pip install 'stackeye[plot]'). Without --policy the scenario's own policy is used (printed by
--print-policy).
"""


def configure(parser) -> None:
    from stackeye.cli.output import FORMATS
    from stackeye.decisions.simulate.scenarios import SCENARIOS

    parser.add_argument("--scenario", required=True, choices=list(SCENARIOS), help="the traffic to simulate")
    parser.add_argument("--duration", metavar="DURATION", help="simulated time, e.g. 5m (default: the scenario's)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the traffic (default: 1)")
    parser.add_argument("--policy", metavar="FILE", help="policy file (TOML); default: the scenario's policy")
    parser.add_argument("--print-policy", action="store_true", help="print the scenario's default policy and exit")
    parser.add_argument("--aggregates", action="store_true",
                        help="decide off the simulator's own aggregates instead of the pipeline (fast)")
    parser.add_argument("--data-dir", metavar="DIR", help="the embedded stackeye's data directory (default: a "
                        "temporary one, removed afterwards)")
    parser.add_argument("--out", metavar="FILE", help="timeline JSON (default: simulate-<scenario>.json)")
    parser.add_argument("--plot", metavar="PNG", help="draw load, replicas and p95 against the SLO")
    parser.add_argument("--format", "-f", choices=FORMATS, default="table", help="printed timeline's format")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def run(args) -> int:
    from stackeye.cli.errors import UsageError
    from stackeye.core.units import parse_duration
    from stackeye.decisions.plot import require_matplotlib
    from stackeye.decisions.simulate import scenarios
    from stackeye.decisions.simulate.policies import default_policy_text, load_policy
    from stackeye.decisions.simulate.run import sim_epoch
    from stackeye.cli.output import render
    from stackeye.decisions.simulate.report import columns, decision_rows, series_of

    try:
        duration = parse_duration(args.duration) if args.duration else None
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    scenario = scenarios.get(args.scenario, duration)
    if args.print_policy:
        print(default_policy_text(scenario), end="")
        return 0
    if args.plot:
        require_matplotlib()  # before the run, not after it
    policy = load_policy(scenario, args.policy)
    epoch = sim_epoch(scenario)
    progress = None if args.quiet else _progress
    if args.aggregates:
        from stackeye.decisions.simulate.controllers import PolicyOnAggregates
        from stackeye.decisions.simulate.run import simulate

        controller = PolicyOnAggregates(scenario, policy.settings, policy.window_s, epoch)
        timeline = simulate(scenario, controller, args.seed, progress)
    else:
        with embedded_stackeye(args.data_dir) as (storage, otlp_url):
            timeline = _through_pipeline(scenario, policy, storage, otlp_url, epoch, args.seed, progress)
    if progress:
        print(file=sys.stderr)
    print(render(columns(timeline), decision_rows(timeline), args.format))
    print(_scores(timeline.scores()), file=sys.stderr)
    out = args.out or f"simulate-{scenario.name}.json"
    timeline.save(out)
    print(f"timeline saved to {out}", file=sys.stderr)
    if args.plot:
        from stackeye.decisions.plot import draw

        draw(series_of(timeline), args.plot)
        print(f"plot saved to {args.plot}", file=sys.stderr)
    return 0


def _through_pipeline(scenario, policy, storage, otlp_url, epoch, seed, progress):
    from stackeye.decisions.simulate.pipeline import PipelineSink, PolicyThroughPipeline
    from stackeye.decisions.simulate.policies import evaluator_for
    from stackeye.decisions.simulate.run import simulate

    sink = PipelineSink(otlp_url, storage, scenario.service, epoch)
    controller = PolicyThroughPipeline(scenario, sink, evaluator_for(storage, policy, scenario), epoch)
    return simulate(scenario, controller, seed, progress)


def _scores(scores: dict) -> str:
    return "scores: " + ", ".join(f"{k}={v}" for k, v in scores.items() if k not in ("scenario", "controller"))


def _progress(row, done: float) -> None:
    p95 = "-" if row.p95_ms is None else f"{row.p95_ms:.0f} ms"
    print(f"\r[{100 * done:3.0f}%] t={row.t:>7.0f}s load={row.load_rps:6.1f}/s replicas={row.replicas:>2} "
          f"p95={p95:>9}", end="", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def embedded_stackeye(data_dir: str | None):
    """A ``stackeye up`` in this process (ephemeral ports, no fsync): (storage, OTLP/HTTP URL)."""
    import logging

    from stackeye.app.embedded import EmbeddedApp
    from stackeye.app.up_config import UpConfig
    from stackeye.core.directories import ensure_writable_dir

    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="stackeye-simulate-"))
        ensure_writable_dir(data_dir, "data_dir", "--data-dir ~/stackeye-simulate")
        port = _free_port()
        config = UpConfig(data_dir=os.path.abspath(data_dir), otlp_grpc="127.0.0.1:0", otlp_http=f"127.0.0.1:{port}",
                          http="127.0.0.1:0", fsync=False, batch_max_wait_s=0.05)
        logging.getLogger("stackeye").setLevel(max(logging.getLogger("stackeye").getEffectiveLevel(), logging.WARNING))
        app = EmbeddedApp(config)
        ctx = app.start()
        stack.callback(app.stop)
        yield ctx.storage, f"http://127.0.0.1:{port}"
