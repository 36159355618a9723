"""plot_progress: percent (or count) of leads processed over time, per data center, org
or job.

Like every plot of :mod:`zcrm_notebook.viz` it takes the *snapshot* frame, draws on
``ax`` (or the current Axes), labels its axes with units and returns the Axes; it never
calls ``plt.show()``, never modifies ``df`` and never touches global rcParams. Times are
plotted as absolute instants and labelled in ``tz`` (named in the axis label), so spacing
stays right across DST changes.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..analysis.summary import summarize_jobs
from ..analysis.timeseries import progress_over_time
from ..errors import ConfigError
from ..snapshots.schema import JOB_KEYS
from .plotdata import (
    MAX_JOB_LINES,
    auto_freq,
    check_top,
    choose,
    fold_columns,
    largest_columns,
    percent,
)
from .style import (
    BY_LABEL,
    date_num,
    fit_time_axis,
    get_ax,
    group_colors,
    legend_right,
    no_data,
    org_dcs,
    percent_ticks,
    time_axis,
)
from .text import count_nouns, plural

__all__ = ["plot_progress"]


def plot_progress(
    df: pd.DataFrame,
    *,
    by: str = "dc",
    kind: str = "line",
    ax: Axes | None = None,
    tz: str | tzinfo = "UTC",
    freq: str | None = None,
    top: int = 10,
    job_totals: bool = False,
    **kwargs,
) -> Axes:
    """Conversion progress over time per data center, org or (few) jobs.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame. Not modified.
    by : {"dc", "org", "job"}, default "dc"
        One line/area per group; ``"job"`` only for at most 10 jobs.
    kind : {"line", "area"}, default "line"
        ``"line"``: percent of each group's leads processed (converted + failed), plus a
        dashed black "all" line when there are several groups. The denominator is fixed
        per line: the group's total leads as last known (the sum of the latest
        ``total_count`` of every job of the group, including jobs first seen later, which
        count as 0 processed until then), so a line never drops just because a new job
        appears; a line starts when its group's first job is seen; y ticks read ``40%``.
        ``"area"``: stacked processed-lead counts per group. Data centers have fixed
        colours; an org is drawn in its data center's colour when no other org shown
        shares that data center.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    tz : str or tzinfo, default "UTC"
        Zone of the time axis labels (IANA name), shown in the x label.
    freq : str, optional
        Bin width for :func:`~zcrm_notebook.analysis.summary.progress_over_time`; default chosen
        to give at most 240 bins.
    top : int, default 10
        Most groups drawn; the others are summed into one "other (N ...)" group.
    job_totals : bool, default False
        Label the counts as job totals ("lead attempts", "(job totals)" in the title): for
        the jobs of a conversion whose lead outcomes are shown beside the figure, where a
        retried lead is in each of its jobs. Jobs first seen after every earlier job had
        ended (a retry round) are marked by a dotted line at their first sighting, with
        how many lead attempts they add: the lines stay flat below 100 % until those
        jobs run (the retried leads waiting, not a stall).
    **kwargs
        Passed to ``Axes.plot`` (line) or ``Axes.stackplot`` (area).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        For a bad ``by``, ``kind``, ``freq`` or ``tz``, or ``by="job"`` with > 10 jobs.
    """
    choose(by, "by", ("dc", "org", "job"))
    choose(kind, "kind", ("line", "area"))
    check_top(top, 2)
    keys = JOB_KEYS
    if (
        by == "job"
        and set(keys) <= set(df.columns)
        and len(df[keys].drop_duplicates()) > MAX_JOB_LINES
    ):
        raise ConfigError(f"by='job' draws at most {MAX_JOB_LINES} jobs; use by='dc' or 'org'")
    ts = progress_over_time(df, by=by, freq=freq or auto_freq(df))
    ax = get_ax(ax)
    time_axis(ax, tz)
    one, many, suffix = count_nouns(job_totals)
    ax.set_title(f"Conversion progress by {BY_LABEL[by]}{suffix}")
    if ts.empty:
        ax.set_ylabel(f"{many} processed (%)")
        return no_data(ax, f"{one} counts")
    col = "job_id" if by == "job" else by
    ts = ts.assign(processed=ts["converted"] + ts["failed"])
    total = ts.pivot(index="time", columns=col, values="total")
    keep = largest_columns(total, top)
    total = fold_columns(total, keep, by)
    processed = ts.pivot(index="time", columns=col, values="processed")
    processed = fold_columns(processed, keep, by)
    x = date_num(processed.index)
    colors = group_colors(by, list(processed.columns), org_dcs(df))
    if kind == "area":
        ys = processed.fillna(0).astype("float64").to_numpy().T
        style = {"colors": colors, "labels": list(processed.columns)} | kwargs
        ax.stackplot(x, ys, **style)
        ax.set_ylabel(f"{many} processed (count)")
    else:
        # fixed denominators: every group is on the grid up to the last bin, so the last
        # row holds the latest total of each group (all of its jobs, whenever first seen)
        final = total.iloc[-1].astype("Float64").fillna(0)
        pct = percent(processed, pd.DataFrame(final.to_dict(), index=processed.index))
        dot: dict[str, Any] = {"marker": "o"} if len(x) == 1 else {}  # one bin: no line
        for name, color in zip(pct.columns, colors):
            ax.plot(x, pct[name], **({"color": color, "label": name} | dot | kwargs))
        if pct.shape[1] > 1:
            all_den = pd.Series(float(final.sum()), index=processed.index)
            all_pct = percent(processed.sum(axis=1), all_den)
            dashed: dict[str, Any] = {"color": "black", "linestyle": "--", "linewidth": 1}
            ax.plot(x, all_pct, label="all", **(dashed | dot))
        ax.set_ylim(0, 105)
        ax.yaxis.set_major_formatter(percent_ticks())
        ax.set_ylabel(f"{many} processed (% of latest total)")
    if job_totals:
        _mark_later_rounds(ax, df, many)
    fit_time_axis(ax, x)
    legend_right(ax, title=BY_LABEL[by], ncols=2 if processed.shape[1] > 12 else 1)
    return ax


def later_rounds(df: pd.DataFrame) -> list[tuple[pd.Timestamp, int, int]]:
    """``(first seen, jobs, leads)`` of each set of jobs first seen after every job seen
    before them had ended (a conversion's retry rounds): the first job of a set is seen
    when all earlier ones are final; the jobs seen before the set's jobs end join it."""
    jobs = summarize_jobs(df).dropna(subset=["first_seen_at"]).sort_values("first_seen_at")
    first = jobs["first_seen_at"].to_numpy("datetime64[ns]").astype("int64")
    finished = jobs["finished_at"].to_numpy("datetime64[ns]").astype("int64")
    finished[jobs["finished_at"].isna().to_numpy()] = np.iinfo(np.int64).max
    ended_by = np.maximum.accumulate(finished)  # when every job up to here had ended
    starts = [i for i in range(1, len(jobs)) if ended_by[i - 1] <= first[i]]
    leads = jobs["total_count"].fillna(0).to_numpy("int64")
    out = []
    for a, b in zip(starts, [*starts[1:], len(jobs)]):
        out.append((jobs["first_seen_at"].iloc[a], b - a, int(leads[a:b].sum())))
    return out


def _mark_later_rounds(ax: Axes, df: pd.DataFrame, many: str) -> None:
    """A dotted line at each :func:`later_rounds` set, and a small note in the lower part
    of the Axes beside it, where no line is: from a round's start on, every line is flat
    or rising at 50 % or more (the jobs before had all ended, and a round retries at most
    the lead attempts before it). The note goes right of the line, or left of it when the
    line is in the last 30 % of the time axis (no room to its right)."""
    times = df["polled_at"]
    first, span = times.min(), (times.max() - times.min()).total_seconds()
    for when, n_jobs, n_leads in later_rounds(df):
        x = date_num(pd.DatetimeIndex([when]))[0]
        ax.axvline(x, color="0.45", linestyle=":", linewidth=1, zorder=1)
        right = span <= 0 or (when - first).total_seconds() <= 0.7 * span
        ax.annotate(
            f"+{n_leads:,} {many}\n({plural(n_jobs, 'new job')})",
            (x, 0.03),
            xycoords=("data", "axes fraction"),
            xytext=(3 if right else -3, 0),
            textcoords="offset points",
            ha="left" if right else "right",
            va="bottom",
            fontsize="small",
            color="0.35",
        )
