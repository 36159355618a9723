"""Zoho record ids (job ids, lead ids) at the boundary: text of ASCII digits, never numbers.

Zoho's ids are 19-digit numbers, above 2**53: a float (or a spreadsheet) rounds them, so
they stay text end to end (``docs/zoho-api.md``). :func:`clean_ids` checks a batch of
``(org label, raw id)`` pairs against the configured orgs, strips whitespace, drops
duplicates with one warning, and refuses everything else with one error listing the rows.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping

from ..errors import JobInputError
from ..redact import shown
from .tables import is_na

__all__ = ["id_problem", "clean_ids", "bad_rows_message", "MAX_LISTED"]

_ID = re.compile(r"[0-9]{1,20}")  # ASCII only: "\d" would accept Arabic-Indic digits
#: A number as a spreadsheet shows a long id it took for a number: ``1.88207E+18``.
_SCIENTIFIC = re.compile(r"[0-9]+(?:[.,][0-9]+)?[eE]\+?[0-9]+")
#: Rows listed at most in an error or warning (the count of the rest is given).
MAX_LISTED = 20


def id_problem(value: object) -> tuple[str | None, str]:
    """``(clean id, "")`` for a usable id, or ``(None, reason)``.

    Accepted: text of 1-20 ASCII digits (surrounding whitespace stripped) and
    non-negative Python or NumPy integers. Refused: empty cells, floats (even whole:
    the id may already be rounded), signs, decimals, exponents, other digits, booleans.
    """
    if isinstance(value, bool):
        return None, "a boolean is not an id"
    if isinstance(value, int) or type(value).__name__.startswith(("int", "uint")):
        text = str(int(value))  # type: ignore[call-overload]
        return (text, "") if value >= 0 else (None, "negative number")  # type: ignore[operator]
    if is_na(value):
        return None, "empty"
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        return None, "a float (a 19-digit id cannot be a float without rounding; pass text)"
    if not isinstance(value, str):
        return None, f"a {type(value).__name__}, expected text of digits"
    text = value.strip()
    if not text:
        return None, "empty"
    if not _ID.fullmatch(text):
        if text.isascii() and text.isdigit():
            return None, f"{len(text)} digits (at most 20)"
        if _SCIENTIFIC.fullmatch(text):
            return None, (
                "scientific notation: a spreadsheet (Excel) turned the id into a number "
                "and rounded it; keep the ids as text"
            )
        return None, "not all digits (signs, decimals, exponents and spaces are refused)"
    return text, ""


def clean_ids(
    pairs: Iterable[tuple[str, object]],
    orgs: Mapping[str, object],
    *,
    noun: str = "job",
    error: type[JobInputError] = JobInputError,
    lines: list[int] | None = None,
    leading_zeros: bool = True,
) -> list[tuple[int, str, str]]:
    """Check ``(org label, raw id)`` pairs; return ``(row, org, id)`` for the good ones.

    Parameters
    ----------
    pairs : iterable of (str, object)
        Org label and raw id, in input order (rows are numbered from 1). A label
        ``"<reason>"`` marks a row whose org could not be told (the reason is reported).
    orgs : mapping
        The configured orgs (only the labels are used).
    noun : str, default ``"job"``
        ``"job"`` or ``"lead"``, for messages.
    error : JobInputError subclass
        The exception raised for bad rows.
    lines : list of int, optional
        The file line of each pair (a CSV: header = line 1): messages and the error's
        ``rows`` then name ``line N``, the number a spreadsheet shows, not ``row N``.
    leading_zeros : bool, default True
        False: an id of 2 or more digits starting with 0 is refused (Zoho's record ids
        have none; ``"0123"`` and ``"123"`` would be two ids for one record).

    Returns
    -------
    list of (int, str, str)
        Row number, org label and id, in input order; duplicates (same org and id) dropped
        with one ``UserWarning`` naming them.

    Raises
    ------
    JobInputError (or ``error``)
        Listing every offending row (line or row number, value, reason), or when there is
        no id at all.
    """
    where = _where(lines)
    out: list[tuple[int, str, str]] = []
    seen: set[tuple[str, str]] = set()
    bad: list[tuple[int, object, str]] = []
    dups: list[tuple[int, str]] = []
    bad_ids = 0  # rows refused for their id (else for their org): the head line's rule
    for row, (label, value) in enumerate(pairs, start=1):
        clean, reason = id_problem(value)
        if not leading_zeros and clean is not None and len(clean) > 1 and clean[0] == "0":
            clean, reason = None, "a leading zero (Zoho's ids have none)"
        bad_ids += bool(reason) or clean is None
        if label not in orgs:
            why = _org_problem(label)
            reason = reason or f"{why} (configured orgs: {', '.join(orgs) or 'none'})"
        if reason or clean is None:
            bad.append((where(row), value, reason))
        elif (label, clean) in seen:
            dups.append((where(row), clean))
        else:
            seen.add((label, clean))
            out.append((row, label, clean))
    unit = "line" if lines else "row"
    if bad:
        rules = [f"{noun} ids must be text of 1-20 digits 0-9"] if bad_ids else []
        if bad_ids and not leading_zeros:
            rules[0] += " without a leading zero"
        if bad_ids < len(bad):  # a row with a good id and no configured org (or dc)
            rules.append(f"every {noun} needs a configured org, or the data center of one")
        raise error(bad_rows_message(bad, noun, "; ".join(rules), unit=unit), bad)
    if not out:
        raise error(f"the {noun}s input has no {noun} ids")
    if dups:
        listed = ", ".join(f"{unit} {r}: {i}" for r, i in dups[:MAX_LISTED])
        more = f" and {len(dups) - MAX_LISTED} more" if len(dups) > MAX_LISTED else ""
        warnings.warn(f"dropped {len(dups)} duplicate {noun} ids ({listed}{more})", stacklevel=3)
    return out


def _where(lines: list[int] | None):
    """Row position (1-based) -> the number shown: its file line, else the position."""
    return (lambda row: lines[row - 1]) if lines else (lambda row: row)


def _org_problem(label: str) -> str:
    """Why ``label`` (not a configured org) is no org: a reason given as ``"<reason>"``."""
    if label.startswith("<") and label.endswith(">"):
        return label[1:-1]
    return "empty org" if not label else f"unknown org {shown(label)}"


def bad_rows_message(
    bad: list[tuple[int, object, str]],
    noun: str = "job",
    rule: str | None = None,
    *,
    unit: str = "row",
) -> str:
    """The error text for bad rows: a head line (with ``rule``, default the id rule), then
    one line per row (at most 20), each ``{unit} N`` (``"line"`` for a file's lines)."""
    lines = [f"  {unit} {r}: {shown(v, 40)}: {why}" for r, v, why in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        lines.append(f"  ... and {len(bad) - MAX_LISTED} more")
    rows = "row" if len(bad) == 1 else "rows"
    rule = rule or f"{noun} ids must be text of 1-20 digits 0-9"
    head = f"{len(bad)} bad {rows} in the {noun}s input ({rule}):"
    return head + "\n" + "\n".join(lines)
