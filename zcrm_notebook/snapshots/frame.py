"""The snapshot DataFrame: snapshots -> frame, and any frame -> the exact schema.

One row per (job, poll), long/tidy form, the columns of
:class:`~zcrm_notebook.snapshots.schema.Snapshot` in its order, each with the pandas dtype
of its kind: ``time`` datetime64[ns, UTC], ``text`` string (Arrow-backed), ``status`` an
ordered category (scheduled < in_progress < completed < failed, then unknown, error),
``count`` and ``int`` Int64 (NA when absent), ``float`` float64 rounded to
:data:`FLOAT_DECIMALS` (0.1 ms for ``latency_s``: the CSV writes the same digits, so a
round trip gives an equal frame). ``status == "error"``
means we could not get a status; it is never the job's ``failed``. Derived tables (per
job, per DC) live in :mod:`zcrm_notebook.analysis.summary`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from ..api.status import JobState
from ..errors import ConfigError
from ..redact import clean_text, shown
from .schema import (
    CATEGORY,
    COLUMN_KINDS,
    COUNT,
    COUNT_COLUMNS,
    FLOAT,
    INT,
    SNAPSHOT_COLUMNS,
    STATUS,
    STATUS_CATEGORIES,
    TEXT,
    TIME,
    Columns,
    Snapshot,
)

__all__ = [
    "SNAPSHOT_COLUMNS",
    "SNAPSHOT_DTYPES",
    "STATUS_DTYPE",
    "COUNT_COLUMNS",
    "KIND_DTYPES",
    "FLOAT_DECIMALS",
    "to_frame",
    "frame_from_columns",
    "empty_snapshots",
    "coerce_snapshots",
    "FrameCache",
    "typed_array",
    "table_dtypes",
    "table_frame",
]

STATUS_DTYPE = pd.CategoricalDtype(STATUS_CATEGORIES, ordered=True)
# Text columns are Arrow-backed strings: ~3x less memory than Python str objects at 1M rows
# (benchmarks/bench_frame.py); same "string" dtype and pd.NA semantics.
TEXT_DTYPE = pd.StringDtype("pyarrow")
#: Column kind -> its pandas dtype.
KIND_DTYPES: dict[str, object] = {
    TIME: pd.DatetimeTZDtype("ns", "UTC"),
    TEXT: TEXT_DTYPE,
    STATUS: STATUS_DTYPE,
    COUNT: pd.Int64Dtype(),
    INT: pd.Int64Dtype(),
    FLOAT: np.dtype("float64"),
}
#: Decimals kept of a ``float`` column (``latency_s``, seconds: 0.1 ms), in the frame and
#: in the CSV; finer digits are clock noise.
FLOAT_DECIMALS = 4
#: Column -> pandas dtype of the snapshot frame.
SNAPSHOT_DTYPES: dict[str, object] = {c: KIND_DTYPES[k] for c, k in COLUMN_KINDS.items()}


def _int_array(values: list, name: str = "") -> pd.arrays.IntegerArray:
    try:
        arr = pa.array(values, type=pa.int64())
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
        raise ConfigError(f"column {name} has a value that is not a 64-bit integer") from None
    mask = arr.is_null().to_numpy(zero_copy_only=False)
    return pd.arrays.IntegerArray(arr.fill_null(0).to_numpy(), mask)


def _text_array(values: list) -> pd.api.extensions.ExtensionArray:
    return pd.array(pa.array(values, type=pa.large_string()), dtype=TEXT_DTYPE)


def to_frame(snapshots: Iterable[Snapshot]) -> pd.DataFrame:
    """Build the snapshot DataFrame from :class:`~zcrm_notebook.snapshots.schema.Snapshot` records.

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

    Values are as in :class:`~zcrm_notebook.snapshots.schema.Snapshot`: ``polled_at`` in float epoch
    seconds, ``status`` a JobState or its value, counts ``int`` or ``None``.
    """
    if not len(columns[SNAPSHOT_COLUMNS[0]]):
        return empty_snapshots()
    return pd.DataFrame({name: _column(name, columns[name]) for name in SNAPSHOT_COLUMNS})


def _column(name: str, values: Sequence):
    return typed_array(COLUMN_KINDS[name], values, name=name)


def typed_array(kind: str, values: Sequence, categories: Sequence[str] = (), *, name: str = ""):
    """The pandas array of column ``name`` of ``kind`` from plain values (None: missing).

    ``time``: float seconds since the epoch to datetime64[ns, UTC] (whole microseconds);
    ``category``: an ordered categorical of ``categories``; the other kinds as in
    :data:`KIND_DTYPES`.

    Raises
    ------
    ConfigError
        A ``count`` or ``int`` value that is not a 64-bit integer (names the column).
    """
    if kind == TIME:
        # float seconds carry ~0.2 us of noise: keep whole microseconds (CSV-exact)
        us = np.round(np.asarray(values, dtype="float64") * 1e6)
        missing = np.isnan(us)
        stamps = pd.to_datetime(np.where(missing, 0, us).astype("int64"), unit="us", utc=True)
        stamps = stamps.astype(KIND_DTYPES[TIME])
        return stamps.where(~missing) if missing.any() else stamps
    if kind == CATEGORY:
        return pd.Categorical(list(values), dtype=pd.CategoricalDtype(categories, ordered=True))
    if kind == STATUS:
        codes = np.fromiter((_STATUS_CODE[v] for v in values), np.int8, len(values))
        return pd.Categorical.from_codes(codes, dtype=STATUS_DTYPE)
    if kind in (COUNT, INT):
        return _int_array(list(values), name)
    if kind == FLOAT:
        return np.round(np.asarray(values, dtype="float64"), FLOAT_DECIMALS)
    return _text_array(list(values))


_STATUS_CODE = {s: i for i, s in enumerate(JobState)} | {s.value: i for i, s in enumerate(JobState)}


def table_dtypes(columns: Columns) -> dict[str, object]:
    """Column -> pandas dtype of a table declared like the snapshot row (its kinds)."""
    return {
        name: (
            pd.CategoricalDtype(columns.categories[name], ordered=True)
            if kind == CATEGORY
            else KIND_DTYPES[kind]
        )
        for name, kind in columns.kinds.items()
    }


def table_frame(columns: Columns, values: Mapping[str, Sequence]) -> pd.DataFrame:
    """The DataFrame of a table declared like the snapshot row, from one sequence of plain
    values per column: exactly its columns, in order, with :func:`table_dtypes`."""
    return pd.DataFrame(
        {
            name: typed_array(kind, values[name], columns.categories.get(name, ()), name=name)
            for name, kind in columns.kinds.items()
        },
        index=pd.RangeIndex(len(values[columns.names[0]])),
    )


def empty_snapshots() -> pd.DataFrame:
    """An empty snapshot frame with the exact columns and dtypes."""
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in SNAPSHOT_DTYPES.items()})


def _check_job_ids(ids: pd.Series) -> None:
    text = ids.astype("string")
    bad = text[text.isna() | ~text.str.fullmatch(r"[0-9]{1,20}").fillna(False)]
    if len(bad):
        listed = ", ".join(f"row {i + 1}: {shown(v)}" for i, v in bad.head(5).items())
        raise ConfigError(
            f"{len(bad)} job_id values are not 1-20 digits ({listed}); a spreadsheet may have "
            "turned ids into numbers like 1.88E+18 - the original ids cannot be recovered"
        )


def _timestamps(name: str, col: pd.Series) -> pd.Series:
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_convert("UTC")
    try:
        return pd.to_datetime(col, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        why = clean_text(str(exc), 160)
        raise ConfigError(f"{name} has a value that is not an ISO-8601 time: {why}") from None


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
    missing = [c for c in SNAPSHOT_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(
            f"snapshot table lacks columns {shown(missing, 200)}; expected {SNAPSHOT_COLUMNS}"
        )
    if pd.api.types.is_numeric_dtype(df["job_id"]):
        raise ConfigError(
            "job_id column is numeric; 19-digit ids must be read as text "
            "(use zcrm_notebook.read_snapshots, or dtype={'job_id': 'string'})"
        )
    _check_job_ids(df["job_id"])
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for name, dtype in SNAPSHOT_DTYPES.items():
        col = df[name].reset_index(drop=True)
        if COLUMN_KINDS[name] == TIME:
            out[name] = _timestamps(name, col).astype(dtype)
        elif COLUMN_KINDS[name] == STATUS:
            bad = set(col.dropna().astype(str)) - set(STATUS_CATEGORIES)
            if bad:
                raise ConfigError(
                    f"unknown status values {shown(sorted(bad)[:5], 120)}; expected "
                    f"{STATUS_CATEGORIES}"
                )
            out[name] = col.astype(str).astype(dtype)
        else:
            out[name] = col.astype(dtype)
    return out


class FrameCache:
    """Snapshots -> DataFrame, converting only the rows added since the last call.

    For a list that only grows (a running poll's snapshots): :meth:`frame` is cheap when
    few rows were added. Thread-safe; every call returns a new copy.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: pd.DataFrame | None = None
        self._n = 0

    def frame(self, snaps: list[Snapshot]) -> pd.DataFrame:
        """The snapshot frame of ``snaps`` (a copy)."""
        with self._lock:
            frame = self._frame
            if frame is None or len(snaps) < self._n:
                frame = to_frame(snaps)
            elif len(snaps) > self._n:
                new = to_frame(snaps[self._n :])
                frame = pd.concat([frame, new], ignore_index=True) if len(frame) else new
            self._frame, self._n = frame, len(snaps)
            return frame.copy()
