"""The lead outcome row, declared once: what became of one lead of a conversion.

:class:`LeadOutcome` is the single declaration of the lead outcome table, like
:class:`~zcrm_notebook.snapshots.schema.Snapshot` for snapshots: each field carries its
column kind and meaning, and the DataFrame dtypes, the ledger's SQLite table and the CSV
are derived from it. The outcomes, best first:

=================  ========================================================================
outcome            meaning
=================  ========================================================================
converted          Zoho says the lead is converted (``Converted__s``); the ids of what it
                   became and when
already_converted  Zoho says the lead is converted, more of its job's leads read back
                   converted than the job's ``Converted_Count``, and its
                   ``Converted_Date_Time`` is at least a second before its job was made
                   (before the POST reached Zoho, on Zoho's clock: the POST answer's
                   ``Date`` less its round trip; a minute when the count is not known):
                   converted earlier, not by this job (an earlier run of the same leads
                   without a store, a user, another tool). The ids of what it became and
                   when; ``reason`` says both times. Not counted as converted by its job,
                   never sent again
not_converted      still a lead after its job ended: the job failed it or did not get to
                   it (Zoho tells the two apart only by the job's counts); ``reason`` from
                   the opt-in diagnosis
pending            in a job that had not finished when the run stopped watching
not_scheduled      never in a job: the POST was refused (``error_code``: Zoho's code) or
                   not sent (the org ended, rate limits, the run stopped)
unknown            could not be told: the POST's answer was lost and the lead is not
                   converted yet, or reading it back failed
deleted            Zoho no longer has the lead (absent from Get Records with
                   ``converted=both``: deleted, or not visible to this user)
=================  ========================================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..redact import shown
from ..snapshots.csvfile import read_table_csv, write_table_csv
from ..snapshots.frame import table_dtypes, table_frame
from ..snapshots.schema import CATEGORY, INT, TEXT, TIME, Columns, column

__all__ = [
    "LeadOutcome",
    "OUTCOMES",
    "LEAD_OUTCOME_COLUMNS",
    "LEAD_OUTCOME_DOCS",
    "LEAD_OUTCOME_DTYPES",
    "outcomes_frame",
    "empty_outcomes",
    "coerce_outcomes",
    "latest_attempts",
    "write_lead_outcomes_csv",
    "read_lead_outcomes",
]

#: The outcomes of a lead, in the order of the ordered category (best first).
OUTCOMES = (
    "converted",
    "already_converted",
    "not_converted",
    "pending",
    "not_scheduled",
    "unknown",
    "deleted",
)


@dataclass(frozen=True)
class LeadOutcome:
    """One row of the lead outcome table (plain Python values; see the module docstring).

    ``converted_at`` is float seconds since the Unix epoch (UTC); ids are text; ``attempt``
    is 1 for a lead's first POST, 2 for its first retry... ``reason_attempt`` is the attempt
    that learnt ``error_code`` and ``reason``: by default the row's own ``attempt`` when
    either is set (None when neither is); an earlier attempt when the ledger carries a
    reason forward to a retry that learnt none (a ``not_converted`` lead of attempt 2 with
    the diagnosis of attempt 1).
    """

    org: str = column(TEXT, "org label of the credentials")
    dc: str = column(TEXT, "data-center code")
    lead_id: str = column(TEXT, "19-digit lead id (text)")
    job_id: str | None = column(TEXT, "job that had the lead (empty: none known)", None)
    attempt: int = column(INT, "1 for the lead's first POST, 2 for its first retry...", 1)
    outcome: str = column(
        CATEGORY,
        f"what became of the lead: {', '.join(OUTCOMES[:-1])} or {OUTCOMES[-1]}",
        "unknown",
        categories=OUTCOMES,
    )
    contact_id: str | None = column(TEXT, "contact the conversion made", None)
    account_id: str | None = column(TEXT, "account the conversion made (if any)", None)
    deal_id: str | None = column(TEXT, "deal the conversion made (if any)", None)
    converted_at: float | None = column(TIME, "when Zoho converted it (ISO-8601 UTC)", None)
    error_code: str | None = column(TEXT, "Zoho's code (POST refusal, read failure, reason)", None)
    reason: str | None = column(TEXT, "why, in words (diagnosis: Zoho's message)", None)
    reason_attempt: int | None = column(
        INT, "attempt whose answer gave error_code and reason (empty: neither is set)", None
    )

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {OUTCOMES}")
        if self.reason_attempt is None and (self.error_code or self.reason):
            object.__setattr__(self, "reason_attempt", self.attempt)  # its own attempt's

    def values(self) -> dict:
        """The row as a dict of plain values, by column."""
        return asdict(self)


COLUMNS = Columns.of(LeadOutcome)
#: Column names, in order.
LEAD_OUTCOME_COLUMNS: list[str] = COLUMNS.names
#: The text columns that may be missing (an empty cell there reads back as missing).
_MAY_BE_MISSING = [c for c in COLUMNS.of_kind(TEXT) if not COLUMNS.required[c]]
#: Column name -> meaning (with units).
LEAD_OUTCOME_DOCS: dict[str, str] = COLUMNS.docs
#: Column name -> pandas dtype of the lead outcome frame.
LEAD_OUTCOME_DTYPES: dict[str, object] = table_dtypes(COLUMNS)


def outcomes_frame(rows: Iterable[LeadOutcome]) -> pd.DataFrame:
    """The lead outcome DataFrame of ``rows`` (in their order).

    Returns
    -------
    pandas.DataFrame
        One row per lead: exactly ``LEAD_OUTCOME_COLUMNS``; ids and codes ``string``,
        ``attempt`` and ``reason_attempt`` Int64, ``outcome`` an ordered category of
        :data:`OUTCOMES`, ``converted_at`` datetime64[ns, UTC]; a RangeIndex.
    """
    items = [r.values() for r in rows]
    return table_frame(COLUMNS, {c: [r[c] for r in items] for c in LEAD_OUTCOME_COLUMNS})


def empty_outcomes() -> pd.DataFrame:
    """An empty lead outcome frame with the exact columns and dtypes."""
    return outcomes_frame([])


def coerce_outcomes(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with exactly the lead outcome columns, order and dtypes.

    A table without ``reason_attempt`` (written before that column existed) gets the
    default of :class:`LeadOutcome`: the row's ``attempt`` where ``error_code`` or
    ``reason`` is set.

    Raises
    ------
    ConfigError
        A column is missing, a lead or job id is numeric (19-digit ids must be text), or an
        outcome is not one of :data:`OUTCOMES`.
    """
    if "reason_attempt" not in df.columns:  # a table written before the column existed
        df = df.assign(reason_attempt=_own_reason_attempt(df))
    missing = [c for c in LEAD_OUTCOME_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"lead outcome table lacks columns {missing}")
    for name in ("lead_id", "job_id", "contact_id", "account_id", "deal_id"):
        if pd.api.types.is_numeric_dtype(df[name]) and df[name].notna().any():
            raise ConfigError(f"{name} column is numeric; 19-digit ids must be read as text")
    bad = set(df["outcome"].dropna().astype(str)) - set(OUTCOMES)
    if bad:
        raise ConfigError(f"unknown outcomes {sorted(bad)}; expected {list(OUTCOMES)}")
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for name, dtype in LEAD_OUTCOME_DTYPES.items():
        col = df[name].reset_index(drop=True)
        if COLUMNS.kinds[name] == TIME and not isinstance(col.dtype, pd.DatetimeTZDtype):
            col = pd.to_datetime(col, utc=True, format="ISO8601")
        out[name] = col.astype(dtype)
    return out


