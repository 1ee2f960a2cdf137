"""stackeye.collector: OTLP ingest, the durable queue and the writer.

Stages, in order (wired in one place, :mod:`stackeye.app`)::

    ingest (OTLP gRPC/HTTP: auth, validation, limits)
      -> queue (durable: disk spool embedded, Kafka in cluster mode)
      -> writer (batches, flattens inside the engine, inserts, commits)
      -> storage (:mod:`stackeye.storage`: chDB embedded, a ClickHouse server over the native protocol)
"""
