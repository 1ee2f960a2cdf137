"""Call stacks for slow requests: a sampling profiler per request thread.

While a local root span (an entry span: no parent, or a remote parent) is open, one background
thread samples that request thread's Python stack every ``interval_ms`` via
``sys._current_frames()``. If the span ends within ``threshold_ms`` the samples are thrown away;
otherwise they become a compact call tree (:func:`build_tree`) attached, in the export thread, as
a span event ``stackeye.callstack`` whose attribute ``stackeye.callstack.frames`` holds the JSON
(the format query/views/callstack_format.py reads; see docs/instrumentation.md).

Why sampling and not ``sys.setprofile``: a profile hook runs on every call and return of every
request (we cannot know in advance which request will be slow), which costs far more than the
5 % budget (bench/RESULTS.md); the sampler's cost is one dict write per entry span plus, in
another thread, a stack walk per tick per request that has been running for at least one
interval (requests shorter than that are never walked; the first sample of a longer one stands
for the time since the request started).

Call counts are observed invocations: a frame seen in consecutive samples is the same call when
it is the same frame object (the sampler holds the previous sample's frames so CPython cannot
reuse them). SQL and other outbound calls appear as leaf frames under the code that made them,
taken at each sample from the innermost instrumentation frame that holds a recording CLIENT
span in a local named ``span`` (the stock DB-API, Redis, HTTP-client wrappers and ours do), so
the request path never tracks child spans.

>>> samples = [(("a", "b"), 0, None), (("a", "b"), 2, None), (("a", "c"), 1, "SQL: SELECT ?")]
>>> tree = build_tree(samples, duration_ms=30.0, root_name="GET /x")
>>> tree["signature"], tree["total_ms"], [(c["signature"], c["total_ms"], c["calls"]) for c in tree["children"]]
('GET /x', 30.0, [('a', 30.0, 1)])
>>> [(c["signature"], c["total_ms"], c["self_ms"], c["calls"]) for c in tree["children"][0]["children"]]
[('b', 20.0, 20.0, 1), ('c', 10.0, 0.0, 1)]
>>> tree["children"][0]["children"][1]["children"]
[{'signature': 'SQL: SELECT ?', 'total_ms': 10.0, 'self_ms': 10.0, 'calls': 1, 'kind': 'sql'}]
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import OrderedDict

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import SpanKind

from .sql import normalize

FORMAT_VERSION = 1
MAX_SAMPLES = 6000  # per request: 30 s at 5 ms; later samples are not taken ("truncated": true)
MAX_PENDING = 256  # finished call trees waiting for the exporter
MAX_OPEN = 10000  # open entry spans tracked at once
MIN_SHARE = 0.005  # children under 0.5 % of the request fold into their parent's self time
MAX_DEPTH = 64
_INTERNAL = (os.sep + "opentelemetry" + os.sep, os.sep + "wrapt" + os.sep,
             os.path.dirname(os.path.abspath(__file__)) + os.sep, "<frozen ", os.sep + "threading.py")


class _Capture:
    __slots__ = ("span_id", "samples", "prev", "prev_client", "truncated", "last")

    def __init__(self, span_id: int):
        self.span_id = span_id
        self.samples: list = []  # (labels tuple, first new-call depth, leaf or None, weight)
        self.prev: list = []  # frame objects of the previous sample, outermost first
        self.prev_client = None  # the outbound-call span seen in the previous sample
        self.truncated = False
        self.last = time.perf_counter()


class CallstackProcessor(SpanProcessor):
    """Span processor + sampler thread. Register it *before* the batch processor.

    The request path only registers and unregisters entry spans (child spans return at once);
    everything else happens in the sampler thread or, for slow requests, the export thread.
    """

    def __init__(self, threshold_ms: float = 500.0, interval_ms: float = 5.0):
        self.threshold_ns = int(threshold_ms * 1e6)
        self.interval = interval_ms / 1000.0
        self.interval_ms = interval_ms
        self._active: dict[int, _Capture | None] = {}  # request thread id -> capture (None: ambiguous)
        self._done: OrderedDict[int, tuple] = OrderedDict()
        self._lock = threading.Lock()
        self._labels: dict = {}
        self._holders: dict = {}  # code -> True when it is an instrumentation frame with a `span` local
        self._pid = -1
        self._running = False  # sampler thread alive in this process (reset in a forked child)
        self._stopped = False
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._running = False
        self._active = {}
        self._lock = threading.Lock()

    # -- request thread (keep cheap) ------------------------------------------------------------
    def on_start(self, span, parent_context=None) -> None:
        parent = span.parent
        if parent is not None and not parent.is_remote:
            return
        tid = threading.get_ident()
        if tid in self._active:  # another entry span in flight on this thread (asyncio): skip both
            self._active[tid] = None
            return
        if not self._running:
            self._start_thread()
        if len(self._active) > MAX_OPEN:  # entry spans the app never ended: forget them
            self._active.clear()
        self._active[tid] = _Capture(span.context.span_id)

    def on_end(self, span) -> None:
        parent = span.parent
        if parent is not None and not parent.is_remote:
            return
        span_id = span.context.span_id
        tid = threading.get_ident()
        cap = self._active.get(tid, 0)
        if cap is None:  # the ambiguous marker: this thread's entry spans get no call stack
            del self._active[tid]
            return
        if cap == 0 or cap.span_id != span_id:  # ended on another thread than it started (rare)
            tid = next((k for k, v in list(self._active.items()) if v is not None and v.span_id == span_id), None)
            if tid is None:
                return
            cap = self._active[tid]
        self._active.pop(tid, None)
        if span.end_time - span.start_time >= self.threshold_ns and cap.samples:
            with self._lock:
                self._done[span_id] = (cap.samples, (span.end_time - span.start_time) / 1e6, span.name, cap.truncated)
                while len(self._done) > MAX_PENDING:
                    self._done.popitem(last=False)
        cap.prev = []

    # -- export thread --------------------------------------------------------------------------
    def take(self, span_id: int) -> str | None:
        """The call tree JSON for a finished slow span (once), or None."""
        if not self._done:
            return None
        with self._lock:
            item = self._done.pop(span_id, None)
        if item is None:
            return None
        samples, duration_ms, name, truncated = item
        tree = build_tree(samples, duration_ms, name)
        doc = {"v": FORMAT_VERSION, "interval_ms": self.interval_ms, "samples": len(samples),
               "duration_ms": round(duration_ms, 3), "truncated": truncated, "frames": [tree]}
        return json.dumps(doc, separators=(",", ":"))

    # -- sampler thread -------------------------------------------------------------------------
    def _start_thread(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="stackeye-callstack", daemon=True).start()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stopped and self._pid == me:
            time.sleep(self.interval)
            if self._active:
                try:
                    self._sample()
                except Exception:  # never let the sampler die on a racy frame
                    pass

    def _sample(self) -> None:
        young = time.perf_counter() - self.interval
        if not any(cap is not None and cap.last <= young for cap in list(self._active.values())):
            return  # only requests younger than one interval are in flight: most requests end here
        frames = sys._current_frames()
        for tid, cap in list(self._active.items()):
            if cap is None or cap.truncated or cap.last > young:
                continue
            frame = frames.get(tid)
            if frame is None:
                continue
            if len(cap.samples) >= MAX_SAMPLES:
                cap.truncated = True
                continue
            stack = []
            client = None
            while frame is not None:
                code = frame.f_code
                if client is None and self._holds_span(code):
                    client = self._client_span(frame)
                stack.append(frame)
                frame = frame.f_back
            stack.reverse()
            stack = [f for f in stack if self._keep(f.f_code)][:MAX_DEPTH]
            prev = cap.prev
            new_at = 0
            limit = min(len(prev), len(stack))
            while new_at < limit and prev[new_at] is stack[new_at]:
                new_at += 1
            leaf = self._client_label(client) if client is not None else None
            now = time.perf_counter()
            cap.samples.append((tuple(self._labels[f.f_code] for f in stack), new_at,
                                (leaf, client is not cap.prev_client) if leaf else None, now - cap.last))
            cap.last = now
            cap.prev = stack
            cap.prev_client = client

    def _holds_span(self, code) -> bool:
        """An instrumentation wrapper frame that keeps its span in a local named ``span``."""
        held = self._holders.get(code)
        if held is None:
            path = code.co_filename
            held = "span" in code.co_varnames and any(part in path for part in _INTERNAL[:3])
            self._holders[code] = held
        return held

    @staticmethod
    def _client_span(frame):
        """The outbound-call span a wrapper frame is executing, if any (read from its locals)."""
        span = frame.f_locals.get("span")
        if span is not None and getattr(span, "kind", None) is SpanKind.CLIENT and span.is_recording():
            return span
        return None

    def _keep(self, code) -> bool:
        label = self._labels.get(code)
        if label is None:
            path = code.co_filename
            internal = any(part in path for part in _INTERNAL)
            name = getattr(code, "co_qualname", code.co_name)
            label = "" if internal else f"{name} ({os.path.basename(path)}:{code.co_firstlineno})"
            self._labels[code] = label
        return label != ""

    @staticmethod
    def _client_label(span) -> str | None:
        attrs = span.attributes or {}
        stmt = attrs.get("db.query.text") or attrs.get("db.statement")
        if stmt:
            return "SQL: " + normalize(str(stmt))
        system = attrs.get("db.system.name") or attrs.get("db.system")
        if system:
            return f"{system}: {span.name}"
        host = attrs.get("server.address") or attrs.get("net.peer.name")
        if host:
            port = attrs.get("server.port") or attrs.get("net.peer.port")
            return f"{span.name} {host}:{port}" if port else f"{span.name} {host}"
        return span.name

    def shutdown(self) -> None:
        self._stopped = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def build_tree(samples, duration_ms: float, root_name: str) -> dict:
    """Merge samples into a tree of ``{signature, total_ms, self_ms, calls, kind?, children?}`` nodes.

    Each sample is ``(frame labels outermost first, depth from which the calls are new, leaf[,
    weight])`` where ``leaf`` is ``None``, a label, or ``(label, is_new_call)``, and ``weight`` is
    the wall time since the previous sample (default 1): a sample stands for the time before it.
    This matters because the sampler needs the GIL: it gets it at once while the request waits on
    I/O but only at the next switch interval while the request computes, so samples are sparser
    in CPU-bound code. Weights are scaled so shares always add up to the span's duration. The
    frames common to every sample are trimmed down to the deepest one.
    """
    if not samples:
        return {"signature": root_name, "total_ms": round(duration_ms, 3), "self_ms": round(duration_ms, 3),
                "calls": 1}
    stacks = [s[0] for s in samples]
    common = 0
    shortest = min(len(s) for s in stacks)
    while common < shortest and all(s[common] == stacks[0][common] for s in stacks):
        common += 1
    cut = max(0, common - 1)
    root = {"f": root_name, "t": 0, "s": 0, "n": 1, "c": {}}
    total = 0.0
    for sample in samples:
        labels, new_at, leaf = sample[:3]
        w = sample[3] if len(sample) > 3 else 1
        total += w
        path = list(labels[cut:])
        kinds = ["py"] * len(path)
        fresh = [i + cut >= new_at for i in range(len(path))]
        if leaf is not None:
            label, is_new = leaf if isinstance(leaf, tuple) else (leaf, True)
            path.append(label)
            kinds.append("sql" if label.startswith("SQL: ") else "call")
            fresh.append(is_new or (fresh[-1] if fresh else True))
        node = root
        node["t"] += w
        for label, kind, new in zip(path, kinds, fresh):
            child = node["c"].get(label)
            if child is None:
                child = node["c"][label] = {"f": label, "t": 0, "s": 0, "n": 0, "c": {}, "k": kind}
                new = True
            if new:
                child["n"] += 1
            child["t"] += w
            node = child
        node["s"] += w
    scale = duration_ms / total if total > 0 else 0.0
    return _finish(root, scale, total * MIN_SHARE)


def _finish(node: dict, scale: float, min_samples: int) -> dict:
    kept = [c for c in node["c"].values() if c["t"] >= min_samples]
    kept.sort(key=lambda c: -c["t"])
    out = {"signature": node["f"], "total_ms": round(node["t"] * scale, 3),
           "self_ms": round((node["t"] - sum(c["t"] for c in kept)) * scale, 3), "calls": max(node["n"], 1)}
    if node.get("k") and node["k"] != "py":
        out["kind"] = node["k"]
    if kept:
        out["children"] = [_finish(c, scale, min_samples) for c in kept]
    return out
