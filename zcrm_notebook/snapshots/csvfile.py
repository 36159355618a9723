"""CSV write/read of the snapshot table with its exact dtypes.

Timestamps are written as ISO-8601 UTC with a ``Z`` suffix, job ids as text, ``index=False``,
lines ending in CRLF so that any cell holding a CR or LF is quoted (RFC 4180);
:func:`read_snapshots` gives every column its dtype explicitly (ids are never inferred as
numbers: 19-digit ids exceed 2**53, ``docs/zoho-api.md``), ``latency_s`` to 0.1 ms
(:data:`~zcrm_notebook.snapshots.frame.FLOAT_DECIMALS`, the precision the frame is built
with). A round trip returns an equal frame (a frame built elsewhere with finer latencies
comes back rounded). By default (``spreadsheet_safe=True``) cells that a spreadsheet would
run as a formula (OWASP "CSV Injection") are neutralised: text starting with ``=``, ``+``,
``-``, ``@``, tab or CR gets a leading ``'`` (so does a text made of ``'`` before one of
those); numbers are untouched, and :func:`read_snapshots` undoes it exactly. An empty text
stays an empty cell, except in a column that may be missing (``raw_status``,
``error_code``, ``error_message``), where an empty cell reads back as missing: there it is
written ``'`` (and a text made only of ``'`` gets one more).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..redact import clean_text, shown
from .frame import FLOAT_DECIMALS, SNAPSHOT_DTYPES, coerce_snapshots
from .schema import (
    COUNT,
    FLOAT,
    INT,
    SNAPSHOT_COLUMNS,
    STATUS,
    TEXT,
    TIME,
    columns_of_kind,
    is_required,
)

__all__ = [
    "write_snapshots_csv",
    "read_snapshots",
    "neutralize_formulas",
    "write_table_csv",
    "read_table_csv",
    "TIME_FORMAT",
    "CSV_DTYPES",
    "LINE_END",
]

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Column -> dtype read from a snapshot CSV (then :func:`coerce_snapshots` finishes):
#: text as text, counts and ints as Int64, times and statuses as text to be parsed.
CSV_DTYPES: dict[str, object] = {
    **{c: SNAPSHOT_DTYPES[c] for c in columns_of_kind(TEXT)},
    **{c: "Int64" for c in columns_of_kind(COUNT, INT)},
    **{c: "string" for c in columns_of_kind(TIME, STATUS)},
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: The text columns that may be missing (an empty cell there reads back as missing).
_MAY_BE_MISSING = [c for c in columns_of_kind(TEXT) if not is_required(c)]
#: Line end of every CSV written: a cell holding a CR is then quoted too (RFC 4180).
LINE_END = "\r\n"


def _escaped(value: str, mark_empty: bool) -> bool:
    """True if ``value`` gets a leading ``'``: it starts with a formula character, or is
    ``'`` before such a value; with ``mark_empty`` also an empty text (so that it is not
    read back as missing) and a text made only of ``'``."""
    stripped = value.lstrip("'")
    return stripped[0] in _FORMULA_START if stripped else mark_empty


def _neutralize_text(value: object, mark_empty: bool) -> object:
    return "'" + value if isinstance(value, str) and _escaped(value, mark_empty) else value


def _restore_text(value: object, mark_empty: bool) -> object:
    if isinstance(value, str) and value.startswith("'") and _escaped(value[1:], mark_empty):
        return value[1:]
    return value


def neutralize_formulas(df: pd.DataFrame, *, may_be_missing: Iterable[str] = ()) -> pd.DataFrame:
    """Copy of ``df`` whose text cells cannot run as spreadsheet formulas.

    Only text columns (object/string dtype) change; numeric columns, including negative
    numbers, stay numbers. The transformation is reversible (a literal leading ``'`` before
    a formula character is doubled). An empty text stays empty, except in the columns
    ``may_be_missing`` (where an empty cell will be read back as missing): there it
    becomes ``'`` (and a text made only of ``'`` gets one more).

    Returns
    -------
    pandas.DataFrame
        Same shape, index and columns as ``df``.
    """
    out = df.copy()
    marked = set(may_be_missing)
    for col in out.columns:
        dtype = out[col].dtype
        if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
            escape = partial(_neutralize_text, mark_empty=col in marked)
            out[col] = out[col].map(escape, na_action="ignore").astype(dtype)
    return out


