"""Shipping to the collector: ordered disk queue, retry with backoff, the gRPC sender."""
