"""plot_status_timeline: when each job was scheduled / in progress, and when it finished.

Like every plot of :mod:`zcrm_notebook.viz` it takes the *snapshot* frame, draws on
``ax`` (or the current Axes), labels its axes with units and returns the Axes; it never
calls ``plt.show()``, never modifies ``df`` and never touches global rcParams. Times are
plotted as absolute instants and labelled in ``tz``.
"""

from __future__ import annotations

from datetime import tzinfo

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..analysis.summary import summarize_jobs
from .plotdata import (
    check_top,
    status_runs,
)
from .style import (
    OTHER_COLOR,
    STATUS_COLORS,
    date_num,
    get_ax,
    legend_above,
    no_data,
    time_axis,
    widen_time_axis,
)
from .text import plural

__all__ = ["plot_status_timeline"]


def plot_status_timeline(
    df: pd.DataFrame,
    *,
    top: int = 30,
    ax: Axes | None = None,
    tz: str | tzinfo = "UTC",
    **kwargs,
) -> Axes:
    """When each job was scheduled / in progress, and when it finished (completed/failed).

    One row per job for the ``top`` jobs that took (or have been running) longest, ordered
    by when they were first seen; status runs are ``broken_barh`` bars coloured by
    :data:`STATUS_COLORS`, finishes are diamonds. The other jobs are one hatched
    "other (N jobs)" row spanning their first sighting to their last finish or poll.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame. Not modified.
    top : int, default 30
        Jobs drawn individually.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    tz : str or tzinfo, default "UTC"
        Zone of the time axis labels (IANA name), shown in the x label.
    **kwargs
        Passed to ``Axes.broken_barh``.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        For ``top < 1``, a bad ``tz`` or missing columns.
    """
    check_top(top, 1)
    ax = get_ax(ax)
    time_axis(ax, tz)
    ax.set_ylabel("job id (data center)")
    ax.set_title("Job status over time")
    jobs = summarize_jobs(df)
    jobs = jobs[jobs["first_seen_at"].notna()]
    if jobs.empty:
        return no_data(ax, "job statuses")
    end = jobs["finished_at"].fillna(jobs["last_polled_at"])
    elapsed = (end - jobs["first_seen_at"]).dt.total_seconds()
    pick = jobs.assign(elapsed=elapsed).sort_values(["elapsed", "job_id"], ascending=[False, True])
    shown = pick.iloc[:top].sort_values(["first_seen_at", "job_id"]).reset_index(drop=True)
    rest = pick.iloc[top:]
    seg = status_runs(df, shown)
    for (y, status), part in seg.groupby(["y", "status"]):
        starts = date_num(part["start"])
        ranges = [(float(a), float(b)) for a, b in zip(starts, date_num(part["end"]) - starts)]
        style = {"facecolors": STATUS_COLORS[status], "gid": f"{status}:{y}"} | kwargs
        ax.broken_barh(ranges, (y - 0.35, 0.7), **style)
    done = shown[shown["finished_at"].notna()]
    ax.scatter(
        date_num(done["finished_at"]),
        done.index,
        marker="D",
        s=22,
        zorder=3,
        c=[STATUS_COLORS[str(s)] for s in done["status"]],
        edgecolors="white",
        gid="finished",
    )
    labels = list(shown["job_id"] + " (" + shown["dc"] + ")")
    if len(rest):
        r0, r1 = rest["first_seen_at"].min(), end.loc[rest.index].max()
        x0 = float(date_num(pd.Series([r0]))[0])
        ax.broken_barh(
            [(x0, float(date_num(pd.Series([r1]))[0]) - x0)],
            (len(shown) - 0.35, 0.7),
            facecolors="none",
            edgecolors=OTHER_COLOR,
            hatch="//",
            gid="other",
        )
        labels.append(f"other ({plural(len(rest), 'job')})")
    ax.set_yticks(np.arange(len(labels)), labels, fontsize="small" if len(labels) > 12 else None)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    widen_time_axis(ax, date_num(pd.concat([jobs["first_seen_at"], end])))
    handles: list[Artist] = [
        Patch(color=STATUS_COLORS[s], label=s) for s in STATUS_COLORS if s in set(seg["status"])
    ]
    handles += [
        Line2D([], [], marker="D", linestyle="", color=STATUS_COLORS[s], label=s)
        for s in ("completed", "failed")
        if (done["status"] == s).any()
    ]
    if handles:
        legend_above(ax, handles=handles)
    return ax
