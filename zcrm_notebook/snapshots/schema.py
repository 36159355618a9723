"""The snapshot row, declared once: the answer (or failure) of one poll of one job.

:class:`Snapshot` is the single declaration of the snapshot table. Each field carries its
column *kind* and its meaning (``column(kind, doc)``); everything else is derived from
that, by kind, never by listing the columns again: the DataFrame dtypes
(:data:`zcrm_notebook.snapshots.frame.SNAPSHOT_DTYPES`), the CSV read dtypes
(:mod:`zcrm_notebook.snapshots.csvfile`), the SQLite table, insert and select
(:mod:`zcrm_notebook.snapshots.store`) and the column list of report bundles. Adding a
field is one line in :class:`Snapshot` (plus its tests); rows are read back by name.

Kinds: ``time`` (float seconds since the epoch; a UTC timestamp in frames and CSVs),
``text``, ``status`` (a :class:`~zcrm_notebook.api.status.JobState`), ``count`` (one of
Zoho's lead counts, int or None), ``int`` (int or None), ``float``, ``category`` (text from
the field's fixed ``categories``, an ordered category in frames). A field whose default
is ``None`` may be missing; the others are always set. Other tables of the package declare
their rows the same way (the lead outcome row of :mod:`zcrm_notebook.convert.outcomes`).
Pure Python, no pandas: the poll engine builds rows without importing it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..api.status import FINAL_STATES, JobState, JobStatus
from ..errors import ResponseFormatError
from ..redact import shown

__all__ = [
    "Snapshot",
    "SNAPSHOT_COLUMNS",
    "COLUMN_KINDS",
    "COLUMN_DOCS",
    "COUNT_COLUMNS",
    "TEXT_COLUMNS",
    "STATUS_CATEGORIES",
    "JOB_KEYS",
    "KINDS",
    "column",
    "columns_of_kind",
    "is_required",
    "Columns",
]

TIME, TEXT, STATUS, COUNT, INT, FLOAT = "time", "text", "status", "count", "int", "float"
CATEGORY = "category"
#: Largest value of a ``count`` or ``int`` column (int64: pandas Int64, SQLite INTEGER).
INT64_MAX = 2**63 - 1
KINDS = (TIME, TEXT, STATUS, COUNT, INT, FLOAT, CATEGORY)


def column(
    kind: str, doc: str, default: Any = dataclasses.MISSING, *, categories: tuple[str, ...] = ()
) -> Any:
    """A row field of column ``kind`` (one of :data:`KINDS`) meaning ``doc``; a
    ``category`` column names its ``categories`` in order."""
    if kind not in KINDS:
        raise ValueError(f"unknown column kind {kind!r}; expected one of {KINDS}")
    if (kind == CATEGORY) != bool(categories):
        raise ValueError("a category column, and only it, needs its categories")
    meta = {"kind": kind, "doc": doc, "categories": tuple(categories)}
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class Columns:
    """What a row class declared with :func:`column` says of its table (derived once).

    Attributes
    ----------
    names : list of str
        Column names, in order.
    kinds, docs : dict of str to str
        Column name -> kind / meaning.
    categories : dict of str to tuple of str
        Column name -> categories, for ``category`` columns.
    required : dict of str to bool
        Column name -> True when always set (its default is not ``None``).
    """

    names: list[str]
    kinds: dict[str, str]
    docs: dict[str, str]
    categories: dict[str, tuple[str, ...]]
    required: dict[str, bool]

    @classmethod
    def of(cls, row_class: type) -> Columns:
        """The columns of a dataclass whose fields come from :func:`column`."""
        fields = dataclasses.fields(row_class)
        return cls(
            names=[f.name for f in fields],
            kinds={f.name: f.metadata["kind"] for f in fields},
            docs={f.name: f.metadata["doc"] for f in fields},
            categories={
                f.name: f.metadata["categories"] for f in fields if f.metadata["categories"]
            },
            required={f.name: f.default is not None for f in fields},
        )

    def of_kind(self, *kinds: str) -> list[str]:
        """The columns whose kind is one of ``kinds``, in column order."""
        return [name for name, kind in self.kinds.items() if kind in kinds]


@dataclass(frozen=True)
class Snapshot:
    """One row of the snapshot table: the answer (or failure) of one poll of one job.

    Plain Python values, one attribute per column of :data:`SNAPSHOT_COLUMNS` (their
    meanings are in :data:`COLUMN_DOCS`): ``polled_at`` is float seconds since the Unix
    epoch (UTC), ``status`` a :class:`~zcrm_notebook.api.status.JobState`
    (``JobState.ERROR`` when we could not get one), counts and ``http_status`` int or
    None, ``latency_s`` seconds (all retries included). ``error_message`` never holds a
    token. :func:`zcrm_notebook.snapshots.frame.to_frame` turns many of them into a
    DataFrame.
    """

    polled_at: float = column(TIME, "when the answer arrived (ISO-8601 UTC)")
    org: str = column(TEXT, "org label of the credentials")
    dc: str = column(TEXT, "data-center code")
    job_id: str = column(TEXT, "19-digit job id (text)")
    status: JobState = column(
        STATUS, "scheduled, in_progress, completed, failed, unknown, or error (no status)"
    )
    raw_status: str | None = column(TEXT, "status word exactly as Zoho sent it", None)
    total_count: int | None = column(COUNT, "leads in the job", None)
    converted_count: int | None = column(COUNT, "leads converted", None)
    not_converted_count: int | None = column(COUNT, "leads not converted yet (pending)", None)
    failed_count: int | None = column(COUNT, "leads failed", None)
    http_status: int | None = column(
        INT, "HTTP status of the answer (empty for transport failures)", None
    )
    error_code: str | None = column(
        TEXT, "Zoho code or transport error name (empty on success)", None
    )
    error_message: str | None = column(TEXT, "human text of the error", None)
    latency_s: float = column(FLOAT, "request round trip, seconds (rounded to 0.1 ms)", 0.0)

    @classmethod
    def from_status(
        cls,
        st: JobStatus,
        *,
        polled_at: float,
        org: str,
        dc: str,
        http_status: int | None,
        latency_s: float,
    ) -> Snapshot:
        """A success row from a parsed :class:`~zcrm_notebook.api.status.JobStatus`.

        Raises
        ------
        ResponseFormatError
            A count that is not None or an int of 0 .. 2**63 - 1 (no row column can hold
            it; :func:`~zcrm_notebook.api.status.parse_status` never gives one).
        """
        counts = {name: getattr(st, name) for name in COUNT_COLUMNS}
        for name, value in counts.items():
            if value is not None and not (type(value) is int and 0 <= value <= INT64_MAX):
                raise ResponseFormatError(
                    f"job {st.job_id}: {name} = {shown(value, 40)} does not fit a snapshot row"
                )
        return cls(
            polled_at=polled_at,
            org=org,
            dc=dc,
            job_id=st.job_id,
            status=st.status,
            raw_status=st.raw_status,
            http_status=http_status,
            latency_s=latency_s,
            **counts,
        )

    @property
    def is_final(self) -> bool:
        """True when the job reached ``completed`` or ``failed``."""
        return self.status in FINAL_STATES


_COLUMNS = Columns.of(Snapshot)

#: Column names, in order.
SNAPSHOT_COLUMNS: list[str] = _COLUMNS.names
#: Column name -> kind (one of :data:`KINDS`).
COLUMN_KINDS: dict[str, str] = _COLUMNS.kinds
#: Column name -> meaning (with units).
COLUMN_DOCS: dict[str, str] = _COLUMNS.docs
#: The columns of job identity: a job is one (org, dc, job_id).
JOB_KEYS: list[str] = ["org", "dc", "job_id"]
#: Status values in the order of the ordered status category.
STATUS_CATEGORIES: list[str] = [s.value for s in JobState]


def columns_of_kind(*kinds: str) -> list[str]:
    """The snapshot columns whose kind is one of ``kinds``, in column order."""
    return _COLUMNS.of_kind(*kinds)


def is_required(name: str) -> bool:
    """True for a snapshot column that is always set (its field's default is not ``None``)."""
    return _COLUMNS.required[name]


#: Zoho's lead counts (same names in :class:`~zcrm_notebook.api.status.JobStatus`).
COUNT_COLUMNS: list[str] = columns_of_kind(COUNT)
#: The text columns.
TEXT_COLUMNS: list[str] = columns_of_kind(TEXT)
