"""The report bundle's tables as files: CSV, an Excel workbook, Parquet.

:func:`write_tables` writes the snapshot frame and the summaries in each format asked:
``csv`` (one file per table; ISO-8601 UTC times), ``xlsx`` (one workbook, one sheet per
table; times in UTC without a zone, which Excel cannot store; needs ``openpyxl``, the
``excel`` extra) and ``parquet`` (one file per table with the exact dtypes, through
pyarrow). Spreadsheet formats get formula-looking text neutralised when asked
(:func:`~zcrm_notebook.snapshots.csvfile.neutralize_formulas`): openpyxl would store
text starting with ``=`` as a formula.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..snapshots.csvfile import LINE_END, TIME_FORMAT, neutralize_formulas, write_snapshots_csv

__all__ = ["FORMATS", "WORKBOOK", "check_formats", "table_names", "write_tables"]

#: The table formats of a report bundle.
FORMATS = ("csv", "xlsx", "parquet")
#: File name of the Excel workbook.
WORKBOOK = "report.xlsx"
EXCEL_MAX_ROWS = 1_048_575  # an Excel sheet's rows, less the header


def check_formats(formats: str | Iterable[str], tables: dict[str, pd.DataFrame]) -> tuple:
    """The formats asked, checked before anything is written.

    Raises
    ------
    ConfigError
        No format, an unknown one (names it and the valid ones), ``xlsx`` without
        openpyxl installed, or a table longer than an Excel sheet.
    """
    asked = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = [f for f in asked if f not in FORMATS]
    if unknown or not asked:
        what = f"unknown table format {unknown}" if unknown else "no table format given"
        raise ConfigError(f"{what}: use one or more of {list(FORMATS)}")
    if "xlsx" in asked:
        if importlib.util.find_spec("openpyxl") is None:
            raise ConfigError("the Excel export needs openpyxl: pip install 'zcrm-notebook[excel]'")
        too_long = [name for name, t in tables.items() if len(t) > EXCEL_MAX_ROWS]
        if too_long:
            raise ConfigError(
                f"{', '.join(too_long)}: more rows than an Excel sheet holds "
                f"({EXCEL_MAX_ROWS:,}); export csv or parquet"
            )
    return tuple(dict.fromkeys(asked))


def table_names(tables: Iterable[str], formats: Iterable[str]) -> dict[str, str]:
    """Key -> file name of the table files: ``jobs`` -> ``jobs.csv``, ``workbook`` ->
    ``report.xlsx``, ``jobs_parquet`` -> ``jobs.parquet``."""
    tables = list(tables)
    names: dict[str, str] = {}
    if "csv" in formats:
        names |= {t: f"{t}.csv" for t in tables}
    if "xlsx" in formats:
        names["workbook"] = WORKBOOK
    if "parquet" in formats:
        names |= {f"{t}_parquet": f"{t}.parquet" for t in tables}
    return names


def write_tables(
    tables: dict[str, pd.DataFrame], out: Path, formats: tuple, *, spreadsheet_safe: bool
) -> dict[str, Path]:
    """Write ``tables`` (``snapshots`` first, then summaries) into ``out`` in ``formats``.

    Returns
    -------
    dict of str to pathlib.Path
        Keys of :func:`table_names`.
    """
    paths = {k: out / n for k, n in table_names(tables, formats).items()}
    for name, table in tables.items():
        if "csv" in formats:
            _csv(name, table, paths[name], spreadsheet_safe)
        if "parquet" in formats:
            table.to_parquet(paths[f"{name}_parquet"], index=False)
    if "xlsx" in formats:
        with pd.ExcelWriter(paths["workbook"], engine="openpyxl") as workbook:
            for name, table in tables.items():
                sheet = neutralize_formulas(table) if spreadsheet_safe else table
                _utc_naive(sheet).to_excel(workbook, sheet_name=name, index=False)
    return paths


def _csv(name: str, table: pd.DataFrame, path: Path, spreadsheet_safe: bool) -> None:
    """A table as CSV: the snapshot CSV, or a summary with ISO-8601 UTC times, no index."""
    if name == "snapshots":
        write_snapshots_csv(table, path, spreadsheet_safe=spreadsheet_safe)
        return
    out = neutralize_formulas(table) if spreadsheet_safe else table.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert("UTC").dt.strftime(TIME_FORMAT)
    out.to_csv(path, index=False, lineterminator=LINE_END)


def _utc_naive(table: pd.DataFrame) -> pd.DataFrame:
    """Zone-aware times as UTC without a zone (Excel stores no zone)."""
    zoned = [c for c in table.columns if isinstance(table[c].dtype, pd.DatetimeTZDtype)]
    return table.assign(**{c: table[c].dt.tz_convert("UTC").dt.tz_localize(None) for c in zoned})
