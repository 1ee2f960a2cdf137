"""The PNG of a simulation or a backtest: load and replicas over time, p95 against the SLO.

Top: requests/s (left axis) and replicas (right axis, a step line: what the policy decided).
Bottom: p95 latency (log scale) with the SLO as a dashed line and the violating stretches shaded.
Routing runs add a panel with the bad instance's share of the requests. matplotlib is the optional
``plot`` extra; without it the error names the install (exit 2). The Agg backend: no display needed.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from stackeye.core.errors import require_module

PLOT_INSTALL = "pip install 'stackeye[plot]'"


@dataclasses.dataclass(frozen=True)
class Series:
    title: str
    t: Sequence  # seconds or datetimes
    load_rps: Sequence[float | None]
    replicas: Sequence[float | None]
    p95_ms: Sequence[float | None]
    slo_ms: float | None
    share: Sequence[float | None] | None = None  # routing: the bad instance's share of requests
    x_label: str = "simulated time (s)"


def require_matplotlib():
    mpl = require_module("matplotlib", "matplotlib", PLOT_INSTALL)
    mpl.use("Agg")
    return require_module("matplotlib.pyplot", "matplotlib", PLOT_INSTALL)


def draw(series: Series, path: str) -> str:
    plt = require_matplotlib()
    panels = 3 if series.share is not None else 2
    fig, axes = plt.subplots(panels, 1, figsize=(10, 2.6 * panels + 0.6), sharex=True)
    top, low = axes[0], axes[1]
    top.plot(series.t, _nan(series.load_rps), color="tab:blue", lw=1, label="load (requests/s)")
    top.set_ylabel("requests/s", color="tab:blue")
    right = top.twinx()
    right.step(series.t, _nan(series.replicas), where="post", color="tab:orange", lw=1.5, label="replicas")
    right.set_ylabel("replicas", color="tab:orange")
    right.set_ylim(bottom=0)
    top.set_title(series.title)
    p95 = _nan(series.p95_ms)
    low.plot(series.t, p95, color="tab:green", lw=1, label="p95")
    if series.slo_ms:
        low.axhline(series.slo_ms, color="tab:red", ls="--", lw=1, label=f"SLO {series.slo_ms:g} ms")
        low.fill_between(series.t, 0, 1, where=[v > series.slo_ms for v in p95], color="tab:red", alpha=0.15,
                         transform=low.get_xaxis_transform(), label="SLO violated")
    if any(v > 0 for v in p95):
        low.set_yscale("log")
    low.set_ylabel("p95 (ms)")
    low.legend(loc="upper right", fontsize=8)
    if series.share is not None:
        axes[2].plot(series.t, _nan(series.share), color="tab:purple", lw=1)
        axes[2].set_ylabel("bad instance's share")
        axes[2].set_ylim(0, 1)
    axes[-1].set_xlabel(series.x_label)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _nan(values) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]
