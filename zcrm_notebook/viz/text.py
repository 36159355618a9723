"""The words of the figures and the dashboard: plurals and what a job is made of.

A mass-convert job converts *leads*; every label that names them (axis labels, notes,
the dashboard's progress texts) takes the noun from :data:`UNIT` here, so another job
kind (the inventory conversions of quotes or sales orders) changes one word. No
matplotlib here: the command line uses :func:`plural` too.
"""

from __future__ import annotations

__all__ = [
    "UNIT",
    "UNITS",
    "JOB_TOTALS",
    "ATTEMPTS",
    "count_nouns",
    "STATUS_WORDS",
    "plural",
    "status_word",
    "lead_counts_text",
    "not_final_text",
    "jobs_text",
]

#: What one job converts, singular and plural.
UNIT = "lead"
UNITS = "leads"

#: What the job-level counts of a conversion are (Zoho's counts per job, summed): a lead
#: retried is in each of its jobs, so they can exceed the leads; lead views count it once.
JOB_TOTALS = "job totals (a retried lead counts once per job)"
#: What a job-level count counts when a conversion's leads are shown beside it.
ATTEMPTS = f"{UNIT} attempts"


def count_nouns(job_totals: bool) -> tuple[str, str, str]:
    """(singular, plural, title suffix) of the lead counts of a figure: ``("lead", "leads",
    "")``, or for job totals of a conversion whose leads are shown too
    ``("lead attempt", "lead attempts", " (job totals)")``."""
    if job_totals:
        return f"{UNIT} attempt", ATTEMPTS, " (job totals)"
    return UNIT, UNITS, ""


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


def lead_counts_text(leads) -> str:
    """``"240 leads (each lead's last attempt): 216 converted, 24 not converted"``
    (HTML-safe) of a lead outcome table (a pandas DataFrame), each lead counted once by
    :func:`~zcrm_notebook.convert.outcomes.latest_attempts`."""
    from ..convert.outcomes import latest_attempts  # pandas: only when counting leads

    once = latest_attempts(leads)
    counts = once["outcome"].astype(str).value_counts()
    parts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in counts.items() if n)
    return f"{plural(len(once), UNIT)} (each {UNIT}'s last attempt): {parts or 'none'}"


def jobs_text(n_jobs: int, n_no_status: int = 0) -> str:
    """``"36 jobs (+1 with no status)"``: a count of jobs that does not count a job id we got
    no status for (every poll an ``error`` row, e.g. an id Zoho does not know) as a job;
    ``n_jobs`` counts every job id, ``n_no_status`` those without a status.
    ``"37 jobs"`` when every job has a status."""
    n_no_status = int(n_no_status)
    jobs = plural(int(n_jobs) - n_no_status, "job")
    return f"{jobs} (+{n_no_status:,} with no status)" if n_no_status else jobs


def not_final_text(jobs) -> str:
    """``"29 jobs not final when the run ended"``: the jobs of a
    :func:`~zcrm_notebook.analysis.summary.summarize_jobs` table (a pandas DataFrame) whose
    latest status says Zoho was still on them (scheduled, in progress: a partial run, their
    pending leads are not failed); ``""`` when there is none. A job we got no status for
    (``error``, e.g. a job id Zoho does not know) is not counted: it has no leads pending."""
    n = int(jobs["status"].astype(str).isin(["scheduled", "in_progress"]).sum())
    return f"{plural(n, 'job')} not final when the run ended" if n else ""
