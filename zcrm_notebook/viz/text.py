"""The words of the figures and the dashboard: plurals and what a job is made of.

A mass-convert job converts *leads*; every label that names them (axis labels, notes,
the dashboard's progress texts) takes the noun from :data:`UNIT` here, so another job
kind (the inventory conversions of quotes or sales orders) changes one word. No
matplotlib here: the command line uses :func:`plural` too.
"""

from __future__ import annotations

__all__ = ["UNIT", "UNITS", "plural"]

#: What one job converts, singular and plural.
UNIT = "lead"
UNITS = "leads"


def plural(n: int, noun: str) -> str:
    """``"1 job"``, ``"2 jobs"``, ``"1,234 snapshots"`` (English ``-s`` plural)."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
