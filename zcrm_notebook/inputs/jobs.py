"""The batch of jobs at the boundary: job ids checked before any call.

Jobs come as a list of ids, a dict ``{org: [ids]}``, a DataFrame or a CSV with ``job_id``
and ``org`` (or ``dc``) columns; :func:`clean_jobs` checks them against the configured
orgs (:mod:`zcrm_notebook.inputs.orgs`) with the id rules of
:mod:`zcrm_notebook.inputs.ids`. Job ids stay text end to end (they exceed 2**53;
``docs/zoho-api.md``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..auth.credentials import OrgCredentials
from .ids import clean_ids
from .tables import id_pairs, read_id_csv

__all__ = ["Job", "clean_jobs", "read_jobs_csv", "id_pairs"]


@dataclass(frozen=True, order=True)
class Job:
    """One job to watch: the org label it belongs to and its job id (text)."""

    org: str
    job_id: str


def read_jobs_csv(path: str | os.PathLike):
    """Read a jobs CSV with every column as text (see :func:`~.tables.read_id_csv`).

    Raises
    ------
    ConfigError
        If the file is missing or not a readable CSV.
    """
    return read_id_csv(path, "jobs")


def clean_jobs(
    jobs: object, orgs: Mapping[str, OrgCredentials], *, org: str | None = None
) -> list[Job]:
    """Validate and normalise a batch of jobs before any call is made.

    Parameters
    ----------
    jobs : list of str, dict {org: [ids]}, DataFrame or CSV path
        Ids as text (or Python ints); a table needs ``job_id`` and ``org`` or ``dc``. A CSV
        may be separated by ``,``, ``;``, tab or ``|`` and carry a byte-order mark.
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
        Listing every offending row (value, reason; ``line N`` of a CSV file, header =
        line 1, else ``row N`` from 1): non-digit ids, signs, decimals, exponents, floats,
        empty cells, more than 20 digits, a leading zero (``"0123"`` would be another job
        than ``"123"``: Zoho's ids have none), empty or unknown orgs.
    ConfigError
        For an unreadable CSV, or a plain list of ids with several orgs and no ``org``.
    """
    lines = None
    if isinstance(jobs, (str, os.PathLike)) and not str(jobs).strip().isdigit():
        table = read_jobs_csv(jobs)
        jobs, lines = table, table.attrs.get("lines")
    pairs = id_pairs(jobs, orgs, org)
    rows = clean_ids(pairs, orgs, noun="job", lines=lines, leading_zeros=False)
    return [Job(label, job_id) for _, label, job_id in rows]
