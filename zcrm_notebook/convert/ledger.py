"""The conversion ledger: every chunk of leads sent (or to be sent) and what became of them.

It lives in the same SQLite file as the snapshots (:class:`~zcrm_notebook.snapshots.store.
SnapshotStore`), through the store's connection, lock and run lock, in its own tables
(version in ``ledger_meta``): ``batches`` (one per input converted), ``chunks`` (one per
mass-convert POST), ``chunk_leads`` (the leads of a chunk with their attempt and the chunk
they came from), ``lead_outcomes`` (what reading them back said; the columns of
:class:`~zcrm_notebook.convert.outcomes.LeadOutcome`). Rows are read by name.

A chunk's states (the rule for a POST whose outcome is unknown, ``docs/zoho-api.md``):

=========  =========================================================================
state      meaning
=========  =========================================================================
intent     its leads are committed; never sent (safe to send)
sending    committed right before the POST (durably); a run that finds it did not
           live to record the answer: it becomes ``unknown``
scheduled  Zoho answered with a job id (committed durably)
rejected   Zoho refused it for good (its leads are ``not_scheduled`` with the code)
unknown    the POST may have made a job (timeout, reset, 5xx, the run killed): its
           leads are read back, never sent again blindly
=========  =========================================================================

A chunk is *open* until it is closed: reconciled (scheduled), accounted for (unknown) or
refused (rejected). A lead's fate is that of the last chunk that holds it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, NamedTuple

import pandas as pd

from ..api.answers import plausible_time
from ..errors import ConfigError
from ..inputs.ids import id_problem
from ..redact import shown
from ..snapshots.store import SQL_TYPES, SnapshotStore, columns_sql
from .options import ConvertOptions
from .outcomes import COLUMNS, LEAD_OUTCOME_COLUMNS, LeadOutcome, outcomes_frame
from .plan import ConversionPlan, PlannedChunk, PlannedLead

__all__ = ["Ledger", "Chunk", "LeadStatus", "STATES", "LEDGER_VERSION", "load_lead_outcomes"]

#: 2: ``already_converted`` outcomes, ``chunks.answer_date``, ``lead_outcomes.reason_attempt``
#: (a package that reads version 1 refuses the ledger instead of failing on an outcome it
#: does not know).
LEDGER_VERSION = 2
STATES = ("intent", "sending", "scheduled", "rejected", "unknown")

_DDL = f"""
CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    batch_id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT,
    created_at REAL NOT NULL,
    n_leads INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_fingerprint ON batches (fingerprint);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id INTEGER NOT NULL REFERENCES batches (batch_id),
    org TEXT NOT NULL,
    dc TEXT NOT NULL,
    options TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    posted_at REAL,
    answered_at REAL,
    answer_date REAL,
    job_id TEXT,
    http_status INTEGER,
    error_code TEXT,
    error_message TEXT,
    converted_count INTEGER,
    count_mismatch INTEGER,
    closed_at REAL
);
CREATE TABLE IF NOT EXISTS chunk_leads (
    chunk_id INTEGER NOT NULL REFERENCES chunks (chunk_id),
    position INTEGER NOT NULL,
    org TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    parent_chunk INTEGER,
    PRIMARY KEY (chunk_id, lead_id)
);
CREATE INDEX IF NOT EXISTS chunk_leads_lead ON chunk_leads (org, lead_id);
CREATE TABLE IF NOT EXISTS lead_outcomes (
    chunk_id INTEGER NOT NULL REFERENCES chunks (chunk_id),
    {columns_sql(COLUMNS)},
    PRIMARY KEY (chunk_id, lead_id)
);
"""
_OUTCOME_NAMES = ", ".join(LEAD_OUTCOME_COLUMNS)
#: The columns of ``chunks`` that may be empty: a ledger that lacks one (an earlier version,
#: or edited by hand) gets it back, empty, when opened.
_CHUNK_OPTIONAL_SQL = {
    "posted_at": "REAL",
    "answered_at": "REAL",
    "answer_date": "REAL",
    "job_id": "TEXT",
    "http_status": "INTEGER",
    "error_code": "TEXT",
    "error_message": "TEXT",
    "converted_count": "INTEGER",
    "count_mismatch": "INTEGER",
    "closed_at": "REAL",
}
#: Column name -> SQL definition of ``lead_outcomes`` (a ledger written before a column
#: existed gets it when opened: every such column may be missing).
_OUTCOME_SQL = {name: SQL_TYPES[kind] for name, kind in COLUMNS.kinds.items()}
_UPSERT = (
    f"INSERT OR REPLACE INTO lead_outcomes (chunk_id, {_OUTCOME_NAMES}) "
    f"VALUES (?, {', '.join('?' for _ in LEAD_OUTCOME_COLUMNS)})"
)


@dataclass(frozen=True)
class Chunk:
    """One chunk of the ledger (a mass-convert POST, sent or to be sent).

    Attributes
    ----------
    chunk_id, batch_id : int
    org, dc : str
    options : ConvertOptions
    state : str
        One of :data:`STATES`.
    created_at, posted_at, answered_at, closed_at : float or None
        Seconds since the epoch, on this machine's clock: committed, last POST started, its
        answer, closed.
    answer_date : float or None
        The POST answer's ``Date`` header: when Zoho made it, on Zoho's clock (seconds
        since the epoch, whole seconds; None: not sent, not read, a ledger written
        before it was kept, or a stored value that is not a plausible time: text, bytes,
        outside 2000..2200).
    job_id : str or None
    http_status : int or None
    error_code, error_message : str or None
        Zoho's code and message of a refusal, or why it is unknown or not sent.
    converted_count : int or None
        The job's last ``Converted_Count`` when it was reconciled.
    count_mismatch : bool
        Its leads read back converted do not number ``converted_count``.
    leads : tuple of PlannedLead
    """

    chunk_id: int
    batch_id: int
    org: str
    dc: str
    options: ConvertOptions
    state: str
    created_at: float
    posted_at: float | None
    answered_at: float | None
    answer_date: float | None
    job_id: str | None
    http_status: int | None
    error_code: str | None
    error_message: str | None
    converted_count: int | None
    count_mismatch: bool
    closed_at: float | None
    leads: tuple[PlannedLead, ...]

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def posted_at_zoho(self) -> float | None:
        """The earliest moment, on Zoho's clock, the job of this POST can have been made:
        the answer's ``Date`` less the POST's round trip (``answered_at - posted_at``, on
        this machine's clock, retries included). None when one of them is not known.

        The POST reached Zoho no earlier than that, and Zoho made the job after it arrived,
        so a lead whose ``Converted_Date_Time`` (whole seconds) is at least a second before
        it was converted before the job existed. Zoho's record times are compared with
        Zoho's clock only, never with this machine's (which may be off).
        """
        date, sent, answered = self.answer_date, self.posted_at, self.answered_at
        if date is None or sent is None or answered is None:
            return None
        return date - max(0.0, answered - sent)

    @property
    def lead_ids(self) -> tuple[str, ...]:
        return tuple(lead.lead_id for lead in self.leads)

    def where(self) -> str:
        """Where a lead of this chunk is, in words (``job 123 (chunk 4)``)."""
        if self.job_id:
            return f"job {self.job_id} (chunk {self.chunk_id})"
        what = {
            "intent": "not sent yet",
            "sending": "POST in flight",
            "unknown": "POST answer lost",
        }.get(self.state, self.state)
        return f"chunk {self.chunk_id} ({what})"


class LeadStatus(NamedTuple):
    """A lead's last chunk and what it says of the lead."""

    chunk: Chunk
    outcome: str
    attempt: int

    @property
    def chunk_id(self) -> int:
        return self.chunk.chunk_id

    @property
    def open(self) -> bool:
        return self.chunk.open

    def where(self) -> str:
        return self.chunk.where()


_CHUNK_COLUMNS = [f.name for f in fields(Chunk) if f.name != "leads"]


class Ledger:
    """The conversion ledger kept in a snapshot store's SQLite file (see the module doc).

    Parameters
    ----------
    store : SnapshotStore
        The store of the run: the ledger uses its connection and lock, so it is written
        under the same run lock as the snapshots.

    A ledger of version 1 gets the columns added since when opened (``chunks.answer_date``,
    ``lead_outcomes.reason_attempt``; NULL in its rows) and becomes version 2 (it may hold
    ``already_converted``: a package reading version 1 refuses it with a ConfigError).

    Raises
    ------
    ConfigError
        The file holds a ledger of a newer version (or a version that is not a number);
        nothing in it is altered.
    """

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        with store.transaction() as db:
            _check_version(db, store.path)  # before anything is altered
            for statement in _DDL.split(";"):
                if statement.strip():
                    db.execute(statement)
            _add_missing_columns(db, "chunks", _CHUNK_OPTIONAL_SQL)
            _add_missing_columns(db, "lead_outcomes", _OUTCOME_SQL)
            db.execute(
                "INSERT OR REPLACE INTO ledger_meta VALUES ('version', ?)", (str(LEDGER_VERSION),)
            )

    def __repr__(self) -> str:
        return f"Ledger({str(self.store.path)!r})"

    # -- batches and chunks -------------------------------------------------------------

    def batch_for(self, fingerprint: str, kind: str = "input") -> int | None:
        """The batch of this ``kind`` (``input``, ``retry``) with this fingerprint, if any."""
        rows = self.store.query(
            "SELECT batch_id FROM batches WHERE fingerprint = ? AND kind = ? "
            "ORDER BY batch_id DESC LIMIT 1",
            (fingerprint, kind),
        )
        return int(rows[0]["batch_id"]) if rows else None

    def add_batch(
        self, plan: ConversionPlan, *, at: float, kind: str = "input", source: str = ""
    ) -> int:
        """Commit a plan: its batch and every chunk as an ``intent``, in one durable
        transaction (before any POST). Returns the batch id."""
        with self.store.transaction(durable=True) as db:
            cur = db.execute(
                "INSERT INTO batches (fingerprint, kind, source, created_at, n_leads) "
                "VALUES (?, ?, ?, ?, ?)",
                (plan.fingerprint, kind, source, at, len(plan.leads)),
            )
            batch_id = int(cur.lastrowid or 0)
            for chunk in plan.chunks:
                self._insert_chunk(db, batch_id, chunk, at)
        return batch_id

    def add_chunks(self, batch_id: int, chunks: Sequence[PlannedChunk], *, at: float) -> list[int]:
        """Commit more chunks of a batch as intents (re-planned leads); returns their ids."""
        with self.store.transaction(durable=True) as db:
            return [self._insert_chunk(db, batch_id, c, at) for c in chunks]

    @staticmethod
    def _insert_chunk(db: Any, batch_id: int, chunk: PlannedChunk, at: float) -> int:
        cur = db.execute(
            "INSERT INTO chunks (batch_id, org, dc, options, state, created_at) "
            "VALUES (?, ?, ?, ?, 'intent', ?)",
            (batch_id, chunk.org, chunk.dc, chunk.options.key(), at),
        )
        chunk_id = int(cur.lastrowid or 0)
        db.executemany(
            "INSERT INTO chunk_leads (chunk_id, position, org, lead_id, attempt, parent_chunk) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (chunk_id, i, chunk.org, lead.lead_id, lead.attempt, lead.parent_chunk)
                for i, lead in enumerate(chunk.leads)
            ],
        )
        return chunk_id

    def mark(self, chunk_id: int, state: str, *, durable: bool = False, **values: Any) -> None:
        """Set a chunk's state and other columns (``job_id``, ``posted_at``...).

        ``durable`` commits with ``synchronous=FULL``: for ``sending`` (before the POST)
        and ``scheduled`` (the job id).

        Raises
        ------
        ValueError
            An unknown state or column.
        """
        if state not in STATES or not set(values) <= set(_CHUNK_COLUMNS):
            raise ValueError(f"bad chunk update: {state!r}, {sorted(values)}")
        sets = ", ".join(f"{k} = ?" for k in ["state", *values])
        with self.store.transaction(durable=durable) as db:
            db.execute(
                f"UPDATE chunks SET {sets} WHERE chunk_id = ?",
                (state, *values.values(), chunk_id),
            )

    def close(self, chunk_id: int, *, at: float, **values: Any) -> None:
        """Close a chunk (its leads are accounted for), with more columns to set."""
        if not set(values) <= set(_CHUNK_COLUMNS):
            raise ValueError(f"bad chunk columns: {sorted(values)}")
        values = {"closed_at": at, **values}
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.store.transaction() as db:
            db.execute(f"UPDATE chunks SET {sets} WHERE chunk_id = ?", (*values.values(), chunk_id))

    def resume_interrupted(self) -> list[int]:
        """Chunks left ``sending`` by a run that ended mid-POST become ``unknown``.

        Returns
        -------
        list of int
            Their ids.
        """
        rows = self.store.query("SELECT chunk_id FROM chunks WHERE state = 'sending'")
        ids = [int(r["chunk_id"]) for r in rows]
        for chunk_id in ids:
            self.mark(
                chunk_id,
                "unknown",
                error_code="INTERRUPTED",
                error_message="the run ended while this POST was in flight",
            )
        return ids

    def drop_bad_job_ids(self) -> list[tuple[int, str]]:
        """Chunks whose job id breaks the job-id rule (1-20 ASCII digits; a store written
        before the POST answer was checked) become ``unknown``: a lost answer, their leads
        read back, the bad id dropped (kept, cut, in ``error_message``).

        Returns
        -------
        list of (int, str)
            The chunk ids, and why each job id was refused.
        """
        rows = self.store.query("SELECT chunk_id, job_id FROM chunks WHERE job_id IS NOT NULL")
        bad = [(int(r["chunk_id"]), r["job_id"], id_problem(r["job_id"])) for r in rows]
        out = []
        for chunk_id, job_id, (ok, why) in bad:
            if ok is not None and ok == job_id:
                continue
            why = f"job id {shown(job_id, 40)} of the POST answer: {why or 'not clean'}"
            self.mark(
                chunk_id,
                "unknown",
                job_id=None,
                error_code="RESPONSE_FORMAT",
                error_message=f"{why}; its leads are read back",
            )
            out.append((chunk_id, why))
        return out

    def record_outcomes(self, chunk_id: int, rows: Iterable[LeadOutcome]) -> None:
        """Keep what was learnt about leads of a chunk (replacing earlier rows of a lead)."""
        values = [(chunk_id, *r.values().values()) for r in rows]
        with self.store.transaction() as db:
            db.executemany(_UPSERT, values)

    # -- reading ------------------------------------------------------------------------

    def chunks(self, *, open_only: bool = False, ids: Iterable[int] | None = None) -> list[Chunk]:
        """Chunks in id order: all, only the open ones, or those of ``ids``."""
        select = f"SELECT {', '.join(_CHUNK_COLUMNS)} FROM chunks"
        if ids is None:
            where = " WHERE closed_at IS NULL" if open_only else ""
            rows = self.store.query(select + where + " ORDER BY chunk_id")
        else:
            rows = []
            wanted = sorted(set(ids))
            for part in (wanted[i : i + 500] for i in range(0, len(wanted), 500)):
                marks = ", ".join("?" for _ in part)
                rows += self.store.query(f"{select} WHERE chunk_id IN ({marks})", part)
            rows = [r for r in rows if not open_only or r["closed_at"] is None]
        leads = self._leads_of([int(r["chunk_id"]) for r in rows])
        return [_chunk(r, tuple(leads.get(r["chunk_id"], ())), self.store.path) for r in rows]

    def _leads_of(self, chunk_ids: list[int]) -> dict[int, list[PlannedLead]]:
        leads: dict[int, list[PlannedLead]] = {}
        for part in (chunk_ids[i : i + 500] for i in range(0, len(chunk_ids), 500)):
            marks = ", ".join("?" for _ in part)
            for r in self.store.query(
                "SELECT chunk_id, lead_id, attempt, parent_chunk FROM chunk_leads "
                f"WHERE chunk_id IN ({marks}) ORDER BY chunk_id, position",
                part,
            ):
                if not (_whole(r["attempt"]) and r["attempt"] >= 1):
                    where = f"chunk {shown(r['chunk_id'], 20)} lead {shown(r['lead_id'], 24)}"
                    raise _damaged(self.store.path, "chunk_leads", where, "attempt", r["attempt"])
                leads.setdefault(r["chunk_id"], []).append(
                    PlannedLead(r["lead_id"], r["attempt"], r["parent_chunk"])
                )
        return leads

    def chunk(self, chunk_id: int) -> Chunk:
        """One chunk.

        Raises
        ------
        KeyError
            For an unknown id.
        """
        found = self.chunks(ids=[chunk_id])
        if not found:
            raise KeyError(f"no chunk {chunk_id} in the ledger")
        return found[0]

    def stored_outcomes(self, chunk_id: int) -> dict[str, LeadOutcome]:
        """Lead id -> what was recorded for it in this chunk."""
        rows = self.store.query(
            f"SELECT {_OUTCOME_NAMES} FROM lead_outcomes WHERE chunk_id = ?", (chunk_id,)
        )
        path = self.store.path
        return {r["lead_id"]: _stored_outcome(r, path, chunk_id) for r in rows}

    def latest_by_lead(self, keys: Iterable[tuple[str, str]] | None = None) -> dict:
        """``(org, lead_id) -> LeadStatus`` of each lead's last chunk (leads never in a chunk
        are absent); all leads of the ledger when ``keys`` is None."""
        wanted = None if keys is None else set(keys)
        last: dict[tuple[str, str], int] = {}
        for r in self.store.query(
            "SELECT org, lead_id, MAX(chunk_id) AS chunk_id FROM chunk_leads GROUP BY org, lead_id"
        ):
            key = (r["org"], r["lead_id"])
            if wanted is None or key in wanted:
                last[key] = int(r["chunk_id"])
        chunks = {c.chunk_id: c for c in self.chunks(ids=set(last.values()))}
        stored: dict[int, dict[str, LeadOutcome]] = {}
        out = {}
        for key, chunk_id in last.items():
            chunk = chunks.get(chunk_id)
            if chunk is None:  # a chunk_leads row of no chunk (a file edited by hand)
                continue
            if chunk_id not in stored:
                stored[chunk_id] = self.stored_outcomes(chunk_id)
            row = outcome_of(chunk, key[1], stored[chunk_id].get(key[1]))
            out[key] = LeadStatus(chunk, row.outcome, row.attempt)
        return out

    def outcomes(self, keys: Sequence[tuple[str, str]] | None = None) -> list[LeadOutcome]:
        """The lead outcome rows of ``keys`` (in their order; a lead never in a chunk is
        left out), or of every lead of the ledger (by chunk)."""
        status = self.latest_by_lead(keys)
        order = list(keys) if keys is not None else sorted(status, key=lambda k: status[k].chunk_id)
        stored: dict[int, dict[str, LeadOutcome]] = {}
        rows = []
        for key in order:
            if key not in status:
                continue
            chunk = status[key].chunk
            if chunk.chunk_id not in stored:
                stored[chunk.chunk_id] = self.stored_outcomes(chunk.chunk_id)
            row = outcome_of(chunk, key[1], stored[chunk.chunk_id].get(key[1]))
            rows.append(self._carry_reason(row, chunk, stored))
        return rows

    def _carry_reason(
        self, row: LeadOutcome, chunk: Chunk, stored: dict[int, dict[str, LeadOutcome]]
    ) -> LeadOutcome:
        """A ``not_converted`` lead without a reason gets the last one an earlier attempt
        learnt (the diagnosis' code and message, as Zoho gave them), with that attempt in
        ``reason_attempt``."""
        if row.outcome != "not_converted" or row.error_code or row.reason:
            return row
        lead = next((x for x in chunk.leads if x.lead_id == row.lead_id), None)
        parent = lead.parent_chunk if lead is not None else None
        seen: set[int] = set()
        while parent is not None and parent not in seen:
            seen.add(parent)
            if parent not in stored:
                stored[parent] = self.stored_outcomes(parent)
            earlier = stored[parent].get(row.lead_id)
            if earlier is not None and (earlier.error_code or earlier.reason):
                return replace(
                    row,
                    error_code=earlier.error_code,
                    reason=earlier.reason,
                    reason_attempt=earlier.reason_attempt or earlier.attempt,
                )
            rows = self.store.query(
                "SELECT parent_chunk FROM chunk_leads WHERE chunk_id = ? AND lead_id = ?",
                (parent, row.lead_id),
            )
            parent = rows[0]["parent_chunk"] if rows else None
        return row

    def outcome_frame(self, keys: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
        """:meth:`outcomes` as the lead outcome DataFrame
        (:func:`~zcrm_notebook.convert.outcomes.outcomes_frame`)."""
        return outcomes_frame(self.outcomes(keys))

    def frame(self) -> pd.DataFrame:
        """One row per chunk: ``chunk_id, batch_id, org, dc, state, leads, attempt, job_id,
        http_status, error_code, error_message, converted_count, count_mismatch`` and the
        times ``created_at, posted_at, answered_at, answer_date, closed_at`` (UTC;
        ``answer_date`` on Zoho's clock, the others on this machine's)."""
        rows = []
        for c in self.chunks():
            values = {k: getattr(c, k) for k in _CHUNK_COLUMNS if k != "options"}
            values["leads"] = len(c.leads)
            values["attempt"] = max((lead.attempt for lead in c.leads), default=1)
            rows.append(values)
        cols = [k for k in _CHUNK_COLUMNS if k != "options"] + ["leads", "attempt"]
        df = pd.DataFrame(rows, columns=cols)
        for name in ("created_at", "posted_at", "answered_at", "answer_date", "closed_at"):
            df[name] = pd.to_datetime(df[name].astype("float64"), unit="s", utc=True)
        text = ["org", "dc", "state", "job_id", "error_code", "error_message"]
        ints = ["chunk_id", "batch_id", "http_status", "converted_count", "leads", "attempt"]
        return df.astype({**dict.fromkeys(text, "string"), **dict.fromkeys(ints, "Int64")}).astype(
            {"count_mismatch": "bool"}
        )


def _check_version(db: Any, path: object) -> None:
    """Refuse a ledger written by a newer version of the package (or with no readable
    version), before anything is changed in the file."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'ledger_meta'").fetchone():
        return
    row = db.execute("SELECT value FROM ledger_meta WHERE key = 'version'").fetchone()
    if row is None:
        return
    version = str(row[0]).strip()
    number = version.isascii() and version.isdigit() and len(version) <= 9
    if not (number and int(version) <= LEDGER_VERSION):
        raise ConfigError(
            f"{str(path)!r} holds a conversion ledger of version "
            f"{version if number else shown(row[0], 20)}; "
            f"this zcrm_notebook reads versions up to {LEDGER_VERSION}: upgrade it"
        )


def _add_missing_columns(db: Any, table: str, columns: dict[str, str]) -> None:
    """Add the ``columns`` (name -> SQL definition) ``table`` lacks: a ledger written by an
    earlier version of the package (its rows get NULL there)."""
    have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    for name, sql in columns.items():
        if name not in have:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sql}")


def _damaged(path: object, table: str, row: str, what: str, value: object) -> ConfigError:
    """The one-line error of a ledger row this version cannot read (a file edited by hand
    or damaged): the file, the table and row (its chunk id, and lead id for a lead's row),
    the value and what was expected."""
    return ConfigError(
        f"{str(path)!r}: ledger table {table}, row {row}: {what} "
        f"{shown(value, 40)} cannot be read; expected {_EXPECTED[what]}"
    )


_EXPECTED = {
    "state": f"one of {', '.join(STATES)}",
    "options": "the JSON object of convert options this package wrote",
    "outcome": "a lead outcome row this package wrote (outcome, attempt, times)",
    "attempt": "a whole number from 1 (the attempt this package wrote)",
}


def _chunk(row: Any, leads: tuple[PlannedLead, ...], path: object = "ledger") -> Chunk:
    values = {k: row[k] for k in _CHUNK_COLUMNS}
    if values["state"] not in STATES:
        raise _damaged(path, "chunks", shown(values["chunk_id"], 20), "state", values["state"])
    try:
        values["options"] = ConvertOptions.from_dict(json.loads(values["options"]))
    except (ValueError, TypeError):
        raise _damaged(
            path, "chunks", shown(values["chunk_id"], 20), "options", row["options"]
        ) from None
    values["count_mismatch"] = bool(values["count_mismatch"])
    values["answer_date"] = plausible_time(values["answer_date"])  # a hostile one: unknown
    return Chunk(**values, leads=leads)


def _stored_outcome(row: Any, path: object = "ledger", chunk_id: int = 0) -> LeadOutcome:
    try:
        return _read_outcome(row)
    except (ValueError, TypeError):
        where = f"chunk {shown(chunk_id, 20)} lead {shown(row['lead_id'], 24)}"
        raise _damaged(path, "lead_outcomes", where, "outcome", row["outcome"]) from None


def _read_outcome(row: Any) -> LeadOutcome:
    """A ``lead_outcomes`` row; a ``converted_at`` that is not a plausible time (a ledger
    written before Converted_Date_Time was checked: year 1, 1e308, text) reads as
    unknown, a ``reason_attempt`` that is not a whole number from 1 to the row's
    ``attempt`` (text, 1.5, -5, huge) as the default of a ledger without the column."""
    values = {c: row[c] for c in LEAD_OUTCOME_COLUMNS}
    values["converted_at"] = plausible_time(values["converted_at"])
    told, attempt = values["reason_attempt"], values["attempt"]
    if not (_whole(told) and _whole(attempt) and 1 <= told <= attempt):
        values["reason_attempt"] = None  # unknown: the row's own attempt, as before the column
    return LeadOutcome(**values)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_DERIVED = {
    "intent": ("not_scheduled", "NOT_SENT", "not sent: the run ended before its POST"),
    "sending": ("unknown", "IN_FLIGHT", "its POST is in flight"),
    "scheduled": ("pending", None, "its job had not finished when the run stopped watching"),
    "unknown": ("unknown", None, "the POST's answer was lost: the leads are read back first"),
    "rejected": ("not_scheduled", None, "Zoho refused the POST"),
}


def outcome_of(chunk: Chunk, lead_id: str, stored: LeadOutcome | None) -> LeadOutcome:
    """A lead's row from its last chunk: what was recorded, else what the state says."""
    if stored is not None:
        return stored
    attempt = next((lead.attempt for lead in chunk.leads if lead.lead_id == lead_id), 1)
    outcome, code, reason = _DERIVED[chunk.state]
    if chunk.state in ("intent", "unknown", "rejected") and chunk.error_code:
        code = chunk.error_code
        reason = chunk.error_message or reason
    return LeadOutcome(
        org=chunk.org,
        dc=chunk.dc,
        lead_id=lead_id,
        job_id=chunk.job_id,
        attempt=attempt,
        outcome=outcome,
        error_code=code,
        reason=reason,
    )


def load_lead_outcomes(path: str | os.PathLike) -> pd.DataFrame:
    """The lead outcome table of every lead a store file's ledger holds (empty when the
    store has no ledger); the file is only read, except that a ledger written by an earlier
    version of the package gets the columns added since (``answer_date``,
    ``reason_attempt``: empty in its rows).

    Raises
    ------
    ConfigError
        The file does not exist or is not a store.
    """
    if not os.path.exists(path):
        raise ConfigError(f"store {str(path)!r} does not exist")
    with SnapshotStore(path) as store:
        found = store.query("SELECT name FROM sqlite_master WHERE type='table' AND name='chunks'")
        return Ledger(store).outcome_frame() if found else outcomes_frame([])
