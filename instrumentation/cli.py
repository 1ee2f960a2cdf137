"""``stackeye-instrument``: run an unmodified Python program with stackeye's instrumentation.

    stackeye-instrument --service-name checkout python app.py
    stackeye-instrument --service-name web --endpoint 10.0.0.5:4317 gunicorn -w 4 app:app

Our flags become ``STACKEYE_*`` variables; the program is then started by the stock
``opentelemetry-instrument`` machinery (a ``sitecustomize`` on ``PYTHONPATH``), which picks our
distro and configurator (``OTEL_PYTHON_DISTRO=stackeye``, ``OTEL_PYTHON_CONFIGURATOR=stackeye``).
Every forked or spawned Python child (gunicorn workers, multiprocessing) is instrumented too.
An installed library whose instrumentor is missing is named at start, with the extra that adds it.
"""
from __future__ import annotations

import argparse
import os
import sys

_FLAGS = {
    "service_name": "STACKEYE_SERVICE_NAME",
    "service_version": "STACKEYE_SERVICE_VERSION",
    "service_instance_id": "STACKEYE_SERVICE_INSTANCE_ID",
    "environment": "STACKEYE_ENVIRONMENT",
    "endpoint": "STACKEYE_ENDPOINT",
    "sample_ratio": "STACKEYE_SAMPLE_RATIO",
    "callstack_threshold_ms": "STACKEYE_CALLSTACK_THRESHOLD_MS",
    "disabled_instrumentations": "STACKEYE_DISABLED_INSTRUMENTATIONS",
}


def parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split our flags from the command; returns (environment additions, command).

    >>> parse(["--service-name", "checkout", "python", "app.py", "--port", "1"])
    ({'STACKEYE_SERVICE_NAME': 'checkout'}, ['python', 'app.py', '--port', '1'])
    """
    parser = argparse.ArgumentParser(prog="stackeye-instrument", description=__doc__.split("\n\n")[0])
    for name in _FLAGS:
        parser.add_argument("--" + name.replace("_", "-"), dest=name)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the program to run, with its arguments")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("give the program to run, e.g. stackeye-instrument --service-name api python app.py")
    env = {var: str(getattr(args, name)) for name, var in _FLAGS.items() if getattr(args, name) is not None}
    return env, list(args.command)


def main(argv: list[str] | None = None) -> None:
    env, command = parse(sys.argv[1:] if argv is None else argv)
    os.environ.update(env)
    os.environ.setdefault("OTEL_PYTHON_DISTRO", "stackeye")
    os.environ.setdefault("OTEL_PYTHON_CONFIGURATOR", "stackeye")
    from opentelemetry.instrumentation.auto_instrumentation import run

    from .auto import uninstrumented_hint

    disabled = tuple(x.strip() for x in os.environ.get("STACKEYE_DISABLED_INSTRUMENTATIONS", "").split(","))
    hint = uninstrumented_hint(disabled)
    if hint:
        print(f"stackeye-instrument: {hint}", file=sys.stderr)

    sys.argv = ["opentelemetry-instrument", *command]
    run()  # execs the command with the stock sitecustomize on PYTHONPATH


if __name__ == "__main__":
    main()
