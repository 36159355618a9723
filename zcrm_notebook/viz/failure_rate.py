"""plot_failure_rate: the pooled lead failure rate per data center (or org) with its
95 % Wilson interval.

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

from ..analysis.summary import summarize_dcs, summarize_orgs
from .plotdata import (
    check_top,
    choose,
    fold_rows,
)
from .style import (
    BY_LABEL,
    bar_axes,
    end_note,
    group_colors,
    note_no_leads,
    org_dcs,
    percent_ticks,
    room_for_texts,
)
from .text import count_nouns

__all__ = ["plot_failure_rate"]


def plot_failure_rate(
    df: pd.DataFrame,
    *,
    by: str = "dc",
    top: int = 20,
    ax: Axes | None = None,
    tz: str | tzinfo = "UTC",
    job_totals: bool = False,
    ended: bool = False,
    **kwargs,
) -> Axes:
    """Pooled lead failure rate per data center (or org) with its 95 % Wilson interval.

    One horizontal bar per group (``failure_rate`` of
    :func:`~zcrm_notebook.analysis.summary.summarize_dcs`, in %: failed / processed, so a
    run half done shows the rate of the leads Zoho has processed so far and pending leads
    never count as successes), black error bars from ``failure_rate_lo`` to
    ``failure_rate_hi`` and the lead counts written next to each bar ("2 / 3 processed
    leads failed"; "no lead processed yet"), so a small group's uncertainty is visible at a
    glance. The x axis starts at 0 and ends just past the largest upper bound, with room for
    those texts.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame. Not modified.
    by : {"dc", "org"}, default "dc"
        Group by data center or org label.
    top : int, default 20
        Groups drawn; beyond that the groups with fewest leads are pooled into "other".
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    tz : str or tzinfo, default "UTC"
        Accepted for a uniform signature (this plot has no time axis).
    job_totals : bool, default False
        Label the counts as job totals ("lead attempts", "(job totals)" in the title): for
        the jobs of a conversion whose lead outcomes are shown beside the figure, where a
        retried lead is in each of its jobs.
    ended : bool, default False
        The run has ended (a past run, a stopped poll): a group without processed leads
        reads "no lead processed", not "no lead processed yet".
    **kwargs
        Passed to ``Axes.barh`` (the rate bars; not to the error bars).

    Returns
    -------
    matplotlib.axes.Axes
        One bar container (a bar per group, width = rate in %) and one errorbar container;
        x ticks are written with a ``%`` sign (``0.5%``: the axis is in percent, never a
        0..1 fraction); a "no jobs yet" / "no lead counts yet" note instead when no group
        has leads. Orgs are coloured like their data center when each maps to its own.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        For a bad ``by``, ``top < 2``, ``tz`` or missing columns.
    """
    choose(by, "by", ("dc", "org"))
    check_top(top, 2)
    one, many, suffix = count_nouns(job_totals)
    xlabel = f"% of processed {many} failed\n(95% Wilson interval)"  # 2 lines: fits narrow
    # "(job totals)" on a line of its own: the panel is narrow in the dashboard
    title = f"Failed {many} by {BY_LABEL[by]}" + (f"\n{suffix.strip()}" if suffix else "")
    ax = bar_axes(ax, tz, xlabel, BY_LABEL[by], title)
    table = summarize_dcs(df) if by == "dc" else summarize_orgs(df)
    if note_no_leads(ax, table, ["leads_total"]):
        return ax
    t = fold_rows(table, by, top)
    rate, lo, hi = (
        100 * t[c].to_numpy() for c in ("failure_rate", "failure_rate_lo", "failure_rate_hi")
    )
    y = np.arange(len(t))
    colors = group_colors(by, list(t["label"]), org_dcs(df))
    style: dict[str, Any] = {"height": 0.6, "color": colors}
    ax.barh(y, np.nan_to_num(rate), **(style | kwargs))
    known = ~np.isnan(rate)
    err = np.clip([rate[known] - lo[known], hi[known] - rate[known]], 0, None)
    ax.errorbar(
        rate[known], y[known], xerr=err, fmt="none", ecolor="black", elinewidth=1, capsize=3
    )
    ends = np.nan_to_num(hi)
    texts = [
        end_note(ax, _counts_note(k, n, total, one, many, ended), (end, float(yi)), color="0.25")
        for yi, end, k, n, total in zip(
            y, ends, t["leads_failed"], t["leads_processed"], t["leads_total"]
        )
    ]
    ax.set_yticks(y, t["label"])
    ax.set_ylim(len(t) - 0.5, -0.5)
    right = room_for_texts(ax, ends, texts) if ends.max() > 0 else 1.0
    ax.set_xlim(0, right)
    # no tick past 100 %; set_xticks would widen the view to its ticks, so set it again
    ax.set_xticks([v for v in ax.get_xticks() if 0 <= v <= min(right, 100.0) + 1e-9])
    ax.set_xlim(0, right)
    # ticks read "0.5%", not "0.5" (which looks like a fraction of 1 on a narrow axis)
    ax.xaxis.set_major_formatter(percent_ticks())
    return ax


def _counts_note(
    failed: float, processed: float, total: float, one: str, many: str, ended: bool = False
) -> str:
    """The text beside a bar: ``"2 / 85 processed leads failed"``; leads not processed yet
    are not counted as successes ("no lead processed yet", or without "yet" once the run
    has ``ended``)."""
    if total <= 0:
        return f"no {one} counts"
    if processed <= 0:
        return f"no {one} processed" + ("" if ended else " yet")
    return f"{failed:,.0f} / {processed:,.0f} processed {many} failed"
