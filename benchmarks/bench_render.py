"""Rendering: each plot and one dashboard refresh for 3,000 jobs; figures after 500 refreshes."""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from bench_frame import make_snapshots  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from zcrm_notebook import viz as plots  # noqa: E402
from zcrm_notebook.snapshots.frame import to_frame  # noqa: E402

PLOTS = ("plot_progress", "plot_outcomes", "plot_failure_rate", "plot_status_timeline")


def _render(name: str, df) -> float:
    fig = Figure(figsize=(10, 6))
    ax = fig.add_subplot()
    started = time.perf_counter()
    getattr(plots, name)(df, ax=ax)
    fig.canvas.draw()  # Agg canvas: the real rasterisation, not just artist creation
    return time.perf_counter() - started


def _dashboard_refresh(df, refreshes: int) -> dict:
    try:
        from zcrm_notebook.dashboard.widget import Dashboard
    except ImportError as exc:  # the notebook extra is not installed
        return {"dashboard": f"n/a ({exc})"}
    dash = Dashboard.from_frame(df) if hasattr(Dashboard, "from_frame") else None
    if dash is None:
        return {"dashboard": "n/a (no Dashboard.from_frame)"}
    started = time.perf_counter()
    dash.refresh(force=True)
    one = time.perf_counter() - started
    before = len(plt.get_fignums())
    for _ in range(refreshes):
        dash.refresh(force=True)
    return {
        "dashboard_refresh_s": one,
        "figures_before": before,
        "figures_after_refreshes": len(plt.get_fignums()),
        "refreshes": refreshes,
    }


def rendering(n_jobs: int = 3000, n_polls: int = 12, refreshes: int = 500) -> dict:
    """Seconds per plot (draw included) and per dashboard refresh."""
    df = to_frame(make_snapshots(n_jobs, n_polls))
    out = {f"{name}_s": _render(name, df) for name in PLOTS}
    out.update(_dashboard_refresh(df, refreshes))
    return out
