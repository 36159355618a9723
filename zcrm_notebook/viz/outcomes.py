"""plot_outcomes: converted / failed / pending leads per job, the largest jobs and one
"other (N jobs)" bar.

Like every plot of :mod:`zcrm_notebook.viz` it takes the *snapshot* frame, draws on
``ax`` (or the current Axes), labels its axes with units and returns the Axes; it never
calls ``plt.show()``, never modifies ``df`` and never touches global rcParams.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..analysis.summary import summarize_jobs
from .plotdata import (
    check_top,
    choose,
    outcome_bars,
)
from .style import (
    OUTCOME_COLORS,
    bar_axes,
    end_note,
    legend_above,
    note_no_leads,
    room_for_texts,
)
from .text import UNIT, count_nouns, plural

__all__ = ["plot_outcomes"]


def plot_outcomes(
    df: pd.DataFrame,
    *,
    top: int = 20,
    sort: str = "size",
    ax: Axes | None = None,
    tz: str | tzinfo = "UTC",
    job_totals: bool = False,
    **kwargs,
) -> Axes:
    """Stacked converted / failed / pending leads per job, top jobs plus one "other" bar.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame. Not modified.
    top : int, default 20
        Jobs drawn individually; the rest are one lighter "other (N jobs, mean)" bar: the
        mean per job of their converted / failed / pending leads, on the same scale as the
        jobs above it (their lead count in all is written next to it, inside the Axes).
    sort : {"size", "failures"}, default "size"
        Pick and order jobs by latest ``total_count`` or by ``failed_count`` (then
        failure rate), largest first.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    tz : str or tzinfo, default "UTC"
        Accepted for a uniform signature (this plot has no time axis).
    job_totals : bool, default False
        Label the counts as job totals ("lead attempts", "(job totals)" in the title): for
        the jobs of a conversion whose lead outcomes are shown beside the figure, where a
        retried lead is in each of its jobs.
    **kwargs
        Passed to each ``Axes.barh`` call (one per outcome: converted, failed, pending).

    Returns
    -------
    matplotlib.axes.Axes
        Three bar containers (converted, failed, pending), one bar per job row; a "no jobs
        yet" / "no lead counts yet" note instead when there is nothing to draw. A job id no
        poll got a status for (every row ``error``) has no leads and is left out (the
        status timeline shows it).

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        For a bad ``sort``, ``top < 1`` or missing columns.
    """
    choose(sort, "sort", ("size", "failures"))
    check_top(top, 1)
    one, many, suffix = count_nouns(job_totals)
    title = f"{UNIT.capitalize()} outcomes per job"
    ax = bar_axes(ax, tz, f"{many} (count)", "job id (data center)", title + suffix)
    jobs = summarize_jobs(df)
    if note_no_leads(ax, jobs, ["total_count", "converted_count", "failed_count"]):
        return ax
    jobs = jobs[jobs["status"] != "error"]  # no status ever: no leads to draw, not a job
    bars, n_rest, other_total = outcome_bars(jobs, top, sort)
    y = np.arange(len(bars))
    left = np.zeros(len(bars))
    for name in ("converted", "failed", "pending"):
        style: dict[str, Any] = {"height": 0.8, "color": OUTCOME_COLORS[name], "label": name}
        cont = ax.barh(y, bars[name], left=left, **(style | kwargs))
        if n_rest:
            cont.patches[-1].set_alpha(0.55)  # a mean, not a job
        left = left + bars[name].to_numpy(float)
    ax.set_yticks(y, bars.index, fontsize="small" if len(bars) > 12 else None)
    ax.set_ylim(len(bars) - 0.5, -0.5)
    totals = "; job totals" if suffix else ""  # one pair of brackets, not "(...) (...)"
    ax.set_title(f"{title} ({len(bars) - bool(n_rest)} of {len(jobs)} by {sort}{totals})")
    legend_above(ax)
    right = max(float(left.max()), 1.0) * 1.05
    if n_rest:
        note = f"mean of {plural(n_rest, 'job')}; {plural(other_total, one)} in all"
        text = end_note(ax, note, (left[-1], y[-1]), color="0.3")
        right = max(right, room_for_texts(ax, left[-1:], [text]))
    ax.set_xlim(0, right)
    return ax
