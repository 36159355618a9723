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
    timeline_jobs,
)
from .style import (
    OTHER_COLOR,
    STATUS_COLORS,
    date_num,
    fit_time_axis,
    get_ax,
    legend_above,
    no_data,
    time_axis,
)
from .text import plural, status_word

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
    :data:`STATUS_COLORS`, finishes are diamonds. A job that never got a status (every
    poll an error row: an unknown job id, a failing org) has a row of its own, after the
    others, with a cross at each failed poll. The other jobs are one "other (N jobs)"
    row: a thin grey line from their first poll to their last finish or poll, with a
    diamond at each of their finishes.

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
    if jobs.empty:
        return no_data(ax, "job statuses")
    shown, rest = timeline_jobs(df, jobs, top)
    seg = status_runs(df, shown[~shown["blind"]])
    for (y, status), part in seg.groupby(["y", "status"]):
        starts = date_num(part["start"])
        ranges = [(float(a), float(b)) for a, b in zip(starts, date_num(part["end"]) - starts)]
        style = {"facecolors": STATUS_COLORS[status], "gid": f"{status}:{y}"} | kwargs
        ax.broken_barh(ranges, (y - 0.35, 0.7), **style)
    done = shown[shown["finished_at"].notna()]
    _finishes(ax, done, done.index.to_numpy(), gid="finished")
    failed_polls = _no_status_polls(ax, df, shown)
    labels = list(shown["job_id"] + " (" + shown["dc"] + ")")
    if len(rest):
        _other_row(ax, rest, len(shown))
        labels.append(f"other ({plural(len(rest), 'job')})")
    ax.set_yticks(np.arange(len(labels)), labels, fontsize="small" if len(labels) > 12 else None)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    fit_time_axis(ax, date_num(pd.concat([_times(shown), _times(rest)])))
    handles: list[Artist] = [
        Patch(color=STATUS_COLORS[s], label=status_word(s))
        for s in STATUS_COLORS
        if s in set(seg["status"])
    ]
    handles += [
        Line2D([], [], marker="D", linestyle="", color=STATUS_COLORS[s], label=status_word(s))
        for s in ("completed", "failed")
        if (pd.concat([done, rest])["status"] == s).any()
    ]
    if failed_polls:
        handles.append(_cross(label=status_word("error")))
    if handles:
        legend_above(ax, handles=handles)
    return ax


def _times(jobs: pd.DataFrame) -> pd.Series:
    """The start and end times of ``jobs`` (rows of :func:`timeline_jobs`), one series."""
    return pd.concat([jobs["start"], jobs["end"]])


def _finishes(ax: Axes, done: pd.DataFrame, y: np.ndarray, *, gid: str) -> None:
    """Diamonds at the finish of each job of ``done``, coloured by its final status."""
    ax.scatter(
        date_num(done["finished_at"]),
        y,
        marker="D",
        s=22,
        zorder=3,
        c=[STATUS_COLORS[str(s)] for s in done["status"]],
        edgecolors="white",
        gid=gid,
    )


def _cross(**kwargs) -> Line2D:
    style = {"marker": "x", "linestyle": "", "color": STATUS_COLORS["error"]}
    return Line2D([], [], **(style | kwargs))


def _no_status_polls(ax: Axes, df: pd.DataFrame, shown: pd.DataFrame) -> int:
    """A cross at each poll of the shown jobs that never got a status; their number."""
    blind = shown[shown["blind"]]
    if blind.empty:
        return 0
    rows = df.merge(blind[["org", "job_id"]].assign(y=blind.index), on=["org", "job_id"])
    ax.scatter(
        date_num(rows["polled_at"]),
        rows["y"],
        marker="x",
        s=28,
        zorder=3,
        c=STATUS_COLORS["error"],
        gid="no status",
    )
    return len(rows)


def _other_row(ax: Axes, rest: pd.DataFrame, y: int) -> None:
    """The folded jobs on one row: a thin grey line from their first poll to their last
    finish or poll, and a diamond at each of their finishes."""
    x0, x1 = date_num(pd.Series([rest["start"].min(), rest["end"].max()]))
    span = [(float(x0), float(x1 - x0))]
    ax.broken_barh(span, (y - 0.08, 0.16), facecolors=OTHER_COLOR, gid="other")  # a range
    done = rest[rest["finished_at"].notna()]
    _finishes(ax, done, np.full(len(done), y), gid="other finished")