def write_snapshots_csv(
    df: pd.DataFrame, path: str | os.PathLike, *, spreadsheet_safe: bool = True
) -> Path:
    """Write the snapshot frame to CSV.

    Parameters
    ----------
    df : pandas.DataFrame
        A snapshot frame (columns of :data:`~zcrm_notebook.snapshots.schema.SNAPSHOT_COLUMNS`).
    path : str or PathLike
        Target file; its folder is created.
    spreadsheet_safe : bool, default True
        Neutralise formula-looking text cells (see module docstring; reading the file
        with :func:`read_snapshots` undoes it). False writes text as is (an empty text
        then reads back as missing).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ConfigError
        If ``df`` lacks snapshot columns.
    """
    df = coerce_snapshots(df)
    out = df.copy()
    for name in columns_of_kind(FLOAT):  # the frame's precision (0.1 ms latencies)
        out[name] = out[name].round(FLOAT_DECIMALS)
    return write_table_csv(
        out,
        path,
        columns=SNAPSHOT_COLUMNS,
        times=columns_of_kind(TIME),
        spreadsheet_safe=spreadsheet_safe,
        may_be_missing=_MAY_BE_MISSING,
    )


def write_table_csv(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    columns: list[str],
    times: list[str],
    spreadsheet_safe: bool,
    may_be_missing: Iterable[str] = (),
) -> Path:
    """Write a table that has its exact dtypes: ``times`` as ISO-8601 UTC with ``Z``
    (microseconds; empty when missing), text neutralised when ``spreadsheet_safe`` (an
    empty text is marked only in the text columns ``may_be_missing``; see
    :func:`neutralize_formulas`).

    Returns
    -------
    pathlib.Path
        The file (its folder is created).
    """
    out = neutralize_formulas(df, may_be_missing=may_be_missing) if spreadsheet_safe else df.copy()
    for name in times:
        values = out[name].dt.tz_convert(None).to_numpy()
        stamps = np.char.add(np.datetime_as_string(values, unit="us"), "Z")
        out[name] = np.where(pd.isna(values), "", stamps)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, columns=columns, lineterminator=LINE_END)
    return path


def read_table_csv(
    path: str | os.PathLike,
    dtypes: dict[str, object],
    *,
    text: list[str],
    what: str,
    may_be_missing: Iterable[str] = (),
) -> pd.DataFrame:
    """Read a CSV written by :func:`write_table_csv` with the ``dtypes`` given per column
    and the spreadsheet-safe prefix of the ``text`` columns undone. An empty cell is
    missing, except in a ``text`` column not in ``may_be_missing``: an empty text there.

    Raises
    ------
    ConfigError
        The file is missing or not a readable CSV (``what`` names the table: "snapshot").
    """
    try:
        df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise ConfigError(f"{what} file {shown(str(path))} does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        why = clean_text(str(exc), 160)
        raise ConfigError(f"{shown(str(path))} is not a {what} CSV: {why}") from None
    marked = set(may_be_missing)
    for col in (c for c in text if c in df.columns):
        restore = partial(_restore_text, mark_empty=col in marked)
        df[col] = df[col].map(restore, na_action="ignore").astype(dtypes[col])
        if col not in marked:
            df[col] = df[col].fillna("")
    return df


def read_snapshots(path: str | os.PathLike) -> pd.DataFrame:
    """Read a snapshot CSV back with the exact schema.

    Returns
    -------
    pandas.DataFrame
        Columns and dtypes of :data:`~zcrm_notebook.snapshots.frame.SNAPSHOT_DTYPES`; equal to the
        frame that was written (``spreadsheet_safe`` neutralising undone).

    Raises
    ------
    ConfigError
        If the file is missing, not a CSV, or lacks snapshot columns (the message names the
        file and the first missing columns).
    """
    df = read_table_csv(
        path,
        CSV_DTYPES,
        text=columns_of_kind(TEXT),
        what="snapshot",
        may_be_missing=_MAY_BE_MISSING,
    )
    missing = [c for c in SNAPSHOT_COLUMNS if c not in df.columns]
    if missing:  # another CSV (a jobs file, a summary): say which file, briefly
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        listed = ", ".join(missing[:4]) + more
        raise ConfigError(f"{shown(str(path))} is not a snapshot CSV (missing columns {listed})")
    return coerce_snapshots(df)
