"""Group snapshot rows by job once and reduce them per job (private helper of the summaries).

:func:`group_snapshots` validates the columns the summaries read, sorts the rows by
(org, dc, job_id, polled_at) with numpy and returns plain arrays plus group boundaries, so
every per-job reduction is a handful of numpy calls instead of a Python loop per job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..snapshots.frame import SNAPSHOT_DTYPES, STATUS_DTYPE
from ..snapshots.schema import COUNT_COLUMNS, JOB_KEYS

log = logging.getLogger(__name__)

NAT = np.iinfo(np.int64).min  # the int64 value of NaT
TEXT_DTYPE = SNAPSHOT_DTYPES["job_id"]  # text columns of the outputs match the snapshots'
NEEDED = ["polled_at", *JOB_KEYS, "status", *COUNT_COLUMNS, "error_code"]
_STATUS_NAMES = [str(c) for c in STATUS_DTYPE.categories]
ERROR_CODE = _STATUS_NAMES.index("error")
FINAL_CODES = [_STATUS_NAMES.index(s) for s in ("completed", "failed")]
NOT_FINAL_CODES = [_STATUS_NAMES.index(s) for s in ("scheduled", "in_progress", "unknown")]
ETA_WINDOW_POLLS = 5  # eta_at uses the rate over the last 5 polls that had counts
FLAG_COLUMNS = ["stalled", "counts_backwards", "status_regressed", "counts_mismatch"]


@dataclass(frozen=True)
class Grouped:
    """Snapshot rows sorted by job then time, as numpy arrays (one entry per sorted row)."""

    keys: pd.DataFrame  # org, dc, job_id per job (lexicographic order); row i is job code i
    order: np.ndarray  # sorted row -> position in the prepared frame
    gid: np.ndarray  # job code per sorted row, non-decreasing
    starts: np.ndarray  # first sorted row of each job
    ends: np.ndarray  # one past the last sorted row of each job
    t: np.ndarray  # polled_at, int64 ns since the epoch (UTC)
    status: np.ndarray  # status category codes (int8)
    counts: dict[str, np.ndarray]  # int64, 0 where NA
    counts_na: dict[str, np.ndarray]  # bool
    error_code: pd.api.extensions.ExtensionArray  # prepared-frame order (not sorted)

    @property
    def n_rows(self) -> int:
        return len(self.gid)

    @property
    def n_groups(self) -> int:
        return len(self.keys)

    @property
    def is_error(self) -> np.ndarray:
        return self.status == ERROR_CODE

    @property
    def has_counts(self) -> np.ndarray:
        return ~np.logical_and.reduce([self.counts_na[c] for c in COUNT_COLUMNS])


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """The columns the summaries read, with snapshot dtypes; rows without a time dropped.

    Raises
    ------
    ConfigError
        If ``df`` is not a DataFrame, lacks one of the needed columns, or has a status
        outside the snapshot categories.
    """
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"expected a snapshot DataFrame, got {type(df).__name__}")
    missing = [c for c in NEEDED if c not in df.columns]
    if missing:
        raise ConfigError(f"snapshot frame lacks columns {missing}; needs {NEEDED}")
    out = {}
    for name in NEEDED:
        col, dtype = df[name], SNAPSHOT_DTYPES[name]
        if col.dtype != dtype:
            if name == "polled_at":
                col = pd.to_datetime(col, utc=True, format="ISO8601")
            elif name == "status":
                bad = sorted(set(col.dropna().astype(str)) - set(_STATUS_NAMES))
                if bad:
                    raise ConfigError(f"unknown status values {bad}; expected {_STATUS_NAMES}")
            col = col.astype(dtype)
        if name == "status" and col.isna().any():
            col = col.fillna("unknown")  # a status we cannot read is not one we know
        out[name] = col.reset_index(drop=True)
    frame = pd.DataFrame(out)
    bad_time = frame["polled_at"].isna()
    if bad_time.any():
        log.warning("ignoring %d snapshot rows without polled_at", int(bad_time.sum()))
        frame = frame[~bad_time].reset_index(drop=True)
    return frame


def _job_codes(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Dense job code per row, in (org, dc, job_id) order, and the key table."""
    combined, size = np.zeros(len(frame), np.int64), 1
    parts = []
    for name in JOB_KEYS:
        code, uniq = pd.factorize(frame[name], sort=True, use_na_sentinel=False)
        if size * max(len(uniq), 1) >= 2**62:
            combined = _dense(combined)[0]  # keeps the product of cardinalities in int64
            size = int(combined.max(initial=0)) + 1
        combined, size = combined * len(uniq) + code, size * max(len(uniq), 1)
        parts.append((name, code, pd.array(uniq, dtype=TEXT_DTYPE)))
    gid, first = _dense(combined, size)
    keys = pd.DataFrame({name: uniq.take(code[first]) for name, code, uniq in parts})
    return gid, keys


