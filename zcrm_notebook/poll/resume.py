"""Resuming a poll run from its snapshot journal: the jobs a previous run finished.

A :class:`~zcrm_notebook.poll.Poller` given a store that already holds snapshots keeps
them as history and polls only the jobs a previous run did not finish: those without a
final status (completed/failed) and not given up as unknown or expired (see
``PollPolicy.not_found_confirmations``).
"""

from __future__ import annotations

from ..inputs.jobs import Job
from ..snapshots.schema import Snapshot

__all__ = ["NOT_FOUND_CODES", "finished_jobs"]

#: Error codes of a job id Zoho does not know (any more): unknown, expired or malformed.
NOT_FOUND_CODES = frozenset({"INVALID_DATA", "NO_CONTENT", "NOT_FOUND", "INVALID_URL_PATTERN"})


def finished_jobs(history: list[Snapshot], confirmations: int) -> set[Job]:
    """Jobs a previous run finished: a final status, or given up as unknown/expired."""
    done = {Job(s.org, s.job_id) for s in history if s.is_final}
    streak: dict[Job, int] = {}
    for s in history:
        job = Job(s.org, s.job_id)
        streak[job] = streak.get(job, 0) + 1 if s.error_code in NOT_FOUND_CODES else 0
    return done | {job for job, n in streak.items() if n >= confirmations}