def _own_reason_attempt(df: pd.DataFrame) -> pd.Series:
    """Per row: its ``attempt`` where ``error_code`` or ``reason`` is set (the default of
    :class:`LeadOutcome`), else missing."""
    told = pd.Series(False, index=df.index)
    for name in ("error_code", "reason"):
        if name in df.columns:
            told |= df[name].notna() & (df[name].astype("string") != "")
    attempt = df["attempt"] if "attempt" in df.columns else pd.Series(pd.NA, index=df.index)
    return attempt.astype("Int64").where(told)


def latest_attempts(leads: pd.DataFrame) -> pd.DataFrame:
    """One row per lead: its latest attempt.

    Parameters
    ----------
    leads : pandas.DataFrame
        A lead outcome table; a lead (``org``, ``lead_id``) may have a row per attempt (a
        table of a retried conversion joined with an earlier one). Not modified.

    Returns
    -------
    pandas.DataFrame
        Its rows with the highest ``attempt`` of each lead (the last such row when tied;
        a missing attempt counts as the earliest), in the order the leads are first seen,
        with a RangeIndex.
    """
    keyed = leads.assign(_n=range(len(leads)))
    last = keyed.sort_values(["attempt", "_n"], na_position="first", kind="stable")
    last = last.drop_duplicates(["org", "lead_id"], keep="last").sort_values("_n")
    return last.drop(columns="_n").reset_index(drop=True)


