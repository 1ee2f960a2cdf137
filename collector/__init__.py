"""stackeye.collector: OTLP ingest, the durable queue, the writer and ClickHouse storage.

Stages, in order (wired in one place, :mod:`stackeye.collector.app`)::

    ingest (OTLP gRPC/HTTP: auth, validation, limits)
      -> queue (durable: disk spool embedded, Kafka in cluster mode)
      -> writer (batches, flattens inside the engine, inserts, commits)
      -> storage (chDB embedded, ClickHouse server over the native protocol)
"""

__version__ = "0.1.0"
