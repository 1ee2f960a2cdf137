"""JVM and Tomcat through a Jolokia HTTP endpoint: heap, GC, threads, request processors (jvm.*, tomcat.*)."""
from __future__ import annotations

import dataclasses
import json
import time
import urllib.request
from typing import Iterable, Mapping

from stackeye.core.config import setting
from stackeye.core.units import DURATION

from ..model import Point
from ..rates import Counters, counter_points
from ..registry import register


@dataclasses.dataclass(frozen=True)
class JolokiaConfig:
    enabled: bool = setting(False, "Read JVM (and Tomcat) MBeans from a Jolokia agent.")
    url: str = setting("http://127.0.0.1:8778/jolokia/", "The Jolokia endpoint (the agent's URL, e.g. http://127.0.0.1:8778/jolokia/).")
    timeout: float = setting(5.0, "Give up on one scrape after this long.", unit=DURATION, positive=True)


# One bulk read: every MBean the collector reports.
REQUEST = [
    {"type": "read", "mbean": "java.lang:type=Memory"},
    {"type": "read", "mbean": "java.lang:type=GarbageCollector,name=*", "attribute": ["CollectionCount", "CollectionTime"]},
    {"type": "read", "mbean": "java.lang:type=Threading", "attribute": ["ThreadCount", "DaemonThreadCount", "PeakThreadCount"]},
    {"type": "read", "mbean": "java.lang:type=ClassLoading", "attribute": ["LoadedClassCount"]},
    {"type": "read", "mbean": "Catalina:type=GlobalRequestProcessor,name=*"},
    {"type": "read", "mbean": "Catalina:type=ThreadPool,name=*", "attribute": ["currentThreadsBusy", "maxThreads"]},
]


def _mbean_props(name: str) -> dict[str, str]:
    _, _, props = name.partition(":")
    return dict(p.split("=", 1) for p in props.split(",") if "=" in p)


def parse_jolokia(responses: Iterable[Mapping], counters: Counters, now: float) -> list[Point]:
    """Points from a Jolokia bulk-read response (a list of {"request", "value", "status"})."""
    points: list[Point] = []
    for resp in responses:
        if resp.get("status") != 200:
            continue
        mbean = resp.get("request", {}).get("mbean", "")
        value = resp.get("value") or {}
        if mbean == "java.lang:type=Memory":
            for key, kind in (("HeapMemoryUsage", "heap"), ("NonHeapMemoryUsage", "non_heap")):
                usage = value.get(key) or {}
                for field, name in (("used", "jvm.memory.used"), ("committed", "jvm.memory.committed"), ("max", "jvm.memory.limit")):
                    if usage.get(field, -1) >= 0:
                        points.append(Point(name, float(usage[field]), {"jvm.memory.type": kind}, "gauge", "By"))
        elif mbean.startswith("java.lang:type=GarbageCollector"):
            for full, attrs in value.items():
                gc = {"jvm.gc.name": _mbean_props(full).get("name", full)}
                if attrs.get("CollectionCount") is not None:
                    points += counter_points(counters, "jvm.gc.collections.count", attrs["CollectionCount"], now, "{collection}", gc)
                if attrs.get("CollectionTime") is not None:
                    points += counter_points(counters, "jvm.gc.collections.elapsed", attrs["CollectionTime"] / 1000, now, "s", gc)
        elif mbean == "java.lang:type=Threading":
            if "ThreadCount" in value:
                points.append(Point("jvm.thread.count", float(value["ThreadCount"]), {}, "gauge", "{thread}"))
            if "DaemonThreadCount" in value:
                points.append(Point("jvm.thread.count", float(value["DaemonThreadCount"]), {"jvm.thread.daemon": "true"}, "gauge", "{thread}"))
            if "PeakThreadCount" in value:
                points.append(Point("jvm.thread.peak", float(value["PeakThreadCount"]), {}, "gauge", "{thread}"))
        elif mbean == "java.lang:type=ClassLoading":
            if "LoadedClassCount" in value:
                points.append(Point("jvm.class.count", float(value["LoadedClassCount"]), {}, "gauge", "{class}"))
        elif mbean.startswith("Catalina:type=GlobalRequestProcessor"):
            for full, attrs in value.items():
                proc = {"tomcat.processor": _mbean_props(full).get("name", full).strip('"')}
                for field, name, unit, scale in (("requestCount", "tomcat.requests", "{request}", 1),
                                                  ("errorCount", "tomcat.errors", "{error}", 1),
                                                  ("processingTime", "tomcat.processing_time", "s", 1000),
                                                  ("bytesReceived", "tomcat.traffic.received", "By", 1),
                                                  ("bytesSent", "tomcat.traffic.sent", "By", 1)):
                    if attrs.get(field) is not None:
                        points += counter_points(counters, name, attrs[field] / scale, now, unit, proc,
                                                 "tomcat.requests.rate" if field == "requestCount" else None)
                if attrs.get("maxTime") is not None:
                    points.append(Point("tomcat.max_time", attrs["maxTime"] / 1000, proc, "gauge", "s"))
        elif mbean.startswith("Catalina:type=ThreadPool"):
            for full, attrs in value.items():
                pool = {"tomcat.processor": _mbean_props(full).get("name", full).strip('"')}
                if attrs.get("currentThreadsBusy") is not None:
                    points.append(Point("tomcat.threads.busy", float(attrs["currentThreadsBusy"]), pool, "gauge", "{thread}"))
                if attrs.get("maxThreads") is not None:
                    points.append(Point("tomcat.threads.max", float(attrs["maxThreads"]), pool, "gauge", "{thread}"))
    if not points:
        raise ValueError("the Jolokia response had no readable MBean (is the URL a Jolokia agent?)")
    counters.end_cycle(now)
    return points


def fetch_jolokia(url: str, timeout: float) -> list[dict]:
    req = urllib.request.Request(url, data=json.dumps(REQUEST).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        doc = json.loads(resp.read())
    return doc if isinstance(doc, list) else [doc]


@register("jolokia", default_enabled=False, config=JolokiaConfig, middleware=True)
class JolokiaCollector:
    """JVM/Tomcat via Jolokia: heap and non-heap, GC count and time, threads, request processors."""

    def __init__(self, config: JolokiaConfig):
        self.config = config
        self.target = config.url
        self.counters = Counters()

    def collect(self) -> list[Point]:
        return parse_jolokia(fetch_jolokia(self.config.url, self.config.timeout), self.counters, time.time())