def write_lead_outcomes_csv(
    df: pd.DataFrame, path: str | os.PathLike, *, spreadsheet_safe: bool = True
) -> Path:
    """Write the lead outcome table as CSV (``leads.csv`` of a conversion's output).

    Times ISO-8601 UTC with ``Z``, ids as text, no index; ``spreadsheet_safe`` (default)
    neutralises text a spreadsheet would run as a formula, reversibly
    (:func:`read_lead_outcomes` undoes it).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ConfigError
        ``df`` is not a lead outcome table.
    """
    return write_table_csv(
        coerce_outcomes(df),
        path,
        columns=LEAD_OUTCOME_COLUMNS,
        times=COLUMNS.of_kind(TIME),
        spreadsheet_safe=spreadsheet_safe,
        may_be_missing=_MAY_BE_MISSING,
    )


def read_lead_outcomes(path: str | os.PathLike) -> pd.DataFrame:
    """Read a lead outcome CSV back with its exact dtypes (equal to the frame written; a
    file without ``reason_attempt`` gets its default, see :func:`coerce_outcomes`).

    Raises
    ------
    ConfigError
        The file is missing, not a CSV, or not a lead outcome table (an ``attempt`` or
        ``reason_attempt`` that is not a whole number from 1 to :data:`MAX_ATTEMPT`).
    """
    dtypes: dict[str, object] = {c: "string" for c in LEAD_OUTCOME_COLUMNS}
    text = COLUMNS.of_kind(TEXT)
    df = read_table_csv(
        path, dtypes, text=text, what="lead outcome", may_be_missing=_MAY_BE_MISSING
    )
    for name in COLUMNS.of_kind(INT):
        if name in df.columns:
            df[name] = _attempts(df[name], name, path)
    return coerce_outcomes(df)


#: The largest attempt number a lead outcome CSV may hold.
MAX_ATTEMPT = 1_000_000


def _attempts(col: pd.Series, name: str, path: str | os.PathLike) -> pd.Series:
    """A CSV's attempt column (text) as Int64: empty cells missing, the others whole
    numbers from 1 to :data:`MAX_ATTEMPT`.

    Raises
    ------
    ConfigError
        Naming the file, column, row (from 1, the header not counted) and value of the
        first that is not.
    """
    for row, value in enumerate(col.tolist(), start=1):  # the header not counted
        if pd.isna(value):
            continue
        text = str(value).strip()
        if not (
            text.isascii() and text.isdigit() and len(text) <= 7 and 1 <= int(text) <= MAX_ATTEMPT
        ):
            raise ConfigError(
                f"{shown(str(path))}: column {name}, row {row}: {shown(value, 30)} "
                f"is not an attempt (a whole number from 1 to {MAX_ATTEMPT})"
            )
    return col.str.strip().astype("Int64")
