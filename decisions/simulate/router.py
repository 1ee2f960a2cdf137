"""Where each request goes: the proxy it came through picks a live replica in proportion to weights.

``weights`` maps a proxy index to ``{instance: weight}``; a proxy without an entry (or key ``None``
for every proxy) spreads evenly. Replicas that are starting get nothing; a proxy whose weights are
all zero on the live replicas spreads evenly over them (Envoy's panic routing, nginx's "all down").
"""
from __future__ import annotations

import numpy as np


def route(instances: tuple[str, ...], live: np.ndarray, proxy: np.ndarray, u: np.ndarray,
          weights: dict) -> np.ndarray:
    """Index into ``instances`` for each request (``u``: its uniform routing draw)."""
    out = np.zeros(proxy.size, dtype=np.int64)
    if not live.any():
        live = np.ones(len(instances), dtype=bool)
    for p in np.unique(proxy):
        table = weights.get(int(p), weights.get(None)) or {}
        w = np.array([float(table.get(inst, 1.0)) if ok else 0.0 for inst, ok in zip(instances, live)])
        if w.sum() <= 0:
            w = live.astype(float)
        cum = np.cumsum(w / w.sum())
        mask = proxy == p
        out[mask] = np.minimum(np.searchsorted(cum, u[mask], side="right"), len(instances) - 1)
    return out
