"""Tables of ids at the boundary: CSV files as spreadsheets save them, and their org column.

Job files and lead files are read the same way (:func:`read_id_csv`): every cell as text
(19-digit ids never become numbers), a UTF-8 byte-order mark and CRLF line ends accepted,
and the separator detected (``,``, ``;`` as Excel writes in many locales, tab, ``|``).
:func:`table_pairs` then gives, row by row, the org label and the raw id of a table with an
id column and an ``org`` and/or ``dc`` column; :func:`id_pairs` does the same for every form
a batch of ids may take (list, ``{org: [ids]}``, DataFrame, CSV path).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Mapping

from ..api.datacenters import DATA_CENTERS
from ..auth.credentials import OrgCredentials
from ..errors import ConfigError, JobInputError
from ..redact import clean_text, shown
from .files import MAX_TABLE_BYTES, check_input_file

__all__ = ["read_id_csv", "table_pairs", "id_pairs", "is_na", "only_org", "SEPARATORS"]

#: Separators recognised in id files, in order of preference when the sample is ambiguous.
SEPARATORS = ",;\t|"
_SAMPLE_BYTES = 64 * 1024


def is_na(value: object) -> bool:
    """True for None, NaN, ``pd.NA`` and anything not equal to itself."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pd.NA refuses bool(); arrays are ambiguous
        return True


