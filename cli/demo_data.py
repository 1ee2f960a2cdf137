"""``stackeye demo-data``: load a realistic, deterministic APM data set (traces, logs, host metrics)."""
from __future__ import annotations

import os
import sys
import time

HELP = "load a realistic demo data set: traces across services, databases, APIs and a queue; logs; host metrics"
EPILOG = """examples:
  stackeye demo-data --spans 100000                        # into the stackeye up at 127.0.0.1:4317
  stackeye demo-data --spans 10000000 --services 50 --routes 2000 --statements 500 --hosts 100 --hours 24
  stackeye demo-data --spans 50000 --data-dir ./stackeye-data   # straight into a data directory (nothing running)
  stackeye demo-data --spans 20000 --otlp 10.0.0.5:4317 --token s3cret

The same options and seed give the same data (loading it twice writes it once into a data
directory; over OTLP the collector deduplicates nothing, so it is sent again). The data ends now
(or --end) and spans --hours.
"""


def configure(parser) -> None:
    parser.add_argument("--spans", type=int, default=100_000, help="about this many spans (default: 100000)")
    parser.add_argument("--services", type=int, default=6, help="services besides a queue consumer and a batch job (default: 6)")
    parser.add_argument("--routes", type=int, default=24, help="routes across all services (default: 24)")
    parser.add_argument("--statements", type=int, default=30, help="distinct SQL statements (default: 30)")
    parser.add_argument("--hosts", type=int, default=8, help="hosts (default: 8)")
    parser.add_argument("--hours", type=float, default=2.0, help="time the data spans, ending now (default: 2)")
    parser.add_argument("--end", help="end of the data, RFC 3339 (default: now)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    parser.add_argument("--otlp", default="127.0.0.1:4317", help="OTLP/gRPC endpoint of a running stackeye (default: 127.0.0.1:4317)")
    parser.add_argument("--token", default=os.environ.get("STACKEYE_TOKEN"), help="bearer token for --otlp")
    parser.add_argument("--data-dir", help="write into this data directory instead (nothing may be running on it)")


def spec_from(args):
    from stackeye.cli.errors import UsageError
    from stackeye.query.demo_data import DemoSpec
    from stackeye.query.views.params import ParamError, parse_time

    try:
        end = parse_time(args.end, "end") if args.end else None
        return DemoSpec(spans=args.spans, services=args.services, routes=args.routes, statements=args.statements,
                        hosts=args.hosts, hours=args.hours, end=end, seed=args.seed)
    except (ValueError, ParamError) as exc:
        raise UsageError(str(exc)) from None


def run(args) -> int:
    spec = spec_from(args)
    started = time.monotonic()
    last = [0.0]

    def progress(n: int) -> None:
        if time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            print(f"  {n:,} spans…", file=sys.stderr)

    if args.data_dir:
        n = _into_data_dir(args.data_dir, spec, progress)
    else:
        n = _over_otlp(args.otlp, args.token, spec, progress)
        if n < 0:
            return 1
    took = time.monotonic() - started
    print(f"loaded {n:,} spans from {spec.start_time:%Y-%m-%d %H:%M} to {spec.end_time:%H:%M} UTC "
          f"in {took:.1f} s ({n / max(took, 1e-9):,.0f} spans/s)")
    return 0


def _into_data_dir(data_dir: str, spec, progress) -> int:
    from stackeye.query.demo_otlp import load
    from stackeye.storage.factory import open_storage

    storage = open_storage("chdb://" + os.path.abspath(os.path.join(data_dir, "clickhouse")))
    try:
        storage.migrate()
        return load(storage, spec, progress=progress)
    finally:
        storage.close()


def _over_otlp(endpoint: str, token: str | None, spec, progress) -> int:
    import grpc
    from stackeye.core.signals import Signal
    from stackeye.query.demo_otlp import generate

    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    n = 0
    with grpc.insecure_channel(endpoint, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
        calls = {s: channel.unary_unary(f"/{s.grpc_service}/Export", request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=s.response_type.FromString) for s in Signal}
        for signal, request in generate(spec):
            try:
                calls[signal](request, metadata=metadata, timeout=60, wait_for_ready=n == 0)
            except grpc.RpcError as exc:
                print(f"stackeye demo-data: {endpoint} refused the data: {exc.code().name}: {exc.details()}",
                      file=sys.stderr)
                return -1
            if signal is Signal.TRACES:
                n += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
                progress(n)
    return n
