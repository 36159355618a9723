"""Watching the scheduled jobs: the poll engine on the ledger's job ids, same store.

The jobs a conversion scheduled are polled by :class:`~zcrm_notebook.poll.Poller` like any
other batch: the same snapshots in the same store (a rerun resumes them; the dashboard and
the report read them), the same adaptive schedule and limits. :func:`watch_chunks` returns,
per job, its last snapshot and whether it is done: final (completed, failed) or given up as
unknown to Zoho (``poll/resume.py``); either way its leads can be read back.
"""

from __future__ import annotations

from dataclasses import replace

from ..poll.poller import Poller
from ..poll.resume import finished_jobs
from ..snapshots.schema import Snapshot
from .ledger import Chunk
from .session import Session

__all__ = ["watch_chunks", "last_snapshots"]


def last_snapshots(snaps: list[Snapshot]) -> dict[str, Snapshot]:
    """Job id -> its last snapshot that has a status (an ``error`` row does not count)."""
    last: dict[str, Snapshot] = {}
    for s in snaps:
        if s.error_code is None:
            last[s.job_id] = s
    return last


def watch_chunks(
    session: Session, chunks: list[Chunk], *, progress: bool = False, on_snapshot=None
) -> tuple[set[str], dict[str, Snapshot]]:
    """Poll the jobs of ``chunks`` until each is done, the deadline passes or the run stops.

    Returns
    -------
    done : set of str
        Job ids that are final or given up (their leads can be read back).
    last : dict of str to Snapshot
        Job id -> its last status snapshot (store history included).
    """
    jobs: dict[str, list[str]] = {}
    for c in chunks:
        if c.job_id:
            jobs.setdefault(c.org, []).append(c.job_id)
    if not jobs:
        return set(), {}
    left = session.time_left()
    policy = replace(session.policy, deadline_s=left) if left else session.policy
    poller = Poller(
        jobs,
        {org: session.orgs[org] for org in jobs},
        policy=policy,
        store=session.store,
        clock=session.clock,
        sleep=session.sleep,  # type: ignore[arg-type]
        progress=progress,
        on_snapshot=on_snapshot,
    )
    session.watchers.append(poller)
    try:
        snaps = poller.all_snapshots if session.over() else poller.run_snapshots()
        if poller.stopped_reason == "interrupted":  # Ctrl-C / SIGTERM while polling
            session.signal = poller.stop_signal
            session.note("stopped while watching: run the same command to resume")
            session.request_stop()
    finally:
        session.watchers.remove(poller)
        session.runner.calls.update(
            {(row.org, "status"): int(row.requests) for row in poller.org_stats().itertuples()}
        )
    confirmations = session.policy.not_found_confirmations
    done = {job.job_id for job in finished_jobs(snaps, confirmations)}
    return done, last_snapshots(snaps)
