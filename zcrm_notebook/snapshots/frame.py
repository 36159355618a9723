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

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from ..api.status import JobState, Snapshot

__all__ = [
    "SNAPSHOT_COLUMNS",
    "SNAPSHOT_DTYPES",
    "STATUS_DTYPE",
    "COUNT_COLUMNS",
    "to_frame",
    "frame_from_columns",
    "empty_snapshots",
    "coerce_snapshots",
]

STATUS_CATEGORIES = [s.value for s in JobState]
STATUS_DTYPE = pd.CategoricalDtype(STATUS_CATEGORIES, ordered=True)
COUNT_COLUMNS = ["total_count", "converted_count", "not_converted_count", "failed_count"]
TEXT_COLUMNS = ["org", "dc", "job_id", "raw_status", "error_code", "error_message"]

# Text columns are Arrow-backed strings: ~3x less memory than Python str objects at 1M rows
# (benchmarks/bench_frame.py); same "string" dtype and pd.NA semantics.
TEXT_DTYPE = pd.StringDtype("pyarrow")
SNAPSHOT_DTYPES: dict[str, object] = {
    "polled_at": pd.DatetimeTZDtype("ns", "UTC"),
    "org": TEXT_DTYPE,
    "dc": TEXT_DTYPE,
    "job_id": TEXT_DTYPE,
    "status": STATUS_DTYPE,
    "raw_status": TEXT_DTYPE,
    "total_count": pd.Int64Dtype(),
    "converted_count": pd.Int64Dtype(),
    "not_converted_count": pd.Int64Dtype(),
    "failed_count": pd.Int64Dtype(),
    "http_status": pd.Int64Dtype(),
    "error_code": TEXT_DTYPE,
    "error_message": TEXT_DTYPE,
    "latency_s": np.dtype("float64"),
}
SNAPSHOT_COLUMNS: list[str] = list(SNAPSHOT_DTYPES)


def _int_array(values: list) -> pd.arrays.IntegerArray:
    arr = pa.array(values, type=pa.int64())
    mask = arr.is_null().to_numpy(zero_copy_only=False)
    return pd.arrays.IntegerArray(arr.fill_null(0).to_numpy(), mask)


def _text_array(values: list) -> pd.api.extensions.ExtensionArray:
    return pd.array(pa.array(values, type=pa.large_string()), dtype=TEXT_DTYPE)


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
    return frame_from_columns({c: [getattr(r, c) for r in rows] for c in SNAPSHOT_COLUMNS})


def frame_from_columns(columns: Mapping[str, Sequence]) -> pd.DataFrame:
    """Build the snapshot DataFrame from one sequence of plain values per column.

    Values are as in :class:`~zcrm_notebook.status.Snapshot`: ``polled_at`` in float epoch
    seconds, ``status`` a JobState or its value, counts ``int`` or ``None``.
    """
    if not len(columns["polled_at"]):
        return empty_snapshots()
    return pd.DataFrame({name: _column(name, columns[name]) for name in SNAPSHOT_COLUMNS})


def _column(name: str, values: Sequence):
    if name == "polled_at":
        # float seconds carry ~0.2 us of noise: keep whole microseconds (CSV-exact)
        us = np.round(np.asarray(values, dtype="float64") * 1e6).astype("int64")
        return pd.to_datetime(us, unit="us", utc=True).astype(SNAPSHOT_DTYPES[name])
    if name == "status":
        codes = np.fromiter((_STATUS_CODE[v] for v in values), np.int8, len(values))
        return pd.Categorical.from_codes(codes, dtype=STATUS_DTYPE)
    if name in COUNT_COLUMNS or name == "http_status":
        return _int_array(list(values))
    if name == "latency_s":
        return np.asarray(values, dtype="float64")
    return _text_array(list(values))


_STATUS_CODE = {s: i for i, s in enumerate(JobState)} | {s.value: i for i, s in enumerate(JobState)}


def empty_snapshots() -> pd.DataFrame:
    """An empty snapshot frame with the exact columns and dtypes."""
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in SNAPSHOT_DTYPES.items()})


def _check_job_ids(ids: pd.Series) -> None:
    from ..errors import ConfigError

    text = ids.astype("string")
    bad = text[text.isna() | ~text.str.fullmatch(r"[0-9]{1,20}").fillna(False)]
    if len(bad):
        shown = ", ".join(f"row {i + 1}: {v!r}" for i, v in bad.head(5).items())
        raise ConfigError(
            f"{len(bad)} job_id values are not 1-20 digits ({shown}); a spreadsheet may have "
            "turned ids into numbers like 1.88E+18 - the original ids cannot be recovered"
        )


def _timestamps(col: pd.Series) -> pd.Series:
    from ..errors import ConfigError

    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_convert("UTC")
    try:
        return pd.to_datetime(col, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"polled_at has a value that is not an ISO-8601 time: {exc}") from None


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
    from ..errors import ConfigError

    missing = [c for c in SNAPSHOT_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"snapshot table lacks columns {missing}; expected {SNAPSHOT_COLUMNS}")
    if pd.api.types.is_numeric_dtype(df["job_id"]):
        raise ConfigError(
            "job_id column is numeric; 19-digit ids must be read as text "
            "(use zcrm_notebook.read_snapshots, or dtype={'job_id': 'string'})"
        )
    _check_job_ids(df["job_id"])
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for name, dtype in SNAPSHOT_DTYPES.items():
        col = df[name].reset_index(drop=True)
        if name == "polled_at":
            out[name] = _timestamps(col).astype(dtype)
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