def _sniff_separator(path: str | os.PathLike, what: str) -> str:
    """The separator of a CSV file, from its first 64 KiB (``,`` when undecidable)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            sample = fh.read(_SAMPLE_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"{what} file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} file {str(path)!r} is a folder, not a CSV file") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{what} file {str(path)!r} is not UTF-8 text (save it as 'CSV UTF-8')"
        ) from None
    header = sample.splitlines()[0] if sample.strip() else ""
    try:
        return csv.Sniffer().sniff(header or sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","


def read_id_csv(path: str | os.PathLike, what: str = "jobs"):
    """Read a CSV of ids with every cell as text.

    Parameters
    ----------
    path : str or PathLike
        A CSV file: UTF-8 (a byte-order mark is fine), LF or CRLF line ends, separated by
        ``,``, ``;``, tab or ``|`` (detected from the header line).
    what : str, default ``"jobs"``
        What the file holds, for messages (``"jobs"``, ``"leads"``).

    Returns
    -------
    pandas.DataFrame
        One row per line, every column ``object`` of ``str`` (empty cells are ``""``),
        column names stripped of surrounding spaces; ``df.attrs["lines"]``: the file line
        of each row (header = line 1), for messages.

    Raises
    ------
    ConfigError
        If the file is missing, a folder, a pipe or a device, larger than
        :data:`~zcrm_notebook.inputs.files.MAX_TABLE_BYTES`, not UTF-8, or not a readable
        CSV (the message quotes at most 80 characters of it).
    """
    import pandas as pd

    check_input_file(path, what, MAX_TABLE_BYTES)
    sep = _sniff_separator(path, what)
    try:
        df = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{what} file {str(path)!r} is not a readable CSV: {clean_text(str(exc), 80)}"
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    lines = _record_lines(path, sep)
    if len(lines) == len(df):
        df.attrs["lines"] = lines
    return df


def _record_lines(path: str | os.PathLike, sep: str) -> list[int]:
    """The file line on which each record after the header starts (header = line 1), blank
    lines skipped as pandas skips them: the numbers a spreadsheet or editor shows."""
    lines: list[int] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=sep, skipinitialspace=True)
            end = 0
            for record in reader:
                start, end = end + 1, reader.line_num
                if record:  # an empty line gives no record (pandas skips it too)
                    lines.append(start)
    except (OSError, csv.Error, UnicodeDecodeError):
        return []
    return lines[1:]  # after the header


def only_org(orgs: Mapping[str, OrgCredentials], noun: str = "job") -> str:
    """The one configured org, for a plain list of ids.

    Raises
    ------
    ConfigError
        If zero or several orgs are configured (the message says how to choose).
    """
    if len(orgs) == 1:
        return next(iter(orgs))
    raise ConfigError(
        f"a plain list of {noun} ids needs org=...: {len(orgs)} orgs are configured "
        f"({', '.join(orgs) or 'none'}); or pass {{org: [ids]}} or a table with an org column "
        "(command line: add an org column to the CSV or pass --org NAME)"
    )


def table_pairs(
    df, orgs: Mapping[str, OrgCredentials], org: str | None, *, id_column: str, what: str
) -> Iterator[tuple[str, object]]:
    """Yield ``(org label, raw id)`` for each row of a table of ids.

    The org of a row comes from its ``org`` column, else from its ``dc`` column (the one
    org configured in that data center), else from ``org``. A label that cannot be an org
    is yielded as ``"<reason>"`` for the caller to report with the row.

    Raises
    ------
    JobInputError
        If the table has no ``id_column`` (the message names the columns it has, and the
        separator problem when the header looks like ``job_id;org``).
    ConfigError
        If ``org`` is given and the table has an org column too.
    """
    cols = {str(c).strip().lower(): c for c in df.columns}
    if id_column not in cols:
        raise JobInputError(_no_id_column(list(df.columns), id_column, what))
    ids = df[cols[id_column]].tolist()
    if "org" in cols and org is not None:
        raise ConfigError(
            f"org={shown(org)} conflicts with the table's org column; drop one "
            "(command line: --org)"
        )
    if "org" in cols:
        labels = ["" if is_na(v) else str(v).strip() for v in df[cols["org"]].tolist()]
        if "dc" in cols:
            labels = [_check_dc(orgs, lab, dc) for lab, dc in zip(labels, df[cols["dc"]].tolist())]
    elif "dc" in cols:
        by_dc = _orgs_by_dc(orgs)
        labels = [_org_for_dc(by_dc, v) for v in df[cols["dc"]].tolist()]
    else:
        labels = [org or only_org(orgs, what.rstrip("s"))] * len(ids)
    yield from zip(labels, ids)


def _no_id_column(columns: list, id_column: str, what: str) -> str:
    head = f"{what} table has no {id_column} column (columns: {shown(columns, 120)})"
    if len(columns) == 1 and id_column in str(columns[0]).lower():
        return head + (
            "; its header is one column: is the file separated by something else than"
            " , ; tab or | ?"
        )
    if id_column == "job_id" and "lead_id" in [str(c).strip().lower() for c in columns]:
        return head + (
            "; this looks like a leads file: convert it with `zcrm-notebook convert` "
            "(Python: convert_leads)"
        )
    return head


def _check_dc(orgs: Mapping[str, OrgCredentials], label: str, dc: object) -> str:
    """The org label, or a reason when the row's dc is not that org's data center."""
    code = "" if is_na(dc) else str(dc).strip().lower()
    if label in orgs and code and code != orgs[label].dc:
        theirs = orgs[label].dc
        return f"<org {shown(label)} is in dc {theirs!r} but the row says dc {shown(code)}>"
    return label


def _org_for_dc(by_dc: dict[str, str], dc: object) -> str:
    code = "" if is_na(dc) else str(dc).strip().lower()
    if code in by_dc:
        return by_dc[code]
    known = ", ".join(sorted(by_dc)) or "none"
    if not code:
        return "<empty dc>"
    if code not in DATA_CENTERS:  # a typo, not a data center without an org here
        return f"<unknown data center {shown(code)} (data centers: {', '.join(DATA_CENTERS)})>"
    return f"<no org configured for dc {shown(code)} (configured DCs: {known})>"


def _orgs_by_dc(orgs: Mapping[str, OrgCredentials]) -> dict[str, str]:
    by_dc: dict[str, str] = {}
    for name, creds in orgs.items():
        by_dc[creds.dc] = name if creds.dc not in by_dc else f"<several orgs in dc {creds.dc}>"
    return by_dc


def id_pairs(
    items: object,
    orgs: Mapping[str, OrgCredentials],
    org: str | None,
    *,
    id_column: str = "job_id",
    what: str = "jobs",
) -> Iterator[tuple[str, object]]:
    """Yield ``(org label, raw id)`` from any accepted form of a batch of ids.

    A DataFrame or a CSV path (a table with ``id_column`` and ``org`` or ``dc``), a dict
    ``{org: [ids]}``, a list of ids (of ``org``, or of the one configured org), one id.
    """
    noun = what.rstrip("s")
    if hasattr(items, "columns"):  # a DataFrame (no pandas import needed here)
        yield from table_pairs(items, orgs, org, id_column=id_column, what=what)
    elif isinstance(items, (str, os.PathLike)) and not str(items).strip().isdigit():
        table = read_id_csv(items, what)
        yield from table_pairs(table, orgs, org, id_column=id_column, what=what)
    elif isinstance(items, Mapping):
        for key, ids in items.items():
            if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
                ids = [ids]
            for value in ids:
                yield str(key), value
    elif isinstance(items, Iterable) and not isinstance(items, (str, bytes)):
        label = org or only_org(orgs, noun)
        for value in items:
            yield label, value
    else:
        yield org or only_org(orgs, noun), items
