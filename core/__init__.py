"""stackeye.core: the shared foundations every capability stands on.

``version`` (written once, in pyproject.toml), ``config`` (one loader for every process),
``http`` (one HTTP stack), ``retry`` (one backoff helper), ``address`` (one HOST:PORT parser) and
``signals`` (the three OTLP signals). Nothing here imports a capability (collector, query, agent)
or the assembly above them (app, cli); ``tests/test_layers.py`` says so.
"""
