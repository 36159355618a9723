"""Lead counts over time per data center, org or job, on a regular time grid.

:func:`progress_over_time` (also importable from :mod:`zcrm_notebook.analysis.summary`) carries each
job's last known counts forward bin by bin and sums them per group. It is vectorised: each
job contributes only the bins where its counts change (as deltas), and a cumulative sum per
group rebuilds the levels, so a million snapshot rows need no per-job Python loop.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from ..errors import ConfigError
from ..snapshots.schema import JOB_KEYS
from .grouping import TEXT_DTYPE, Grouped, group_snapshots

__all__ = ["BY_CHOICES", "PROGRESS_COLUMNS", "MAX_CELLS", "progress_over_time", "freq_to_ns"]

log = logging.getLogger(__name__)

#: ``by`` value -> the group columns of the output.
BY_CHOICES: dict[str, list[str]] = {"dc": ["dc"], "org": ["org"], "job": list(JOB_KEYS)}
#: Value columns of :func:`progress_over_time` and the snapshot column each comes from.
PROGRESS_COLUMNS = {
    "converted": "converted_count",
    "failed": "failed_count",
    "pending": "not_converted_count",
    "total": "total_count",
}
MAX_CELLS = 5_000_000  # (bin, group) rows refused beyond this: pick a coarser freq
_FREQ_HINT = "a fixed-length pandas frequency such as '10s', '1min', '5min', '1h' or '1D'"


def freq_to_ns(freq: object) -> int:
    """Length of a fixed-length pandas frequency in nanoseconds.

    Parameters
    ----------
    freq : str, Timedelta or DateOffset
        ``"30s"``, ``"1min"``, ``"5min"``, ``"1h"``, ``"1D"``, ``pd.Timedelta("5min")``...

    Returns
    -------
    int
        Bin width in ns (> 0).

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        If ``freq`` is not a positive fixed-length frequency (months, weeks and business
        days have no fixed length and are refused).
    """
    try:
        off = to_offset(freq)
    except (ValueError, TypeError):
        off = None
    if not isinstance(off, (pd.offsets.Tick, pd.offsets.Day)):
        raise ConfigError(f"freq={freq!r} is not allowed; use {_FREQ_HINT}")
    ns = int(pd.Timedelta(off).value)
    if ns <= 0:
        raise ConfigError(f"freq={freq!r} must be positive; use {_FREQ_HINT}")
    return ns


def _empty(cols: list[str]) -> pd.DataFrame:
    data = {"time": pd.Series([], dtype="datetime64[ns, UTC]")}
    data |= {c: pd.Series([], dtype=TEXT_DTYPE) for c in cols}
    data |= {c: pd.Series([], dtype="Int64") for c in PROGRESS_COLUMNS}
    return pd.DataFrame(data)


def _filled(g: Grouped, rows: np.ndarray, name: str) -> np.ndarray:
    """Counts of ``rows`` (sorted counts rows) forward-filled within each job, NA -> 0."""
    na = g.counts_na[name][rows]
    pos = np.where(na, -1, np.arange(len(rows)))
    last = np.maximum.accumulate(pos) if len(pos) else pos
    gid = g.gid[rows]
    ok = (last >= 0) & (gid[np.clip(last, 0, None)] == gid)
    return np.where(ok, g.counts[name][rows][np.clip(last, 0, None)], 0)


def progress_over_time(df: pd.DataFrame, by: str = "dc", freq: object = "1min") -> pd.DataFrame:
    """Lead counts per time bin and group, carrying each job's last known counts forward.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame (``zcrm_notebook.snapshots.schema.SNAPSHOT_COLUMNS``), any row order. Not
        modified.
    by : {"dc", "org", "job"}, default "dc"
        Group by data center, org label, or job (org, dc, job_id).
    freq : str or Timedelta, default "1min"
        Bin width, a fixed-length pandas frequency (``"30s"``, ``"5min"``, ``"1h"``).

    Returns
    -------
    pandas.DataFrame
        Long/tidy: one row per (time bin, group) from the bin where the group's first job
        was first seen (with counts) to the bin of the frame's last poll, sorted by time
        then group, RangeIndex. Columns:

        - ``time`` (datetime64[ns, UTC]): start of the bin (bins are aligned on the Unix
          epoch); the values are the counts as of the end of the bin.
        - the group column(s) (string): ``dc``, ``org``, or ``org``, ``dc``, ``job_id``.
        - ``converted``, ``failed``, ``pending``, ``total`` (Int64, leads): sums over the
          group's jobs of their last known ``converted_count``, ``failed_count``,
          ``not_converted_count`` (not converted yet) and ``total_count``. A job contributes
          nothing before its first poll with counts; a missing count counts as 0 until
          known. Error rows carry no counts and change nothing.

        Empty (same columns) when no row has counts. Pivot with
        ``out.pivot(index="time", columns="dc", values="converted")`` for a wide table.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        If ``by`` is not one of ``BY_CHOICES``, ``freq`` is not a fixed positive
        frequency, the grid would exceed ``MAX_CELLS`` rows, or the frame lacks columns.
    """
    if by not in BY_CHOICES:
        raise ConfigError(f"by={by!r} is not allowed; use one of {sorted(BY_CHOICES)}")
    cols = BY_CHOICES[by]
    step = freq_to_ns(freq)
    g = group_snapshots(df)
    rows = np.flatnonzero(g.has_counts)
    if len(rows) == 0:
        return _empty(cols)
    gid = g.gid[rows]
    bins = g.t[rows] // step * step
    # last counts row of each (job, bin); then the change since the job's previous bin
    last = np.r_[(gid[1:] != gid[:-1]) | (bins[1:] != bins[:-1]), True]
    jobs, bins = gid[last], bins[last]
    new_job = np.r_[True, jobs[1:] != jobs[:-1]]
    deltas = {}
    for col, name in PROGRESS_COLUMNS.items():
        v = _filled(g, rows, name)[last]
        deltas[col] = np.where(new_job, v, v - np.r_[0, v[:-1]])
    if by == "job":
        group, keys = jobs, g.keys
    else:
        code, uniq = pd.factorize(g.keys[by], sort=True, use_na_sentinel=False)
        group, keys = code[jobs], pd.DataFrame({by: pd.array(uniq, dtype=TEXT_DTYPE)})
    return _grid(group, bins, deltas, keys[cols], step, int(g.t.max() // step * step))


def _grid(group, bins, deltas, keys: pd.DataFrame, step: int, end: int) -> pd.DataFrame:
    """Sum the deltas on a dense (group, bin) grid and accumulate them over time."""
    n_groups = len(keys)
    first = np.full(n_groups, np.iinfo(np.int64).max)
    np.minimum.at(first, group, bins)
    present = first <= end
    length = np.where(present, (end - first) // step + 1, 0)
    n_cells = int(length.sum())
    if n_cells > MAX_CELLS:
        raise ConfigError(
            f"{n_cells} (time bin, group) rows exceed {MAX_CELLS}; use a coarser freq"
        )
    offset = np.r_[0, np.cumsum(length)[:-1]]
    pos = offset[group] + (bins - first[group]) // step
    group_of_cell = np.repeat(np.arange(n_groups), length)
    out = {"time": np.repeat(first, length) + (np.arange(n_cells) - offset[group_of_cell]) * step}
    for col, d in deltas.items():
        acc = np.zeros(n_cells, np.int64)
        np.add.at(acc, pos, d)
        acc = np.cumsum(acc)
        before = np.where(offset > 0, acc[np.clip(offset - 1, 0, None)], 0) if n_cells else offset
        out[col] = acc - np.repeat(before, length)
    order = np.lexsort((group_of_cell, out["time"]))
    frame = keys.take(group_of_cell[order]).reset_index(drop=True)
    frame.insert(0, "time", pd.DatetimeIndex(out["time"][order].view("M8[ns]")).tz_localize("UTC"))
    for col in PROGRESS_COLUMNS:
        frame[col] = pd.array(out[col][order], dtype="Int64")
    return frame
