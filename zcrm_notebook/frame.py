"""The snapshot table: schema, and snapshots -> DataFrame.

One row per (job, poll), long/tidy form, fixed column order (DESIGN.md §3):

=====================  ==========================  ===========================================
column                 dtype                       meaning
=====================  ==========================  ===========================================
polled_at              datetime64[ns, UTC]         when the answer arrived
org                    string                      label of the org's credentials
dc                     string                      data-center code (``us``, ``eu``...)
job_id                 string                      the 19-digit job id, never a number
status                 category (ordered)          scheduled < in_progress < completed < failed,
                                                   then unknown, error
raw_status             string                      status word exactly as Zoho sent it
total_count            Int64                       leads in the job (NA when absent)
converted_count        Int64                       converted so far
not_converted_count    Int64                       not converted yet (pending)
failed_count           Int64                       failed
http_status            Int64                       HTTP status (NA for transport failures)
error_code             string                      Zoho code or transport error name; NA on success
error_message          string                      human text; never a token
latency_s              float64                     request round trip, seconds
=====================  ==========================  ===========================================

``status == "error"`` means we could not get a status; it is never the job's ``failed``.
Derived tables (per job, per DC) live in :mod:`zcrm_notebook.summary`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .status import JobState, Snapshot

__all__ = [
    "SNAPSHOT_COLUMNS",
    "SNAPSHOT_DTYPES",
    "STATUS_DTYPE",
    "COUNT_COLUMNS",
    "to_frame",
    "empty_snapshots",
    "coerce_snapshots",
]

STATUS_CATEGORIES = [s.value for s in JobState]
STATUS_DTYPE = pd.CategoricalDtype(STATUS_CATEGORIES, ordered=True)
COUNT_COLUMNS = ["total_count", "converted_count", "not_converted_count", "failed_count"]
TEXT_COLUMNS = ["org", "dc", "job_id", "raw_status", "error_code", "error_message"]

SNAPSHOT_DTYPES: dict[str, object] = {
    "polled_at": pd.DatetimeTZDtype("ns", "UTC"),
    "org": pd.StringDtype(),
    "dc": pd.StringDtype(),
    "job_id": pd.StringDtype(),
    "status": STATUS_DTYPE,
    "raw_status": pd.StringDtype(),
    "total_count": pd.Int64Dtype(),
    "converted_count": pd.Int64Dtype(),
    "not_converted_count": pd.Int64Dtype(),
    "failed_count": pd.Int64Dtype(),
    "http_status": pd.Int64Dtype(),
    "error_code": pd.StringDtype(),
    "error_message": pd.StringDtype(),
    "latency_s": np.dtype("float64"),
}
SNAPSHOT_COLUMNS: list[str] = list(SNAPSHOT_DTYPES)


def _int_array(values: list) -> pd.arrays.IntegerArray:
    mask = np.fromiter((v is None for v in values), bool, len(values))
    data = np.fromiter((0 if v is None else v for v in values), np.int64, len(values))
    return pd.arrays.IntegerArray(data, mask)


def to_frame(snapshots: Iterable[Snapshot]) -> pd.DataFrame:
    """Build the snapshot DataFrame from :class:`~zcrm_notebook.status.Snapshot` records.

    Parameters
    ----------
    snapshots : iterable of Snapshot
        In any order; the frame keeps that order (the poller gives arrival order).

    Returns
    -------
    pandas.DataFrame
        One row per snapshot, exactly ``SNAPSHOT_COLUMNS`` with ``SNAPSHOT_DTYPES``,
        a default RangeIndex.
    """
    rows = list(snapshots)
    if not rows:
        return empty_snapshots()
    cols = list(zip(*(_astuple(s) for s in rows)))
    data: dict[str, object] = {}
    for name, values in zip(SNAPSHOT_COLUMNS, cols):
        values = list(values)
        if name == "polled_at":
            # float seconds carry ~0.2 us of noise: keep whole microseconds (CSV-exact)
            us = np.round(np.asarray(values, dtype="float64") * 1e6).astype("int64")
            data[name] = pd.to_datetime(us, unit="us", utc=True)
        elif name == "status":
            codes = np.fromiter((_STATUS_CODE[v] for v in values), np.int8, len(values))
            data[name] = pd.Categorical.from_codes(codes, dtype=STATUS_DTYPE)
        elif name in COUNT_COLUMNS or name == "http_status":
            data[name] = _int_array(values)
        elif name == "latency_s":
            data[name] = np.asarray(values, dtype="float64")
        else:
            data[name] = pd.array(values, dtype=pd.StringDtype())
    df = pd.DataFrame(data)
    df["polled_at"] = df["polled_at"].astype(SNAPSHOT_DTYPES["polled_at"])
    return df


_STATUS_CODE = {s: i for i, s in enumerate(JobState)} | {s.value: i for i, s in enumerate(JobState)}


def _astuple(s: Snapshot) -> tuple:
    # dataclasses.astuple deep-copies; this is the cheap, ordered equivalent.
    return (
        s.polled_at, s.org, s.dc, s.job_id, s.status, s.raw_status, s.total_count,
        s.converted_count, s.not_converted_count, s.failed_count, s.http_status,
        s.error_code, s.error_message, s.latency_s,
    )  # fmt: skip


def empty_snapshots() -> pd.DataFrame:
    """An empty snapshot frame with the exact columns and dtypes."""
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in SNAPSHOT_DTYPES.items()})


def coerce_snapshots(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` with exactly the snapshot columns, order and dtypes.

    Used when reading CSVs and stores. Job ids must already be text: a numeric
    ``job_id`` column is refused rather than risk a rounded 19-digit id.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        If a column is missing, ``job_id`` is numeric, or a status is not one of
        ``STATUS_CATEGORIES``.
    """
    from .errors import ConfigError

    missing = [c for c in SNAPSHOT_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"snapshot table lacks columns {missing}; expected {SNAPSHOT_COLUMNS}")
    if pd.api.types.is_numeric_dtype(df["job_id"]):
        raise ConfigError(
            "job_id column is numeric; 19-digit ids must be read as text "
            "(use zcrm_notebook.read_snapshots, or dtype={'job_id': 'string'})"
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for name, dtype in SNAPSHOT_DTYPES.items():
        col = df[name].reset_index(drop=True)
        if name == "polled_at":
            out[name] = pd.to_datetime(col, utc=True, format="ISO8601").astype(dtype)
        elif name == "status":
            bad = set(col.dropna().astype(str)) - set(STATUS_CATEGORIES)
            if bad:
                raise ConfigError(
                    f"unknown status values {sorted(bad)}; expected {STATUS_CATEGORIES}"
                )
            out[name] = col.astype(str).astype(dtype)
        else:
            out[name] = col.astype(dtype)
    return out
