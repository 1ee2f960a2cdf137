"""Durable queues between ingest and the writer."""
from stackeye.collector.queue.base import Batch, Queue, QueueFull, Record

__all__ = ["Batch", "Queue", "QueueFull", "Record"]
