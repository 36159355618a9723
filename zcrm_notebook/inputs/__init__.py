"""What the user gives: org configuration (TOML, environment, token store), job ids, leads.

The only place that reads org tables, job input and leads to convert: it turns them into
:class:`~zcrm_notebook.auth.OrgCredentials`, :class:`Job` values and the clean lead frame of
:func:`clean_leads`, refusing bad input with one error before any call. It may import
:mod:`zcrm_notebook.auth`, :mod:`zcrm_notebook.api`, ``errors`` (and pandas, for CSV
tables, when used).
"""

from .jobs import Job, clean_jobs, read_jobs_csv
from .leads import clean_leads, read_leads_csv
from .orgs import load_orgs, orgs_from_env, orgs_from_toml

__all__ = [
    "Job",
    "load_orgs",
    "orgs_from_env",
    "orgs_from_toml",
    "clean_jobs",
    "read_jobs_csv",
    "clean_leads",
    "read_leads_csv",
]
