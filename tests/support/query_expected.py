"""tests/query: the demo data set and its expected answers, computed in plain Python from the generator's records (never from SQL)."""
from __future__ import annotations

import collections
import datetime as dt
import re

from stackeye.query import demo_data as d

ENTRY = (d.SERVER, d.CONSUMER)

# The data set of tests/query: the views are checked against it. It ends at a whole hour a day ago:
# recent enough that the tables' retention (TTL, 7 days by default) never removes part of it, and
# the same for every test of a run.
END = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
SPEC = d.DemoSpec(spans=4000, end=END, hours=2.0, seed=42, error_every=9)
# A window that holds every span: the data starts at END - 2 h and its last traces end a few
# seconds after END.
FROM, TO = END - dt.timedelta(hours=2), END + dt.timedelta(minutes=5)
WINDOW = {"from": FROM.isoformat(), "to": TO.isoformat()}


def quantile(values, q):
    """Linear interpolation between order statistics (ClickHouse's ``quantile`` below 8192 values)."""
    v = sorted(values)
    if not v:
        return 0.0
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def spans_in(records, start_ns, end_ns):
    return [r for r in records if isinstance(r, d.Span) and start_ns <= r.start_ns < end_ns]


def route(s: d.Span) -> str:
    if s.attrs.get("http.route"):
        return f"{s.attrs.get('http.request.method', '')} {s.attrs['http.route']}".strip()
    return s.name


def entries(spans):
    has_entry = {s.service for s in spans if s.kind in ENTRY}
    return [s for s in spans if s.kind in ENTRY or (not s.parent_id and s.service not in has_entry)]


def is_error(s):
    return s.status == d.ERROR


def red(group, seconds=None, apdex_t_ms=500):
    durs = [s.dur_ns / 1e6 for s in group]
    out = {
        "calls": len(group), "errors": sum(is_error(s) for s in group),
        "p50_ms": quantile(durs, 0.5), "p95_ms": quantile(durs, 0.95), "p99_ms": quantile(durs, 0.99),
        "avg_ms": sum(durs) / len(durs), "max_ms": max(durs), "total_ns": sum(s.dur_ns for s in group),
    }
    out["error_rate"] = out["errors"] / out["calls"]
    t = apdex_t_ms
    out["apdex"] = (sum(x <= t for x in durs) + sum(t < x <= 4 * t for x in durs) / 2) / len(durs)
    if seconds:
        out["rate_per_s"] = len(group) / seconds
    return out


def group_by(spans, key):
    out = collections.defaultdict(list)
    for s in spans:
        out[key(s)].append(s)
    return dict(out)


def services(spans, seconds, apdex_t_ms=500):
    return {k: red(g, seconds, apdex_t_ms) for k, g in group_by(entries(spans), lambda s: s.service).items()}


def transactions(spans):
    groups = {k: red(g) for k, g in group_by(entries(spans), lambda s: (s.service, route(s))).items()}
    total = sum(g["total_ns"] for g in groups.values())
    for g in groups.values():
        g["time_share_pct"] = 100 * g["total_ns"] / total
    return groups


def peer(s):
    a = s.attrs
    if a.get("server.address"):
        return f"{a['server.address']}:{a['server.port']}" if a.get("server.port") else a["server.address"]
    if a.get("net.peer.name"):
        return f"{a['net.peer.name']}:{a['net.peer.port']}" if a.get("net.peer.port") else a["net.peer.name"]
    return ""


def external(spans):
    out = [s for s in spans if s.kind in (d.CLIENT, d.PRODUCER) and "db.system" not in s.attrs]
    groups = {k: red(g) for k, g in group_by(out, lambda s: (s.service, peer(s))).items()}
    total = sum(g["total_ns"] for g in groups.values())
    for g in groups.values():
        g["time_share_pct"] = 100 * g["total_ns"] / total
    return groups


def normalize(stmt: str) -> str:
    return re.sub(r"\b\d+\b", "?", stmt)


def database(spans):
    db = [s for s in spans if "db.system" in s.attrs]

    def key(s):
        text = s.attrs.get("db.query.text") or s.attrs.get("db.statement")
        return (s.service, s.attrs["db.system"], normalize(text))

    groups = {}
    for k, g in group_by(db, key).items():
        groups[k] = red(g)
        groups[k]["rows"] = sum(int(s.attrs.get("db.response.returned_rows", 0)) for s in g)
        groups[k]["slowest_trace_id"] = max(g, key=lambda s: s.dur_ns).trace_id.hex()
    total = sum(g["total_ns"] for g in groups.values())
    for g in groups.values():
        g["time_share_pct"] = 100 * g["total_ns"] / total
    return groups


def servers(records, spans, seconds, start_ns, end_ns):
    out = {k: red(g, seconds) for k, g in group_by(entries(spans), lambda s: s.host).items()}
    samples = [r for r in records if isinstance(r, d.HostSample) and start_ns <= r.time_ns < end_ns]
    for host, g in group_by(samples, lambda r: r.host).items():
        row = out.setdefault(host, {"calls": 0})
        row["cpu_pct"] = 100 * (1 - sum(r.cpu_idle for r in g) / len(g))
        row["memory_free_pct"] = 100 * sum(r.mem_free for r in g) / len(g)
    return out


def error_spans(spans):
    return [s for s in spans if is_error(s) or any(e[0] == "exception" for e in s.events)]


def service_edges(spans):
    by_id = {s.span_id: s for s in spans}
    edges = collections.Counter()
    errors = collections.Counter()
    for s in spans:
        p = by_id.get(s.parent_id)
        if s.kind in ENTRY and p is not None and p.service != s.service:
            edges[(p.service, s.service)] += 1
            errors[(p.service, s.service)] += is_error(s)
    return edges, errors


def fingerprint(message: str) -> str:
    m = re.sub(r"'[^']*'|\"[^\"]*\"", "?", message)
    m = re.sub(r"\b[0-9a-fA-F]{8,}\b|[0-9]+", "?", m)
    return re.sub(r"\s+", " ", m)


def errors(spans):
    """(service, route, exception type, fingerprint) -> count, first/last start ns, newest trace id."""
    out = {}
    for s in error_spans(spans):
        exc = next((e for e in s.events if e[0] == "exception"), None)
        etype = exc[2].get("exception.type", "") if exc else ""
        msg = exc[2].get("exception.message") if exc and exc[2].get("exception.message") else s.status_message
        key = (s.service, route(s), etype, fingerprint(msg))
        g = out.setdefault(key, {"count": 0, "first": s.start_ns, "last": s.start_ns, "trace": s.trace_id.hex()})
        g["count"] += 1
        g["first"] = min(g["first"], s.start_ns)
        if s.start_ns >= g["last"]:
            g["last"], g["trace"] = s.start_ns, s.trace_id.hex()
    return out
