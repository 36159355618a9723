"""Parse and normalise a Mass Convert status answer into a :class:`JobStatus`.

Source: Zoho CRM API v5-v8 "Get Status of Mass Convert Lead"
(https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-status.html) and the
variants seen in the wild (``docs/zoho-api.md``): keys matched case-insensitively,
status case folded, space and underscore treated alike, ``RUNNING`` means in progress, any
other word is ``unknown``. Counts are kept as received (they need not add up) when they
are plausible: a whole number (JSON integer, or text of ASCII digits) from 0 to
:data:`MAX_PLAUSIBLE_COUNT`; anything else is a
:class:`~zcrm_notebook.errors.ResponseFormatError` naming the key. The status word is
kept as server text (secrets masked, control characters replaced, cut).
Pure functions: no I/O, no pandas.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ..errors import ResponseFormatError
from ..redact import clean_text, shown

__all__ = [
    "JobState",
    "JobStatus",
    "FINAL_STATES",
    "MAX_PLAUSIBLE_COUNT",
    "normalise_status",
    "parse_status",
]


class JobState(str, enum.Enum):
    """Normalised job status, in the order of the snapshot column's categories.

    ``error`` means *we* could not get a status (never the job's own ``failed``);
    ``unknown`` is a status word Zoho sent that we do not recognise.
    """

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED})

_WORDS = {
    "scheduled": JobState.SCHEDULED,
    "queued": JobState.SCHEDULED,
    "in_progress": JobState.IN_PROGRESS,
    "inprogress": JobState.IN_PROGRESS,
    "running": JobState.IN_PROGRESS,
    "completed": JobState.COMPLETED,
    "complete": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "failure": JobState.FAILED,
}

RAW_STATUS_LIMIT = 100  # characters of a status word kept

COUNT_KEYS = {
    "total_count": "total_count",
    "converted_count": "converted_count",
    "not_converted_count": "not_converted_count",
    "failed_count": "failed_count",
}


def normalise_status(word: object) -> JobState:
    """Map a Zoho status word to a :class:`JobState`.

    ``"COMPLETED"``, ``"Completed"``, ``"in progress"``, ``"IN_PROGRESS"``, ``"RUNNING"``,
    ``"Scheduled"`` all map to their state; anything else (including ``None``) to
    ``JobState.UNKNOWN``.
    """
    if not isinstance(word, str):
        return JobState.UNKNOWN
    key = "_".join(word.strip().lower().replace("-", " ").replace("_", " ").split())
    return _WORDS.get(key, JobState.UNKNOWN)


#: Largest lead count believed: 200 times the 50 leads a mass-convert job can hold (Zoho
#: CRM "Mass Convert Lead", https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-lead.html).
MAX_PLAUSIBLE_COUNT = 10_000


def _count(value: Any, key: str) -> int | None:
    """A count of the answer: None, or an int in 0..MAX_PLAUSIBLE_COUNT.

    A JSON integer (not a boolean) or text of ASCII digits; floats (even ``3.0``),
    negative or larger numbers, other digits, lists and objects are refused.
    """
    if value is None:
        return None
    number: int | None = None
    if type(value) is int:
        number = value
    elif isinstance(value, str) and len(value) <= 16:
        text = value.strip()
        if text.isascii() and text.isdigit():
            number = int(text)
    if number is None or not 0 <= number <= MAX_PLAUSIBLE_COUNT:
        raise ResponseFormatError(
            f"count {key!r} = {shown(value, 40)} is not a whole number from 0 to "
            f"{MAX_PLAUSIBLE_COUNT:,}"
        )
    return number


@dataclass(frozen=True)
class JobStatus:
    """One parsed status answer for one job.

    Attributes
    ----------
    job_id : str
        The 19-digit job id, as text.
    status : JobState
        Normalised status.
    raw_status : str or None
        The status word as Zoho sent it (secrets masked, control characters replaced by
        spaces, at most 100 characters).
    total_count, converted_count, not_converted_count, failed_count : int or None
        Zoho's counts, ``None`` when absent. ``not_converted_count`` is pending leads.
    """

    job_id: str
    status: JobState
    raw_status: str | None
    total_count: int | None = None
    converted_count: int | None = None
    not_converted_count: int | None = None
    failed_count: int | None = None

    @property
    def is_final(self) -> bool:
        """True for ``completed`` and ``failed``: the job is not polled again."""
        return self.status in FINAL_STATES

    @property
    def counts(self) -> tuple[int | None, int | None, int | None, int | None]:
        """(total, converted, not_converted, failed)."""
        return (
            self.total_count,
            self.converted_count,
            self.not_converted_count,
            self.failed_count,
        )


def parse_status(job_id: str, payload: Any) -> JobStatus:
    """Turn a decoded success answer ``{"data": [{...}]}`` into a :class:`JobStatus`.

    Parameters
    ----------
    job_id : str
        The job id that was asked for.
    payload : object
        The decoded JSON body.

    Returns
    -------
    JobStatus

    Raises
    ------
    ResponseFormatError
        If the body is not an object with a non-empty ``data`` list of objects, or a count
        is not a whole number from 0 to :data:`MAX_PLAUSIBLE_COUNT`.
    """
    if not isinstance(payload, dict):
        raise ResponseFormatError(f"status answer is a {type(payload).__name__}, not an object")
    lower = {str(k).lower(): v for k, v in payload.items()}
    data = lower.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise ResponseFormatError("status answer has no 'data' list with an object")
    item = {str(k).lower(): v for k, v in data[0].items()}
    raw = item.get("status")
    counts = {field: _count(item.get(key), key) for key, field in COUNT_KEYS.items()}
    return JobStatus(
        job_id=job_id,
        status=normalise_status(raw),
        raw_status=None if raw is None else clean_text(raw, RAW_STATUS_LIMIT),
        **counts,
    )