def _dense(codes: np.ndarray, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Renumber codes as 0..k-1 keeping their order; also the first row of each new code.

    Codes below a small ``size`` use a presence table (linear time), others ``np.unique``.
    """
    if size is not None and size <= 4 * len(codes) + 1_000_000:
        first = np.full(size, len(codes), np.int64)
        np.minimum.at(first, codes, np.arange(len(codes)))
        seen = first < len(codes)
        rank = np.cumsum(seen) - 1
        return rank[codes].astype(np.int64), first[seen]
    _, first, inv = np.unique(codes, return_index=True, return_inverse=True)
    return inv.reshape(-1).astype(np.int64), first


def group_snapshots(df: pd.DataFrame) -> Grouped:
    """Sort and group the snapshot rows by job (see :class:`Grouped`)."""
    frame = prepare(df)
    gid, keys = _job_codes(frame)
    t = frame["polled_at"].dt.as_unit("ns").array.asi8
    order = np.lexsort((t, gid))
    gid_s = gid[order]
    starts = np.flatnonzero(np.r_[True, gid_s[1:] != gid_s[:-1]]) if len(gid_s) else gid_s
    ends = np.r_[starts[1:], len(gid_s)].astype(np.int64) if len(gid_s) else starts
    counts, counts_na = {}, {}
    for name in COUNT_COLUMNS:
        col = frame[name]
        counts[name] = col.to_numpy("int64", na_value=0)[order]
        counts_na[name] = col.isna().to_numpy()[order]
    status = frame["status"].cat.codes.to_numpy()[order]
    return Grouped(
        keys,
        order,
        gid_s,
        starts,
        ends,
        t[order],
        status,
        counts,
        counts_na,
        frame["error_code"].array,
    )


def first_per_group(g: Grouped, mask: np.ndarray) -> np.ndarray:
    """Per job, the first sorted row where ``mask`` holds; -1 when none."""
    return _edge_per_group(g, mask, first=True)


def last_per_group(g: Grouped, mask: np.ndarray) -> np.ndarray:
    """Per job, the last sorted row where ``mask`` holds; -1 when none."""
    return _edge_per_group(g, mask, first=False)


def _edge_per_group(g: Grouped, mask: np.ndarray, *, first: bool) -> np.ndarray:
    out = np.full(g.n_groups, -1, np.int64)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return out
    gi = g.gid[idx]
    step = gi[1:] != gi[:-1]
    sel = np.r_[True, step] if first else np.r_[step, True]
    out[gi[sel]] = idx[sel]
    return out


def take(values: np.ndarray, idx: np.ndarray, fill) -> np.ndarray:
    """``values[idx]`` with ``fill`` where ``idx`` is -1."""
    if len(values) == 0:
        return np.full(len(idx), fill, dtype=np.asarray(values).dtype)
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], fill)


# --- per-job reductions used by zcrm_notebook.analysis.summary -----------------------------------


def ratio(num: np.ndarray, den: np.ndarray, den_na: np.ndarray) -> np.ndarray:
    """``num / den`` as float64; NaN where ``den`` is NA or 0 (no warnings)."""
    ok = ~den_na & (den != 0)
    out = np.full(len(num), np.nan)
    out[ok] = num[ok] / den[ok]
    return out


def latest_per_job(g: Grouped) -> dict[str, np.ndarray]:
    """Per-job latest status, latest counts and key times (the part groups need too)."""
    last_ok = last_per_group(g, ~g.is_error)
    last_c = last_per_group(g, g.has_counts)
    out: dict[str, np.ndarray] = {
        "status": np.where(last_ok >= 0, take(g.status, last_ok, ERROR_CODE), ERROR_CODE),
        "last_counts_row": last_c,
        "finished_row": first_per_group(g, np.isin(g.status, FINAL_CODES)),
        "first_polled_at": g.t[g.starts],
        "last_polled_at": g.t[g.ends - 1],
    }
    for name in COUNT_COLUMNS:
        out[name] = take(g.counts[name], last_c, 0)
        out[name + "_na"] = take(g.counts_na[name], last_c, True)
    out["finished_at"] = take(g.t, out["finished_row"], NAT)
    first_ok = first_per_group(g, ~g.is_error)
    out["first_seen_at"] = take(g.t, first_ok, NAT)
    # the start is observed only if the job was seen before it was final: a job already
    # completed/failed at its first answer (yesterday's jobs) has no known duration
    out["start_seen"] = (first_ok >= 0) & ~np.isin(
        take(g.status, first_ok, ERROR_CODE), FINAL_CODES
    )
    done = (out["finished_at"] != NAT) & out["start_seen"]
    dur = np.full(g.n_groups, np.nan)
    dur[done] = (out["finished_at"][done] - out["first_seen_at"][done]) / 1e9
    dur[dur <= 0] = np.nan
    out["duration_s"] = dur
    return out


def watched_gain(g: Grouped, c: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per job: leads processed (converted + failed) between its first and its last poll
    that had counts, and the first of those polls' row (-1 when none)."""
    proc = (g.counts["converted_count"] + g.counts["failed_count"]).astype("float64")
    first_c = first_per_group(g, g.has_counts)
    return take(proc, c["last_counts_row"], 0.0) - take(proc, first_c, 0.0), first_c


def rates(g: Grouped, c: dict, unfinished: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``leads_per_min`` over the watched window and ``eta_at`` from the recent rate.

    ``leads_per_min`` is NaN unless the job was seen before it was final (from its first
    poll with counts): a job already final when first polled has no observed rate."""
    proc = (g.counts["converted_count"] + g.counts["failed_count"]).astype("float64")
    last_c = c["last_counts_row"]
    gain, first_c = watched_gain(g, c)
    has = last_c >= 0
    t_last = take(g.t, last_c, 0)
    t_end = np.where(c["finished_at"] != NAT, c["finished_at"], t_last)
    span_s = (t_end - take(g.t, first_c, 0)) / 1e9
    lpm = np.full(g.n_groups, np.nan)
    first_final = np.isin(take(g.status, first_c, ERROR_CODE), FINAL_CODES)
    ok = has & (span_s > 0) & ~first_final & c["start_seen"]
    lpm[ok] = gain[ok] / span_s[ok] * 60.0
    # recent rate: last counts row vs the counts row ETA_WINDOW_POLLS counts rows earlier
    crow = np.flatnonzero(g.has_counts)
    pos_last = np.searchsorted(crow, last_c)
    pos_first = np.searchsorted(crow, first_c)
    back = np.full(g.n_groups, -1)
    back[has] = crow[np.maximum(pos_last[has] - ETA_WINDOW_POLLS, pos_first[has])]
    dt_s = (t_last - take(g.t, back, 0)) / 1e9
    dp = take(proc, last_c, 0.0) - take(proc, back, 0.0)
    total = np.where(c["total_count_na"], np.nan, c["total_count"])
    pending = np.where(c["not_converted_count_na"], np.nan, c["not_converted_count"])
    remaining = np.where(np.isnan(total), pending, total - take(proc, last_c, 0.0))
    est = has & unfinished & (dt_s > 0) & (dp > 0) & ~np.isnan(remaining)
    eta = np.full(g.n_groups, NAT, dtype=np.int64)
    left_s = np.clip(remaining[est], 0, None) * dt_s[est] / dp[est]
    eta[est] = t_last[est] + (left_s * 1e9).astype(np.int64)
    return lpm, eta


def last_change_row(g: Grouped) -> np.ndarray:
    """Per job, the row where the counts tuple last changed (-1 for jobs without counts)."""
    crow = np.flatnonzero(g.has_counts)
    gc = g.gid[crow]
    change = np.ones(len(crow), bool)
    if len(crow) > 1:
        change[1:] = gc[1:] != gc[:-1]
        for name in COUNT_COLUMNS:
            v = np.where(g.counts_na[name][crow], -1, g.counts[name][crow])
            change[1:] |= v[1:] != v[:-1]
    mask = np.zeros(g.n_rows, bool)
    mask[crow[change]] = True
    return last_per_group(g, mask)


def flag_arrays(g: Grouped, c: dict, unfinished: np.ndarray, stalled_after_s: float, now_ns):
    """The four boolean flag arrays of :func:`summarize_jobs`."""
    changed = last_change_row(g)
    ref = c["last_polled_at"] if now_ns is None else np.full(g.n_groups, now_ns, np.int64)
    quiet_s = (ref - take(g.t, changed, 0)) / 1e9
    stalled = unfinished & (changed >= 0) & (quiet_s >= stalled_after_s)
    backwards = np.zeros(g.n_groups, bool)
    for name in ("total_count", "converted_count", "failed_count"):
        rows = np.flatnonzero(~g.counts_na[name])
        v, gk = g.counts[name][rows], g.gid[rows]
        backwards[gk[1:][(gk[1:] == gk[:-1]) & (v[1:] < v[:-1])]] = True
    fin = c["finished_row"][g.gid]
    late = np.isin(g.status, NOT_FINAL_CODES) & (fin >= 0) & (np.arange(g.n_rows) > fin)
    regressed = np.zeros(g.n_groups, bool)
    regressed[g.gid[late]] = True
    known = ~np.logical_or.reduce([c[k + "_na"] for k in COUNT_COLUMNS])
    parts = c["converted_count"] + c["not_converted_count"] + c["failed_count"]
    mismatch = known & (parts != c["total_count"])
    return dict(zip(FLAG_COLUMNS, (stalled, backwards, regressed, mismatch)))
