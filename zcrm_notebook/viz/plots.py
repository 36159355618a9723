"""Axes-level matplotlib plots of the snapshot frame (seaborn's contract, DESIGN.md §7).

Every ``plot_x(df, *, ax=None, tz="UTC", **kwargs) -> Axes`` takes the *snapshot* frame,
draws on ``ax`` (or the current Axes), labels its axes with units, and returns the Axes. It
never calls ``plt.show()``, never modifies ``df`` and never touches global rcParams. Colours
are fixed per status (:data:`STATUS_COLORS`), outcome (:data:`OUTCOME_COLORS`) and data
center (:data:`DC_COLORS`). Many jobs are folded into an "other (N jobs)" row so the plots
stay readable from 3 to thousands of jobs. Times are plotted as absolute instants and
labelled in ``tz`` (named in the axis label), so spacing stays right across DST changes.
"""

from __future__ import annotations

import logging
from datetime import tzinfo
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Annotation

from ..analysis.summary import summarize_dcs, summarize_jobs, summarize_orgs
from ..analysis.timeseries import progress_over_time
from ..errors import ConfigError
from ..snapshots.schema import JOB_KEYS
from .style import (
    BY_LABEL,
    DC_COLORS,
    MAX_JOB_LINES,
    OTHER_COLOR,
    OUTCOME_COLORS,
    STATUS_COLORS,
    auto_freq,
    choose,
    date_num,
    dc_color,
    fold_columns,
    fold_rows,
    get_ax,
    group_colors,
    largest_columns,
    legend_above,
    no_data,
    org_dcs,
    outcome_bars,
    percent,
    percent_ticks,
    plural,
    room_for_texts,
    status_runs,
    time_axis,
    widen_time_axis,
    zone,
)

__all__ = [
    "STATUS_COLORS",
    "OUTCOME_COLORS",
    "DC_COLORS",
    "dc_color",
    "plot_progress",
    "plot_outcomes",
    "plot_failure_rate",
    "plot_status_timeline",
]

log = logging.getLogger(__name__)


