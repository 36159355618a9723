"""The words of the figures and the dashboard: plurals and what a job is made of.

A mass-convert job converts *leads*; every label that names them (axis labels, notes,
the dashboard's progress texts) takes the noun from :data:`UNIT` here, so another job
kind (the inventory conversions of quotes or sales orders) changes one word. No
matplotlib here: the command line uses :func:`plural` too.
"""

from __future__ import annotations

__all__ = ["UNIT", "UNITS", "STATUS_WORDS", "plural", "status_word"]

#: What one job converts, singular and plural.
UNIT = "lead"
UNITS = "leads"

#: How a status of the snapshot table reads in legends, chips and tables (the frame
#: keeps the raw category): ``error`` is a row where *we* got no status.
STATUS_WORDS: dict[str, str] = {
    "scheduled": "scheduled",
    "in_progress": "in progress",
    "completed": "completed",
    "failed": "failed",
    "unknown": "unknown status",
    "error": "no status",
}


def plural(n: int, noun: str) -> str:
    """``"1 job"``, ``"2 jobs"``, ``"1,234 snapshots"`` (English ``-s`` plural)."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def status_word(status: object) -> str:
    """Human words of a status category (``"in_progress"`` -> ``"in progress"``); an
    unlisted value reads with its underscores as spaces."""
    text = str(status)
    return STATUS_WORDS.get(text, text.replace("_", " "))
