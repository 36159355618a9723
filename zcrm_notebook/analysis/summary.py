"""Derived tables of the snapshot frame: one row per job, per data center or per org.

Pure functions of the snapshot DataFrame (:mod:`zcrm_notebook.snapshots.schema`). They
are vectorised: rows are grouped once into integer job codes
(:mod:`zcrm_notebook.analysis.grouping`) and reduced with numpy, never with a Python loop
per job, so a million snapshot rows summarise in well under a second. Ratios are ``NaN``
instead of ``inf`` when a total is 0 or unknown, and nothing here emits warnings.
:func:`progress_over_time` lives in :mod:`zcrm_notebook.analysis.timeseries` and is
re-exported here.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..snapshots.frame import COUNT_COLUMNS, STATUS_DTYPE
from .grouping import (
    ERROR_CODE,
    ETA_WINDOW_POLLS,
    FINAL_CODES,
    FLAG_COLUMNS,
    TEXT_DTYPE,
    flag_arrays,
    group_snapshots,
    last_per_group,
    latest_per_job,
    rates,
    ratio,
    watched_gain,
)
from .timeseries import progress_over_time

__all__ = [
    "JOB_COLUMNS",
    "GROUP_COLUMNS",
    "FLAG_COLUMNS",
    "ETA_WINDOW_POLLS",
    "summarize_jobs",
    "summarize_dcs",
    "summarize_orgs",
    "progress_over_time",
    "wilson_interval",
]

log = logging.getLogger(__name__)

WILSON_Z = 1.959963984540054  # two-sided 95 % normal quantile
_STATUSES = list(STATUS_DTYPE.categories)

#: Columns of :func:`summarize_jobs`: name -> (dtype, meaning with units).
JOB_COLUMNS: dict[str, tuple[str, str]] = {
    "org": ("string", "org label"),
    "dc": ("string", "data-center code"),
    "job_id": ("string", "19-digit job id (text)"),
    "status": ("category", "latest status of a non-error poll; 'error' if every poll failed"),
    "total_count": ("Int64", "leads in the job, from the latest poll that had counts"),
    "converted_count": ("Int64", "leads converted (same poll)"),
    "not_converted_count": ("Int64", "leads not converted yet, i.e. pending (same poll)"),
    "failed_count": ("Int64", "leads failed (same poll)"),
    "progress": ("float64", "(converted+failed)/total, 0..1; NaN when total is 0 or NA"),
    "failure_rate": (
        "float64",
        "failed/(converted+failed): share of the processed leads that failed, 0..1; NaN "
        "until a lead is processed or when either count is NA",
    ),
    "first_seen_at": ("datetime64[ns, UTC]", "first poll that was not an error row"),
    "last_polled_at": ("datetime64[ns, UTC]", "last poll of any kind"),
    "finished_at": ("datetime64[ns, UTC]", "first completed/failed poll; NaT if unfinished"),
    "duration_s": (
        "float64",
        "finished_at - first_seen_at in seconds; NaN if unfinished or already final at its "
        "first poll (start not observed)",
    ),
    "leads_per_min": (
        "float64",
        "leads processed per minute while watched; NaN if unknown or already final at its "
        "first poll",
    ),
    "eta_at": ("datetime64[ns, UTC]", "estimated finish of an unfinished job; NaT if unknown"),
    "n_polls": ("int64", "snapshot rows of the job"),
    "n_errors": ("int64", "rows with status 'error' (we could not get a status)"),
    "last_error_code": ("string", "error_code of the latest row that had one; NA if none"),
    "stalled": ("bool", "unfinished and counts unchanged for >= stalled_after_s"),
    "counts_backwards": ("bool", "total, converted or failed count decreased between polls"),
    "status_regressed": ("bool", "completed/failed followed by scheduled/in_progress/unknown"),
    "counts_mismatch": ("bool", "converted+not_converted+failed != total (latest counts)"),
    "flags": ("string", "names of the true flags joined by ','; '' when none"),
}

#: Columns of :func:`summarize_dcs` / :func:`summarize_orgs` after the group column.
GROUP_COLUMNS: dict[str, tuple[str, str]] = {
    "n_jobs": ("int64", "jobs in the group"),
    **{f"n_{s}": ("int64", f"jobs whose latest status is {s!r}") for s in _STATUSES},
    "leads_total": ("Int64", "sum of the jobs' latest total_count (NA counts as 0)"),
    "leads_converted": ("Int64", "sum of the jobs' converted_count"),
    "leads_failed": ("Int64", "sum of the jobs' failed_count"),
    "leads_pending": ("Int64", "sum of the jobs' not_converted_count (not converted yet)"),
    "failure_rate": (
        "float64",
        "pooled leads_failed/(leads_converted+leads_failed), 0..1; NaN until a lead is processed",
    ),
    "failure_rate_lo": ("float64", "lower bound of its 95 % Wilson interval, 0..1"),
    "failure_rate_hi": ("float64", "upper bound of its 95 % Wilson interval, 0..1"),
    "median_duration_s": (
        "float64",
        "median duration_s of the jobs with an observed duration, seconds; NaN if none",
    ),
    "throughput_leads_per_min": (
        "float64",
        "leads processed while watched per minute, jobs with an observed duration only "
        "(first sighting to last finish); NaN if none",
    ),
}


def wilson_interval(
    failed: np.ndarray | pd.Series, total: np.ndarray | pd.Series, *, z: float = WILSON_Z
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``failed / total``.

    Parameters
    ----------
    failed, total : array-like of int
        Successes (failed leads) and trials (leads); NA or ``total <= 0`` give NaN.
    z : float, default 1.96
        Normal quantile; the default gives a two-sided 95 % interval.

    Returns
    -------
    (lo, hi) : tuple of numpy.ndarray of float64
        Bounds in 0..1. 2 of 3 gives about (0.21, 0.94), 30 of 3000 about (0.007, 0.014).
    """
    k = pd.Series(failed, dtype="Float64").to_numpy("float64", na_value=np.nan)
    n = pd.Series(total, dtype="Float64").to_numpy("float64", na_value=np.nan)
    ok = np.isfinite(k) & np.isfinite(n) & (n > 0)
    lo, hi = np.full(len(k), np.nan), np.full(len(k), np.nan)
    p = np.clip(k[ok] / n[ok], 0.0, 1.0)
    nn = n[ok]
    den = 1.0 + z * z / nn
    centre = (p + z * z / (2 * nn)) / den
    half = z * np.sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / den
    lo[ok] = np.clip(np.minimum(centre - half, p), 0, 1)  # rounding never excludes p
    hi[ok] = np.clip(np.maximum(centre + half, p), 0, 1)
    return lo, hi


