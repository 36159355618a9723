"""The leads to convert at the boundary: lead ids and per-lead options checked before any call.

Leads come as a list of ids, a dict ``{org: [ids]}``, a DataFrame or a CSV with a
``lead_id`` column and an ``org`` (or ``dc``) column, exactly like job ids
(:mod:`zcrm_notebook.inputs.jobs`): the same id rules (:mod:`zcrm_notebook.inputs.ids`: text
of ASCII digits, floats and empty cells refused, duplicates dropped with a warning) and
the same table reader (:mod:`zcrm_notebook.inputs.tables`). A table may also carry
per-lead options (:data:`OVERRIDE_COLUMNS`): who the converted records go to and the deal
to create. Lead ids stay text end to end (they exceed 2**53; ``docs/zoho-api.md``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date

from ..auth.credentials import OrgCredentials
from ..errors import LeadInputError
from .ids import bad_rows_message, clean_ids, id_problem
from .tables import id_pairs, is_na, read_id_csv, table_pairs

__all__ = ["clean_leads", "read_leads_csv", "OVERRIDE_COLUMNS", "LEAD_COLUMNS"]

#: Per-lead option columns a leads table may have (empty cells: the command's options).
OVERRIDE_COLUMNS = ("assign_to", "deal_name", "deal_stage", "closing_date", "pipeline")
#: Columns of :func:`clean_leads`' frame before the override columns.
LEAD_COLUMNS = ["org", "dc", "lead_id", "row"]
_RULE = (
    "lead ids must be text of 1-20 digits 0-9 without a leading zero, orgs configured, "
    "assign_to a user id, closing_date YYYY-MM-DD"
)


def read_leads_csv(path: str | os.PathLike):
    """Read a leads CSV with every column as text (see :func:`~.tables.read_id_csv`).

    Raises
    ------
    ConfigError
        If the file is missing or not a readable CSV.
    """
    return read_id_csv(path, "leads")


def _override_problem(column: str, value: object) -> tuple[str | None, str]:
    """``(clean value or None for an empty cell, "")`` or ``(None, reason)``."""
    if is_na(value) or not str(value).strip():
        return None, ""
    text = str(value).strip()
    if column == "assign_to":
        clean, why = id_problem(text)
        return clean, (f"assign_to {why}" if why else "")
    if column == "closing_date":
        try:
            return date.fromisoformat(text).isoformat(), ""
        except ValueError:
            return None, f"closing_date {text[:20]!r} is not a date YYYY-MM-DD"
    return text, ""


def _overrides(
    table, columns: list[str], lines: list[int] | None
) -> tuple[list[dict[str, str]], list[tuple]]:
    """Per row, its override values; and the rows (file ``lines`` if given) with a bad one."""
    values: list[dict[str, str]] = []
    bad: list[tuple[int, object, str]] = []
    for i in range(len(table)):
        row: dict[str, str] = {}
        for col in columns:
            clean, why = _override_problem(col, table[col].iloc[i])
            if why:
                bad.append((lines[i] if lines else i + 1, table[col].iloc[i], why))
            elif clean is not None:
                row[col] = clean
        values.append(row)
    return values, bad


def clean_leads(leads: object, orgs: Mapping[str, OrgCredentials], *, org: str | None = None):
    """Validate and normalise the leads to convert before any call is made.

    Parameters
    ----------
    leads : list of str, dict {org: [ids]}, DataFrame or CSV path
        Lead ids as text (or Python ints); a table needs ``lead_id`` and ``org`` or ``dc``,
        and may have the :data:`OVERRIDE_COLUMNS` (``assign_to``: a user id;
        ``deal_name``, ``deal_stage``, ``closing_date`` YYYY-MM-DD, ``pipeline``: the deal
        of that lead). A CSV may be separated by ``,``, ``;``, tab or ``|`` and carry a
        byte-order mark.
    orgs : mapping of org label -> OrgCredentials
    org : str, optional
        Org of a plain list of ids (needed when several orgs are configured).

    Returns
    -------
    pandas.DataFrame
        One row per lead in input order, duplicates (same org and id) dropped with a
        ``UserWarning`` naming them: ``org``, ``dc``, ``lead_id`` (string), ``row`` (Int64,
        1-based position in the input), then the override columns the input had (string,
        NA where empty).

    Raises
    ------
    LeadInputError
        Listing every offending row (value, reason; ``line N`` of a CSV file, header =
        line 1, else ``row N`` from 1): non-digit ids, signs, decimals, exponents, floats,
        empty cells, more than 20 digits, a leading zero (``"0123"`` would be another lead
        than ``"123"`` in the ledger), empty or unknown orgs or data centers, bad
        ``assign_to`` or ``closing_date`` values.
    ConfigError
        For an unreadable CSV, or a plain list of ids with several orgs and no ``org``.
    """
    import pandas as pd

    table, lines = None, None
    if isinstance(leads, (str, os.PathLike)) and not str(leads).strip().isdigit():
        table = read_leads_csv(leads)
        lines = table.attrs.get("lines")
    elif hasattr(leads, "columns"):
        table = leads
    columns: list[str] = []
    values: list[dict[str, str]] = []
    bad: list[tuple] = []
    if table is not None:
        lower = {str(c).strip().lower(): c for c in table.columns}
        columns = [c for c in OVERRIDE_COLUMNS if c in lower]
        table = table.rename(columns={lower[c]: c for c in columns})
        values, bad = _overrides(table, columns, lines)
        pairs = list(table_pairs(table, orgs, org, id_column="lead_id", what="leads"))
    else:
        pairs = list(id_pairs(leads, orgs, org, id_column="lead_id", what="leads"))
    try:
        rows = clean_ids(
            pairs, orgs, noun="lead", error=LeadInputError, lines=lines, leading_zeros=False
        )
    except LeadInputError as exc:
        if not exc.rows:
            raise
        bad = sorted(bad + exc.rows, key=lambda r: r[0])
    if bad:
        unit = "line" if lines else "row"
        raise LeadInputError(bad_rows_message(bad, "lead", _RULE, unit=unit), bad)
    out = {
        "org": [label for _, label, _ in rows],
        "dc": [orgs[label].dc for _, label, _ in rows],
        "lead_id": [lead for _, _, lead in rows],
    }
    frame = pd.DataFrame(out, dtype="string")
    frame["row"] = pd.array([r for r, _, _ in rows], dtype="Int64")
    for col in columns:
        frame[col] = pd.array([values[r - 1].get(col) for r, _, _ in rows], dtype="string")
    return frame
