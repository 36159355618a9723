"""The batch of jobs at the boundary: job ids checked before any call.

Jobs come as a list of ids, a dict ``{org: [ids]}``, a DataFrame or a CSV with ``job_id``
and ``org`` (or ``dc``) columns; :func:`clean_jobs` checks them against the configured
orgs (:mod:`zcrm_notebook.inputs.orgs`). Job ids stay text end to end (they exceed 2**53;
``docs/zoho-api.md``).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..auth.credentials import OrgCredentials
from ..errors import ConfigError, JobInputError
from ..redact import clean_text, shown

__all__ = ["Job", "clean_jobs", "read_jobs_csv"]

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"[0-9]{1,20}")  # ASCII only: "\d" would accept Arabic-Indic digits
_MAX_LISTED = 20


@dataclass(frozen=True, order=True)
class Job:
    """One job to watch: the org label it belongs to and its job id (text)."""

    org: str
    job_id: str


def _id_problem(value: object) -> tuple[str | None, str]:
    """(clean id, "") or (None, reason)."""
    if isinstance(value, bool):
        return None, "a boolean is not a job id"
    if isinstance(value, int) or type(value).__name__.startswith(("int", "uint")):
        text = str(int(value))  # type: ignore[call-overload]
        return (text, "") if value >= 0 else (None, "negative number")  # type: ignore[operator]
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        return None, "a float (a 19-digit id cannot be a float without rounding; pass text)"
    if value is None or (not isinstance(value, str) and _is_na(value)):
        return None, "empty"
    if not isinstance(value, str):
        return None, f"a {type(value).__name__}, expected text of digits"
    text = value.strip()
    if not text:
        return None, "empty"
    if not _JOB_ID.fullmatch(text):
        if text.isascii() and text.isdigit():
            return None, f"{len(text)} digits (at most 20)"
        return None, "not all digits (signs, decimals, exponents and spaces are refused)"
    return text, ""


def _is_na(value: object) -> bool:
    try:
        return bool(value != value)  # NaN, pd.NA raise or are unequal to themselves
    except TypeError:
        return True


def _pairs(jobs: object, orgs: Mapping[str, OrgCredentials], org: str | None):
    """Yield (org label, raw value) pairs from any accepted jobs form."""
    if hasattr(jobs, "columns"):  # a DataFrame (no pandas import needed here)
        yield from _frame_pairs(jobs, orgs, org)
    elif isinstance(jobs, (str, os.PathLike)) and not str(jobs).strip().isdigit():
        yield from _frame_pairs(read_jobs_csv(jobs), orgs, org)
    elif isinstance(jobs, Mapping):
        for key, ids in jobs.items():
            if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
                ids = [ids]
            for value in ids:
                yield str(key), value
    elif isinstance(jobs, Iterable) and not isinstance(jobs, (str, bytes)):
        label = org or _only_org(orgs)
        for value in jobs:
            yield label, value
    else:
        yield org or _only_org(orgs), jobs


def _only_org(orgs: Mapping[str, OrgCredentials]) -> str:
    if len(orgs) == 1:
        return next(iter(orgs))
    raise ConfigError(
        f"a plain list of job ids needs org=...: {len(orgs)} orgs are configured "
        f"({', '.join(orgs) or 'none'}); or pass {{org: [ids]}} or a table with an org column "
        "(command line: add an org column to the CSV or pass --org NAME)"
    )


def _frame_pairs(df, orgs: Mapping[str, OrgCredentials], org: str | None):
    cols = {str(c).strip().lower(): c for c in df.columns}
    if "job_id" not in cols:
        columns = shown([str(c) for c in df.columns], 120)
        raise JobInputError(f"jobs table has no job_id column (columns: {columns})")
    ids = df[cols["job_id"]].tolist()
    if "org" in cols and org is not None:
        raise ConfigError(
            f"org={shown(org)} (--org) conflicts with the table's org column; drop one"
        )
    if "org" in cols:
        labels = ["" if _is_na(v) else str(v).strip() for v in df[cols["org"]].tolist()]
        if "dc" in cols:
            labels = [_check_dc(orgs, lab, dc) for lab, dc in zip(labels, df[cols["dc"]].tolist())]
    elif "dc" in cols:
        by_dc = _orgs_by_dc(orgs)
        labels = [_org_for_dc(by_dc, v) for v in df[cols["dc"]].tolist()]
    else:
        labels = [org or _only_org(orgs)] * len(ids)
    yield from zip(labels, ids)


def _check_dc(orgs: Mapping[str, OrgCredentials], label: str, dc: object) -> str:
    """The org label, or a reason when the row's dc is not that org's data center."""
    code = "" if _is_na(dc) else str(dc).strip().lower()
    if label in orgs and code and code != orgs[label].dc:
        theirs = orgs[label].dc
        return f"<org {shown(label)} is in dc {theirs!r} but the row says dc {shown(code)}>"
    return label


def _org_for_dc(by_dc: dict[str, str], dc: object) -> str:
    code = "" if _is_na(dc) else str(dc).strip().lower()
    if code in by_dc:
        return by_dc[code]
    known = ", ".join(sorted(by_dc)) or "none"
    return f"<no org configured for dc {shown(code)} (configured DCs: {known})>"


def _orgs_by_dc(orgs: Mapping[str, OrgCredentials]) -> dict[str, str]:
    by_dc: dict[str, str] = {}
    for name, creds in orgs.items():
        by_dc[creds.dc] = name if creds.dc not in by_dc else f"<several orgs in dc {creds.dc}>"
    return by_dc


def read_jobs_csv(path: str | os.PathLike):
    """Read a jobs CSV with every column as text (ids are never parsed as numbers).

    Raises
    ------
    ConfigError
        If the file is missing or not a CSV.
    """
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise ConfigError(f"jobs file {shown(str(path))} does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        why = clean_text(str(exc), 160)
        raise ConfigError(f"jobs file {shown(str(path))} is not a readable CSV: {why}") from None


def clean_jobs(
    jobs: object, orgs: Mapping[str, OrgCredentials], *, org: str | None = None
) -> list[Job]:
    """Validate and normalise a batch of jobs before any call is made.

    Parameters
    ----------
    jobs : list of str, dict {org: [ids]}, DataFrame or CSV path
        Ids as text (or Python ints); a table needs ``job_id`` and ``org`` or ``dc``.
    orgs : mapping of org label -> OrgCredentials
    org : str, optional
        Org of a plain list of ids (needed when several orgs are configured).

    Returns
    -------
    list of Job
        In input order, whitespace stripped, duplicates (same org and id) dropped with a
        ``UserWarning`` that names them.

    Raises
    ------
    JobInputError
        Listing every offending row (1-based, value, reason): non-digit ids, signs,
        decimals, exponents, floats, empty cells, more than 20 digits, unknown orgs.
    """
    out: list[Job] = []
    seen: set[Job] = set()
    bad: list[tuple[int, object, str]] = []
    dups: list[tuple[int, str]] = []
    for row, (label, value) in enumerate(_pairs(jobs, orgs, org), start=1):
        job_id, reason = _id_problem(value)
        if label not in orgs:
            why = label[1:-1] if label.startswith("<") else f"unknown org {shown(label)}"
            reason = reason or f"{why} (configured orgs: {', '.join(orgs) or 'none'})"
        if reason:
            bad.append((row, value, reason))
            continue
        job = Job(label, job_id)  # type: ignore[arg-type]
        if job in seen:
            dups.append((row, job_id))  # type: ignore[arg-type]
            continue
        seen.add(job)
        out.append(job)
    if bad:
        raise JobInputError(_bad_rows_message(bad), bad)
    if not out:
        raise JobInputError("the jobs input has no job ids")
    if dups:
        listed = ", ".join(f"row {r}: {j}" for r, j in dups[:_MAX_LISTED])
        more = f" and {len(dups) - _MAX_LISTED} more" if len(dups) > _MAX_LISTED else ""
        warnings.warn(f"dropped {len(dups)} duplicate job ids ({listed}{more})", stacklevel=2)
    return out


def _bad_rows_message(bad: list[tuple[int, object, str]]) -> str:
    lines = [f"  row {r}: {shown(v)}: {why}" for r, v, why in bad[:_MAX_LISTED]]
    if len(bad) > _MAX_LISTED:
        lines.append(f"  ... and {len(bad) - _MAX_LISTED} more")
    noun = "row" if len(bad) == 1 else "rows"
    head = f"{len(bad)} bad {noun} in the jobs input (job ids must be text of 1-20 digits 0-9):"
    return head + "\n" + "\n".join(lines)