def _to_ns(now: object) -> int | None:
    """``now`` as int64 ns since the epoch: a number is epoch seconds, naive times are UTC."""
    if now is None:
        return None
    if isinstance(now, bool):
        raise ConfigError(f"now={now!r} is not a time")
    if isinstance(now, (int, float, np.integer, np.floating)):
        return int(round(float(now) * 1e9))
    try:
        ts = pd.Timestamp(now)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"now={now!r} is not a time: {exc}") from None
    if ts is pd.NaT:
        raise ConfigError("now is NaT; pass None to use each job's last poll")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    """int64 ns (NAT for missing) -> datetime64[ns, UTC]."""
    return pd.DatetimeIndex(np.asarray(ns, np.int64).view("M8[ns]")).tz_localize("UTC")


def _int_na(values: np.ndarray, na: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.asarray(values, np.int64).copy(), np.asarray(na, bool))


def _flag_text(flags: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Join the names of the true flags with ',' per row (16 combinations, no row loop)."""
    bits = np.zeros(n, np.int64)
    for i, name in enumerate(FLAG_COLUMNS):
        bits |= flags[name].astype(np.int64) << i
    table = [",".join(f for i, f in enumerate(FLAG_COLUMNS) if code >> i & 1) for code in range(16)]
    return np.asarray(table, dtype=object)[bits]


def summarize_jobs(
    df: pd.DataFrame, *, stalled_after_s: float = 600.0, now: object = None
) -> pd.DataFrame:
    """One row per job: latest status and counts, timing, ETA, poll errors and flags.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame (``zcrm_notebook.snapshots.schema.SNAPSHOT_COLUMNS``; at least ``polled_at``,
        ``org``, ``dc``, ``job_id``, ``status``, the four counts and ``error_code``), in any
        row order. Not modified.
    stalled_after_s : float, default 600.0
        Seconds without any change of the counts after which an unfinished job is stalled.
    now : datetime-like, number or None, default None
        Reference time of the ``stalled`` flag: a Timestamp/datetime/ISO string (naive
        means UTC) or epoch seconds. ``None`` uses each job's last poll.

    Returns
    -------
    pandas.DataFrame
        One row per (org, dc, job_id), sorted by those keys, RangeIndex. Columns, in order:

        - ``org``, ``dc``, ``job_id`` (string).
        - ``status`` (category, snapshot categories): status of the latest non-error poll,
          ``"error"`` when every poll of the job was an error row.
        - ``total_count``, ``converted_count``, ``not_converted_count``, ``failed_count``
          (Int64, leads): from the latest poll that had any count; NA when none had.
        - ``progress`` = (converted+failed)/total (float64, 0..1; NaN when total is 0 or
          NA; a missing part counts as 0) and ``failure_rate`` = failed/(converted+failed),
          the share of the *processed* leads that failed (float64, 0..1; NaN until a lead
          is processed, or when either count is missing): leads still pending are not
          counted as successes, so the rate of a job half done estimates its final rate,
          and it equals failed/total once the job ends.
        - ``first_seen_at`` (first non-error poll), ``last_polled_at`` (last poll),
          ``finished_at`` (first completed/failed poll), ``eta_at`` (estimated finish of an
          unfinished job: last counts poll + remaining leads / rate over the last
          ``ETA_WINDOW_POLLS`` counts polls; NaT when finished, not moving or unknown):
          datetime64[ns, UTC].
        - ``duration_s`` (float64, seconds): finished_at - first_seen_at, i.e. the time the
          job was *watched* running; NaN if unfinished, and NaN when its start was not
          observed: a job already ``completed``/``failed`` at its first answer (normal
          when checking yesterday's jobs) has an unknown duration, never 0.
        - ``leads_per_min`` (float64, leads/minute): processed leads gained between the
          first counts poll and finished_at (or the last counts poll); NaN for a zero span
          and for a job already final at its first poll (its rate was not observed).
        - ``n_polls``, ``n_errors`` (int64): rows, and rows with status ``"error"``.
        - ``last_error_code`` (string): error_code of the latest row that had one.
        - ``stalled``, ``counts_backwards``, ``status_regressed``, ``counts_mismatch``
          (bool), see ``JOB_COLUMNS``; pending (not_converted) going down is not
          "backwards"; a mismatch needs all four counts known.
        - ``flags`` (string): the true flag names joined with ``","``; ``""`` when none.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        If a needed column is missing, a status is not a snapshot category, or ``now``
        is not a time.
    """
    now_ns = _to_ns(now)
    g = group_snapshots(df)
    c = latest_per_job(g)
    unfinished = ~np.isin(c["status"], FINAL_CODES) & (c["status"] != ERROR_CODE)
    lpm, eta = rates(g, c, unfinished)
    flags = flag_arrays(g, c, unfinished, float(stalled_after_s), now_ns)
    out = g.keys.copy()
    out["status"] = pd.Categorical.from_codes(c["status"], dtype=STATUS_DTYPE)
    for name in COUNT_COLUMNS:
        out[name] = _int_na(c[name], c[name + "_na"])
    total_na = c["total_count_na"]
    out["progress"] = ratio(c["converted_count"] + c["failed_count"], c["total_count"], total_na)
    processed = c["converted_count"] + c["failed_count"]
    unknown = c["converted_count_na"] | c["failed_count_na"]  # no rate from a missing part
    out["failure_rate"] = ratio(c["failed_count"], processed, unknown)
    for name in ("first_seen_at", "last_polled_at", "finished_at"):
        out[name] = _utc(c[name])
    out["duration_s"] = c["duration_s"]
    out["leads_per_min"] = lpm
    out["eta_at"] = _utc(eta)
    out["n_polls"] = (g.ends - g.starts).astype(np.int64)
    out["n_errors"] = np.add.reduceat(g.is_error.astype(np.int64), g.starts) if g.n_rows else 0
    out["n_errors"] = out["n_errors"].astype(np.int64)
    code_na = np.asarray(g.error_code.isna(), bool) if len(g.error_code) else np.zeros(0, bool)
    last = last_per_group(g, ~code_na[g.order])
    out["last_error_code"] = g.error_code.take(
        np.where(last >= 0, g.order[last], -1), allow_fill=True
    )
    for name in FLAG_COLUMNS:
        out[name] = flags[name]
    out["flags"] = pd.array(_flag_text(flags, g.n_groups), dtype=TEXT_DTYPE)
    return out


def _group_table(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Shared body of :func:`summarize_dcs` and :func:`summarize_orgs`."""
    g = group_snapshots(df)
    c = latest_per_job(g)
    keys = g.keys[by]
    code, uniq = pd.factorize(keys, sort=True, use_na_sentinel=False)
    ng = len(uniq)
    out = pd.DataFrame({by: pd.array(uniq, dtype=TEXT_DTYPE)})
    out["n_jobs"] = np.bincount(code, minlength=ng).astype(np.int64)
    n_status = len(_STATUSES)
    per = np.bincount(code * n_status + c["status"], minlength=ng * n_status).reshape(ng, n_status)
    for i, s in enumerate(_STATUSES):
        out[f"n_{s}"] = per[:, i].astype(np.int64)
    sums = {}
    for col, name in [
        ("total", "total_count"),
        ("converted", "converted_count"),
        ("failed", "failed_count"),
        ("pending", "not_converted_count"),
    ]:
        sums[col] = _sum_by(code, c[name], ng)
        out[f"leads_{col}"] = pd.array(sums[col], dtype="Int64")
    processed = sums["converted"] + sums["failed"]
    out["failure_rate"] = ratio(sums["failed"], processed, np.zeros(ng, bool))
    out["failure_rate_lo"], out["failure_rate_hi"] = wilson_interval(sums["failed"], processed)
    # only jobs whose whole run was watched (start seen, then final) have a duration and
    # count for the group's timing; the others would give 0 s and absurd rates
    observed = ~np.isnan(c["duration_s"])
    dur = pd.Series(c["duration_s"][observed]).groupby(code[observed]).median()
    out["median_duration_s"] = dur.reindex(range(ng)).to_numpy("float64")
    gain, _ = watched_gain(g, c)
    gained = np.bincount(code[observed], gain[observed], minlength=ng)
    start = pd.Series(c["first_seen_at"][observed]).groupby(code[observed]).min()
    end = pd.Series(c["finished_at"][observed]).groupby(code[observed]).max()
    span_min = ((end - start) / 60e9).reindex(range(ng)).to_numpy("float64")
    out["throughput_leads_per_min"] = ratio(gained, span_min, np.isnan(span_min))
    return out


def _sum_by(code: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Integer sums of ``values`` per group code (exact, NA already 0)."""
    out = np.zeros(n, np.int64)
    np.add.at(out, code, values)
    return out


def summarize_dcs(df: pd.DataFrame) -> pd.DataFrame:
    """Per data center: jobs by status, lead totals, pooled failure rate with its CI.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame (see :func:`summarize_jobs`). Not modified.

    Returns
    -------
    pandas.DataFrame
        One row per data-center code, sorted, RangeIndex. Columns: ``dc`` (string), then
        ``n_jobs``, ``n_scheduled``, ``n_in_progress``, ``n_completed``, ``n_failed``,
        ``n_unknown``, ``n_error`` (int64, jobs by latest status as in
        :func:`summarize_jobs`); ``leads_total``, ``leads_converted``, ``leads_failed``,
        ``leads_pending`` (Int64, sums of the jobs' latest counts, pending =
        not_converted_count); ``failure_rate`` = leads_failed/(leads_converted +
        leads_failed), the share of the processed leads that failed (pending leads are not
        counted as successes), with its 95 % Wilson interval over the processed leads
        ``failure_rate_lo``, ``failure_rate_hi`` (float64, 0..1; NaN until a lead is
        processed). Timing uses only the jobs with an observed duration
        (``duration_s`` of :func:`summarize_jobs` not NaN: seen before they were final,
        then finished): ``median_duration_s`` (float64, seconds, median of their
        durations) and ``throughput_leads_per_min`` (float64, leads they processed while
        watched per minute, from the first sighting to the last finish among them); both
        NaN when the group has no such job (e.g. every job was already final at its first
        poll) or a zero span.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        As :func:`summarize_jobs`.
    """
    return _group_table(df, "dc")


def summarize_orgs(df: pd.DataFrame) -> pd.DataFrame:
    """Per org: the columns of :func:`summarize_dcs` with ``org`` as the group column.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame (see :func:`summarize_jobs`). Not modified.

    Returns
    -------
    pandas.DataFrame
        One row per org label, sorted; ``org`` (string) then the columns of
        :func:`summarize_dcs` after ``dc``.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        As :func:`summarize_jobs`.
    """
    return _group_table(df, "org")
