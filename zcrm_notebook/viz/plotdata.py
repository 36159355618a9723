"""The tables the figures draw: top-N folding, percentages, bars and status runs.

Pure functions of the snapshot frame and its summaries (pandas and numpy, no matplotlib):
the largest groups and an "other (N ...)" remainder, failure-rate rows with their Wilson
intervals, the outcome bars of the largest jobs, the status runs of a timeline, and the
checks of the plots' choices. No function modifies the frames it is given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.summary import wilson_interval
from ..errors import ConfigError
from ..snapshots.schema import JOB_KEYS
from .text import plural

MAX_JOB_LINES = 10
_AUTO_FREQS = [
    "1s",
    "5s",
    "10s",
    "15s",
    "30s",
    "1min",
    "2min",
    "5min",
    "10min",
    "15min",
    "30min",
    "1h",
    "2h",
    "3h",
    "6h",
    "12h",
    "1D",
]


def choose(value: str, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; use one of {list(allowed)}")
    return value


def auto_freq(df: pd.DataFrame, max_bins: int = 240) -> str:
    """The finest of ``_AUTO_FREQS`` giving at most ``max_bins`` bins over the frame."""
    span = df["polled_at"].max() - df["polled_at"].min() if len(df) else pd.Timedelta(0)
    for freq in _AUTO_FREQS:
        if span / pd.Timedelta(freq) <= max_bins:
            return freq
    return _AUTO_FREQS[-1]


def largest_columns(wide: pd.DataFrame, top: int) -> list:
    """Names of the columns to draw: all if at most ``top``, else the ``top - 1`` with the
    largest last value (ties by name), sorted by name."""
    if wide.shape[1] <= top:
        return list(wide.columns)
    last = wide.ffill().iloc[-1].astype("Float64").fillna(0)
    ranked = sorted(wide.columns, key=lambda c: (-float(last[c]), str(c)))
    return sorted(ranked[: top - 1], key=str)


def fold_columns(wide: pd.DataFrame, keep: list, noun: str) -> pd.DataFrame:
    """``wide[keep]`` plus, if columns are left, their sum as "other (N <noun>s)"."""
    rest = [c for c in wide.columns if c not in set(keep)]
    out = wide[keep].copy()
    if rest:
        out[f"other ({plural(len(rest), noun)})"] = wide[rest].sum(axis=1, min_count=1)
    return out


def percent(num, den):
    """100 * num / den as float, NaN where den is 0 or NA (no warnings)."""
    num = num.astype("Float64").astype("float64")
    den = den.astype("Float64").astype("float64")
    den = den.where(den > 0)
    return 100.0 * num / den


def fold_rows(table: pd.DataFrame, by: str, top: int) -> pd.DataFrame:
    """Failure table for plotting: the ``top - 1`` groups with most leads (sorted by name)
    and the rest pooled as one "other (N ...)" row with its own Wilson interval.

    Returns columns ``label``, ``leads_total``, ``leads_processed`` (converted + failed),
    ``leads_failed`` (float64), ``failure_rate`` = failed / processed, ``failure_rate_lo``,
    ``failure_rate_hi`` (float64, 0..1; NaN until a lead is processed), ``other`` (bool).
    """
    table = table.sort_values(by)
    if len(table) > top:
        order = table.sort_values(["leads_total", by], ascending=[False, True])
        keep, rest = order.iloc[: top - 1].sort_values(by), order.iloc[top - 1 :]
    else:
        keep, rest = table, table.iloc[:0]
    labels = [str(v) for v in keep[by]]
    sums = {}
    for col in ("leads_total", "leads_converted", "leads_failed"):
        shown = keep[col].to_numpy("float64", na_value=0.0)
        pooled = [rest[col].to_numpy("float64", na_value=0.0).sum()] if len(rest) else []
        sums[col] = np.r_[shown, pooled]
    if len(rest):
        labels.append(f"other ({plural(len(rest), by)})")
    total, failed = sums["leads_total"], sums["leads_failed"]
    processed = sums["leads_converted"] + failed
    lo, hi = wilson_interval(failed, processed)
    rate = np.full(len(total), np.nan)
    np.divide(failed, processed, out=rate, where=processed > 0)
    is_other = np.arange(len(labels)) >= len(keep)
    return pd.DataFrame(
        {
            "label": labels,
            "leads_total": total,
            "leads_processed": processed,
            "leads_failed": failed,
            "failure_rate": rate,
            "failure_rate_lo": lo,
            "failure_rate_hi": hi,
            "other": is_other,
        }
    )


def outcome_bars(jobs: pd.DataFrame, top: int, sort: str):
    """Bars of :func:`~zcrm_notebook.viz.outcomes.plot_outcomes` from a job summary.

    Returns ``(bars, n_rest, other_total)``: ``bars`` has columns converted, failed,
    pending (float64 leads) indexed by "job_id (dc)" labels; when jobs are left over, a
    last row "other (N jobs, mean)" holds the mean per job of their leads, so it is drawn
    on the same scale as the jobs above it; ``other_total`` is their lead count in all.
    """
    counts = pd.DataFrame(
        {c: jobs[f"{c}_count"] for c in ("converted", "failed")}
        | {"pending": jobs["not_converted_count"]}
    )
    counts = counts.astype("Float64").fillna(0).astype("float64")
    total, failed = jobs["total_count"].fillna(0), jobs["failed_count"].fillna(0)
    key, second = (total, total) if sort == "size" else (failed, jobs["failure_rate"].fillna(0))
    order = np.lexsort(
        (jobs["job_id"].to_numpy(str), -second.to_numpy(float), -key.to_numpy(float))
    )
    shown, rest = order[:top], order[top:]
    bars = counts.iloc[shown].copy()
    bars.index = (jobs["job_id"] + " (" + jobs["dc"] + ")").iloc[shown].to_numpy()
    if not len(rest):
        return bars, 0, 0
    other = counts.iloc[rest]
    bars.loc[f"other ({plural(len(rest), 'job')}, mean)"] = other.mean()
    return bars, len(rest), int(other.to_numpy().sum())


def timeline_jobs(df: pd.DataFrame, jobs: pd.DataFrame, top: int):
    """The rows of a status timeline: ``(shown, rest)``, slices of the job summary.

    Every job gets ``start`` (its first non-error poll, else its first poll) and ``end``
    (its finish, else its last poll), UTC. Jobs that never got a status (every poll an
    error row) are shown first, then the ``top`` longest-running others; ``shown`` is
    ordered by start, no-status jobs last, with a RangeIndex (row ``i`` is drawn at
    ``y = i``); ``rest`` holds the jobs folded into "other".
    """
    first = df.groupby(list(JOB_KEYS), observed=True)["polled_at"].min().rename("first_poll")
    jobs = jobs.merge(first, left_on=list(JOB_KEYS), right_index=True, how="left")
    blind = jobs["first_seen_at"].isna()
    jobs = jobs.assign(
        start=jobs["first_seen_at"].fillna(jobs["first_poll"]),
        end=jobs["finished_at"].fillna(jobs["last_polled_at"]),
        blind=blind,
    )
    elapsed = (jobs["end"] - jobs["start"]).dt.total_seconds()
    pick = jobs.assign(elapsed=elapsed).sort_values(
        ["blind", "elapsed", "job_id"], ascending=[False, False, True]
    )
    shown = pick.iloc[:top].sort_values(["blind", "start", "job_id"]).reset_index(drop=True)
    return shown, pick.iloc[top:]


def _timeline_rows(df: pd.DataFrame, jobs: pd.DataFrame) -> pd.DataFrame:
    """Snapshot rows (no error rows) of the chosen ``jobs``, with their row number ``y``."""
    key = JOB_KEYS
    sub = df.loc[df["job_id"].isin(jobs["job_id"]), ["polled_at", *key, "status"]]
    sub = sub.merge(jobs[key].assign(y=np.arange(len(jobs))), on=key, how="inner")
    sub = sub[sub["status"].astype(str) != "error"].sort_values(["y", "polled_at"])
    return sub.reset_index(drop=True)


def status_runs(df: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    """Runs of one non-final status per job: ``y``, ``status``, ``start``, ``end`` (UTC).

    A status holds from its poll to the job's next non-error poll (or its last poll).
    Completed/failed rows are drawn as markers instead. ``shown`` is a slice of
    :func:`~zcrm_notebook.analysis.summary.summarize_jobs`; row ``i`` of it is drawn at ``y = i``.
    """
    rows = _timeline_rows(df, shown)
    if rows.empty:  # no job of ``shown`` ever had a status
        return pd.DataFrame(columns=["y", "status", "start", "end"])
    last_polled = shown["last_polled_at"]
    status = rows["status"].astype(str)
    nxt = rows.groupby("y")["polled_at"].shift(-1)
    end = nxt.fillna(rows["y"].map(last_polled))
    run = ((status != status.shift()) | (rows["y"] != rows["y"].shift())).cumsum()
    seg = pd.DataFrame(
        {"y": rows["y"], "status": status, "start": rows["polled_at"], "end": end, "run": run}
    )
    seg = seg.groupby("run").agg(
        y=("y", "first"), status=("status", "first"), start=("start", "min"), end=("end", "max")
    )
    return seg[~seg["status"].isin(["completed", "failed"])]


def check_top(top: int, least: int) -> None:
    """ConfigError unless ``top`` (groups or jobs drawn) is at least ``least``."""
    if top < least:
        raise ConfigError(f"top={top!r} must be at least {least}")


def lead_outcome_counts(leads: pd.DataFrame, by: str) -> pd.DataFrame:
    """Leads per group (``dc`` or ``org``, sorted) and outcome, from a lead outcome table.

    Returns
    -------
    pandas.DataFrame
        Index: the groups; columns: every outcome of
        :data:`~zcrm_notebook.convert.outcomes.OUTCOMES` in order (int64 counts).
    """
    from ..convert.outcomes import OUTCOMES

    counts = leads.groupby([by, "outcome"], observed=False).size().unstack(fill_value=0)
    counts = counts.reindex(columns=list(OUTCOMES), fill_value=0).astype("int64")
    return counts[counts.sum(axis=1) > 0].sort_index()