def plot_progress(
    df: pd.DataFrame,
    *,
    by: str = "dc",
    kind: str = "line",
    ax: Axes | None = None,
    tz: str | tzinfo = "UTC",
    freq: str | None = None,
    top: int = 10,
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
        Bin width for :func:`~zcrm_notebook.summary.progress_over_time`; default chosen
        to give at most 240 bins.
    top : int, default 10
        Most groups drawn; the others are summed into one "other (N ...)" group.
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
    _check_top(top, 2)
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
    ax.set_title(f"Conversion progress by {BY_LABEL[by]}")
    if ts.empty:
        ax.set_ylabel("leads processed (%)")
        return no_data(ax, "lead counts")
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
        ax.set_ylabel("leads processed (count)")
    else:
        # fixed denominators: every group is on the grid up to the last bin, so the last
        # row holds the latest total of each group (all of its jobs, whenever first seen)
        final = total.iloc[-1].astype("Float64").fillna(0)
        pct = percent(processed, pd.DataFrame(final.to_dict(), index=processed.index))
        dot = {"marker": "o"} if len(x) == 1 else {}  # a single time bin is no line
        for name, color in zip(pct.columns, colors):
            ax.plot(x, pct[name], **({"color": color, "label": name} | dot | kwargs))
        if pct.shape[1] > 1:
            all_den = pd.Series(float(final.sum()), index=processed.index)
            all_pct = percent(processed.sum(axis=1), all_den)
            style = {"color": "black", "linestyle": "--", "linewidth": 1} | dot
            ax.plot(x, all_pct, label="all", **style)
        ax.set_ylim(0, 105)
        ax.yaxis.set_major_formatter(percent_ticks())
        ax.set_ylabel("leads processed (% of latest total)")
    widen_time_axis(ax, x)
    ax.legend(
        title=BY_LABEL[by],
        fontsize="small",
        loc="upper left",
        ncols=2 if processed.shape[1] > 6 else 1,
    )
    return ax


def plot_outcomes(
    df: pd.DataFrame,
    *,
    top: int = 20,
    sort: str = "size",
    ax: Axes | None = None,
    tz: str | tzinfo = "UTC",
    **kwargs,
) -> Axes:
    """Stacked converted / failed / pending leads per job, top jobs plus one "other" bar.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame. Not modified.
    top : int, default 20
        Jobs drawn individually; the rest are summed into one "other (N jobs)" bar,
        hatched and scaled to fit when it is longer than the largest job bar (its real
        lead count is written next to it, on one line inside the Axes).
    sort : {"size", "failures"}, default "size"
        Pick and order jobs by latest ``total_count`` or by ``failed_count`` (then
        failure rate), largest first.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    tz : str or tzinfo, default "UTC"
        Accepted for a uniform signature (this plot has no time axis).
    **kwargs
        Passed to each ``Axes.barh`` call (one per outcome: converted, failed, pending).

    Returns
    -------
    matplotlib.axes.Axes
        Three bar containers (converted, failed, pending), one bar per job row; a "no jobs
        yet" / "no lead counts yet" note instead when there is nothing to draw.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        For a bad ``sort``, ``top < 1`` or missing columns.
    """
    choose(sort, "sort", ("size", "failures"))
    _check_top(top, 1)
    ax = _bar_axes(ax, tz, "leads (count)", "job id (data center)", "Lead outcomes per job")
    jobs = summarize_jobs(df)
    if _noted_no_leads(ax, jobs, ["total_count", "converted_count", "failed_count"]):
        return ax
    bars, n_rest, scale, other_total = outcome_bars(jobs, top, sort)
    y = np.arange(len(bars))
    left = np.zeros(len(bars))
    for name in ("converted", "failed", "pending"):
        style: dict[str, Any] = {"height": 0.8, "color": OUTCOME_COLORS[name], "label": name}
        cont = ax.barh(y, bars[name], left=left, **(style | kwargs))
        if n_rest and scale < 1.0:
            cont.patches[-1].set_hatch("//")
        left = left + bars[name].to_numpy(float)
    ax.set_yticks(y, bars.index, fontsize="small" if len(bars) > 12 else None)
    ax.set_ylim(len(bars) - 0.5, -0.5)
    ax.set_title(f"Lead outcomes per job ({len(bars) - bool(n_rest)} of {len(jobs)} by {sort})")
    ax.legend(fontsize="small", loc="upper right")
    right = max(float(left.max()), 1.0) * 1.4  # room for the legend
    if n_rest:
        note = f"{other_total:,} leads" + (" (bar scaled to fit)" if scale < 1 else "")
        text = _end_note(ax, note, (left[-1], y[-1]), color="0.3")
        right = max(right, room_for_texts(ax, left[-1:], [text]))
    ax.set_xlim(0, right)
    return ax


def plot_failure_rate(
    df: pd.DataFrame,
    *,
    by: str = "dc",
    top: int = 20,
    ax: Axes | None = None,
    tz: str | tzinfo = "UTC",
    **kwargs,
) -> Axes:
    """Pooled lead failure rate per data center (or org) with its 95 % Wilson interval.

    One horizontal bar per group (``failure_rate`` of
    :func:`~zcrm_notebook.summary.summarize_dcs`, in %), black error bars from
    ``failure_rate_lo`` to ``failure_rate_hi`` and the lead counts written next to each bar
    ("2 / 3 leads failed"), so a small group's uncertainty is visible at a glance. The x axis
    starts at 0 and ends just past the largest upper bound, with room for those texts.

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
    _check_top(top, 2)
    xlabel = "lead failure rate (%, 95% Wilson interval)"
    ax = _bar_axes(ax, tz, xlabel, BY_LABEL[by], f"Failed leads by {BY_LABEL[by]}")
    table = summarize_dcs(df) if by == "dc" else summarize_orgs(df)
    if _noted_no_leads(ax, table, ["leads_total"]):
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
        _end_note(
            ax,
            f"{k:,.0f} / {n:,.0f} leads failed" if n > 0 else "no lead counts",
            (end, float(yi)),
            color="0.25",
        )
        for yi, end, k, n in zip(y, ends, t["leads_failed"], t["leads_total"])
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
    _check_top(top, 1)
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


def _check_top(top: int, least: int) -> None:
    """ConfigError unless ``top`` (groups or jobs drawn) is at least ``least``."""
    if top < least:
        raise ConfigError(f"top={top!r} must be at least {least}")


def _bar_axes(ax: Axes | None, tz: str | tzinfo, xlabel: str, ylabel: str, title: str) -> Axes:
    """The labelled Axes of a plot without a time axis (``tz`` is still checked)."""
    zone(tz)
    ax = get_ax(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


def _noted_no_leads(ax: Axes, table: pd.DataFrame, count_columns: list[str]) -> bool:
    """Write "no jobs yet" (no rows) or "no lead counts yet" (no positive count in
    ``count_columns``) on ``ax`` and return True; False when there is something to draw."""
    if table.empty:
        no_data(ax, "jobs")
    elif not (table[count_columns].fillna(0) > 0).any(axis=None):
        no_data(ax, "lead counts")
    else:
        return False
    return True


def _end_note(ax: Axes, text: str, xy: tuple[float, float], *, color: str) -> Annotation:
    """A small text just right of a bar's end ``xy``; :func:`room_for_texts` (same 4 pt
    offset) then widens the x axis so that it ends inside the Axes."""
    return ax.annotate(
        text,
        xy,
        xytext=(4, 0),
        textcoords="offset points",
        annotation_clip=False,  # measured before the x limits are set
        in_layout=False,  # placed inside the Axes by room_for_texts
        va="center",
        fontsize="small",
        color=color,
    )
