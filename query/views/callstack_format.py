"""The call-stack record the instrumentation attaches to a slow span, and how it is read.

Contract (see docs/sql.md): a span event named ``stackeye.callstack`` whose attribute
``stackeye.callstack.frames`` is JSON — either a flat list of frames or a tree of them::

    [{"signature": "app.views:checkout", "depth": 0, "self_ms": 1.5, "total_ms": 620.0, "calls": 1},
     {"signature": "SELECT * FROM orders WHERE id = ?", "depth": 1, "self_ms": 600.0, "total_ms": 600.0, "calls": 3}]
    {"signature": "app.views:checkout", "self_ms": 1.5, "total_ms": 620.0, "calls": 1, "children": [...]}

Keys are read tolerantly (``name``/``function`` for signature; ``self_us``/``total_us`` in µs).
"""
from __future__ import annotations

import json
from typing import Any

EVENT = "stackeye.callstack"
ATTRIBUTE = "stackeye.callstack.frames"


def _num(frame: dict, key: str) -> float:
    if key + "_ms" in frame:
        return float(frame[key + "_ms"])
    if key + "_us" in frame:
        return float(frame[key + "_us"]) / 1000
    return float(frame.get(key, 0) or 0)


def parse_frames(text: str) -> list[dict[str, Any]]:
    """Flat frames ``{signature, depth, self_ms, total_ms, calls}``, depth-first; [] when unreadable."""
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        return []
    out: list[dict[str, Any]] = []

    def visit(frame: Any, depth: int) -> None:
        if not isinstance(frame, dict):
            return
        out.append({
            "signature": str(frame.get("signature") or frame.get("name") or frame.get("function") or "?"),
            "depth": int(frame.get("depth", depth)),
            "self_ms": round(_num(frame, "self"), 3),
            "total_ms": round(_num(frame, "total"), 3),
            "calls": int(frame.get("calls", frame.get("count", 1)) or 1),
        })
        for child in frame.get("children") or ():
            visit(child, depth + 1)

    if isinstance(doc, dict):
        doc = doc.get("frames", [doc]) if "frames" in doc else [doc]
    if isinstance(doc, list):
        for f in doc:
            visit(f, 0)
    return out
