"""Ingest: the OTLP receivers (gRPC and HTTP) in front of the queue."""
