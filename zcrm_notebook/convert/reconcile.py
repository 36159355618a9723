"""Reading leads back: the outcome of each lead of a finished job, and of a lost POST.

Zoho's status call gives counts only; the leads themselves say what became of them (Get
Records with ``converted=both``, 100 ids a call, per org: ``docs/zoho-api.md``, "Get
Records on Leads"). :func:`reconcile_finished` turns a finished job's leads into lead
outcomes (``converted`` with the new ids, ``already_converted`` when Zoho converted the
lead before the job was made, ``not_converted``, ``deleted``, or ``unknown`` when reading
failed) and checks them against the job's last ``Converted_Count``.
:func:`recover_unknown` handles chunks whose POST answer was lost (the rule of
``docs/zoho-api.md`` for ``outcome_unknown``): their converted leads are ``converted``; the
others are planned again only once ``settle_s`` has passed since the POST, never before.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timezone

import pandas as pd

from ..api.answers import plausible_time
from ..api.conversion import MAX_IDS_PER_READ, LeadRecord
from ..auth.credentials import OrgCredentials
from ..client import CallAnswer, ZohoClient
from ..errors import ZcrmError
from ..poll.policy import PollPolicy
from ..poll.resume import finished_jobs
from ..snapshots.schema import Snapshot
from .calls import Task
from .ledger import Chunk
from .outcomes import LeadOutcome
from .plan import PlannedChunk, PlannedLead, chunk_leads
from .session import SETTLE_S, Key, Session, open_session
from .watch import last_snapshots

__all__ = [
    "reconcile_conversions",
    "read_back",
    "outcome_of_record",
    "reconcile_finished",
    "recover_unknown",
    "LOST_JOB",
    "DELETED",
    "converted_before",
    "earlier_leads",
    "UNCOUNTED_MARGIN_S",
]

#: ``reason`` of a lead converted by a job whose POST answer was lost.
LOST_JOB = "converted by a job whose POST answer was lost"
#: ``reason`` of a lead Get Records no longer has.
DELETED = "absent from Get Records with converted=both (deleted, or not visible to this user)"
Read = LeadRecord | ZcrmError | None  # None: Zoho does not have the lead


def read_back(session: Session, keys: Iterable[Key]) -> dict[Key, Read]:
    """Read leads back, converted or not: 100 ids a call, per org, within its limits.

    Returns
    -------
    dict of (org, lead id) -> LeadRecord, None or ZcrmError
        The lead's record; None when Zoho does not have it (absent even with
        ``converted=both``); the error when reading it failed after the retries (or the run
        stopped first).
    """
    by_org: dict[str, list[str]] = {}
    for org, lead in dict.fromkeys(keys):
        by_org.setdefault(org, []).append(lead)
    tasks = [
        Task(org, "records", _reader(part), key=part)
        for org, ids in by_org.items()
        for part in (ids[i : i + MAX_IDS_PER_READ] for i in range(0, len(ids), MAX_IDS_PER_READ))
    ]
    out: dict[Key, Read] = {}

    def on_answer(task: Task, answer: CallAnswer) -> None:
        found = {r.lead_id: r for r in answer.value}
        out.update({(task.org, lead): found.get(lead) for lead in task.key})

    def on_error(task: Task, exc: ZcrmError, action: str, sent: bool) -> None:
        out.update({(task.org, lead): exc for lead in task.key})

    for task in session.runner.run(tasks, on_answer, on_error):
        stopped = ZcrmError("the run stopped before reading it back", code="NOT_READ")
        on_error(task, stopped, "retry", False)
    return out


def _reader(lead_ids: list[str]) -> Callable[[ZohoClient], CallAnswer]:
    return lambda client: client.get_leads(lead_ids)


#: Seconds a lead's ``Converted_Date_Time`` must precede its job's POST (Zoho's clock) to be
#: ``already_converted`` when the job's ``Converted_Count`` is not known: Zoho's ``Date``
#: and its record times may be seconds apart, a rerun minutes later.
UNCOUNTED_MARGIN_S = 60.0


def converted_before(chunk: Chunk, read: LeadRecord, margin_s: float = 1.0) -> bool:
    """True when Zoho converted the lead before the chunk's job was made.

    Both times are Zoho's: the lead's ``Converted_Date_Time`` (whole seconds, so the
    conversion was within the second after it) is at least ``margin_s`` before
    :attr:`Chunk.posted_at_zoho` (the POST answer's ``Date`` less its round trip: the job
    was made no earlier). False when a time is missing (a ledger written before the
    answer's ``Date`` was kept, a server that sends none): the lead is then credited to
    the job as before, and a count mismatch still says so.
    """
    made = chunk.posted_at_zoho
    at = read.converted_at
    return read.converted and made is not None and at is not None and at + margin_s <= made


def earlier_leads(chunk: Chunk, reads: Iterable[Read], expected: int | None) -> set[str]:
    """The lead ids of ``chunk`` Zoho converted before its job was made (not by the job).

    The job's own count decides first: when its last ``Converted_Count`` (``expected``)
    covers the leads read back converted, they are all the job's (Zoho's ``Date`` may be
    seconds ahead of its record clock). Only when more read back converted than the job
    converted are the excess taken, earliest first, among those :func:`converted_before`
    the job. Without the count, a lead must precede the job by
    :data:`UNCOUNTED_MARGIN_S`.
    """
    converted = [r for r in reads if isinstance(r, LeadRecord) and r.converted]
    if expected is None:
        return {r.lead_id for r in converted if converted_before(chunk, r, UNCOUNTED_MARGIN_S)}
    excess = len(converted) - expected
    before = sorted(
        (r for r in converted if converted_before(chunk, r)), key=lambda r: r.converted_at or 0.0
    )
    return {r.lead_id for r in before[: max(0, excess)]}


def _utc(t: object) -> str:
    """``t`` (seconds since the epoch) as ``YYYY-MM-DD HH:MM:SSZ``; ``an unknown time`` for
    a value outside :func:`~zcrm_notebook.api.answers.plausible_time`'s window (never
    raises)."""
    at = plausible_time(t)
    if at is None:
        return "an unknown time"
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def outcome_of_record(
    chunk: Chunk,
    lead: PlannedLead,
    read: Read,
    *,
    job_id: str | None,
    reason: str | None = None,
    earlier: bool | None = None,
) -> LeadOutcome:
    """A lead's outcome from what reading it back said (``reason`` of a converted lead);
    ``already_converted`` when converted ``earlier`` than the job of ``job_id`` (default:
    :func:`converted_before` it by :data:`UNCOUNTED_MARGIN_S`; see :func:`earlier_leads`)."""
    base = LeadOutcome(chunk.org, chunk.dc, lead.lead_id, job_id, lead.attempt)
    if isinstance(read, ZcrmError):
        why = f"reading it back failed: {read}"
        return replace(base, outcome="unknown", error_code=read.code, reason=why)
    if read is None:
        return replace(base, outcome="deleted", reason=DELETED)
    if not read.converted:
        return replace(base, outcome="not_converted")
    outcome = "converted"
    if earlier is None:
        earlier = converted_before(chunk, read, UNCOUNTED_MARGIN_S)
    if job_id is not None and earlier:
        outcome = "already_converted"
        reason = (
            f"converted at {_utc(read.converted_at)}, before job {job_id} was made "
            f"(its POST reached Zoho at {_utc(chunk.posted_at_zoho)} at the earliest, "
            "Zoho's clock): not by this job"
        )
    return replace(
        base,
        outcome=outcome,
        contact_id=read.contact_id,
        account_id=read.account_id,
        deal_id=read.deal_id,
        converted_at=read.converted_at,
        reason=reason,
    )


def reconcile_finished(session: Session, chunks: list[Chunk], last: Mapping[str, Snapshot]) -> None:
    """Read back the leads of chunks whose job finished, keep their outcomes, close them.

    A chunk stays open when a lead could not be read (a later run reads it again). A lead
    Zoho converted before its job was made is ``already_converted`` (not credited to the
    job; the run notes how many): only when more leads read back converted than the job's
    ``Converted_Count`` says it converted (:func:`earlier_leads`). A job whose leads read
    back ``converted`` differ from its last ``Converted_Count`` is flagged
    (``count_mismatch`` in the ledger, a :class:`~zcrm_notebook.errors.DataQualityWarning`).
    Only the count of a final status (completed, failed) counts: a job given up while in
    progress has no count (as one never seen final).
    """
    reads = read_back(session, [(c.org, lead) for c in chunks for lead in c.lead_ids])
    earlier: dict[str, int] = {}  # job id -> its leads converted before it was made
    for chunk in chunks:
        snap = last.get(chunk.job_id or "")
        # only a final status's count is the job's: an in-progress one is a count so far
        expected = snap.converted_count if snap is not None and snap.is_final else None
        got = {lead.lead_id: reads[(chunk.org, lead.lead_id)] for lead in chunk.leads}
        before = earlier_leads(chunk, got.values(), expected)
        rows = [
            outcome_of_record(
                chunk, lead, got[lead.lead_id], job_id=chunk.job_id, earlier=lead.lead_id in before
            )
            for lead in chunk.leads
        ]
        session.ledger.record_outcomes(chunk.chunk_id, rows)
        n_earlier = sum(r.outcome == "already_converted" for r in rows)
        if n_earlier:
            earlier[f"{chunk.job_id} ({chunk.org})"] = n_earlier
        converted = sum(r.outcome == "converted" for r in rows)
        mismatch = expected is not None and converted != expected
        if mismatch:
            session.note(
                f"job {chunk.job_id} ({chunk.org}): {converted} of its {len(rows)} leads read "
                f"back converted, but its last Converted_Count is {expected}",
                warn=True,
            )
        values = {"converted_count": expected, "count_mismatch": int(mismatch)}
        if all(r.outcome != "unknown" for r in rows):
            session.ledger.close(chunk.chunk_id, at=session.clock(), **values)
    if earlier:
        session.note(_earlier_text(earlier))


def _earlier_text(earlier: Mapping[str, int]) -> str:
    """The note of leads read back converted before their job was made."""
    jobs = list(earlier)
    named = ", ".join(jobs[:3]) + (f" and {len(jobs) - 3} more" if len(jobs) > 3 else "")
    n = sum(earlier.values())
    lead, were, its, they = (
        ("lead", "was", "its", "it") if n == 1 else ("leads", "were", "their", "they")
    )
    return (
        f"{n} {lead} {were} converted before {its} job was made (outcome already_converted: "
        f"converted earlier, not by this run; {they} {were} sent again): "
        f"job{'s' if len(jobs) > 1 else ''} {named}"
    )


def recover_unknown(session: Session, chunks: list[Chunk]) -> float | None:
    """Account for the leads of chunks whose POST answer was lost.

    Converted leads are ``converted`` (no job id: the job is not known); leads Zoho no
    longer has are ``deleted``; once ``settle_s`` has passed since the POST, the others are
    ``not_converted`` by that chunk and planned again as their next attempt (new chunks of
    the same batch and options), and the chunk is closed. Before that, nothing is sent.

    Returns
    -------
    float or None
        The clock time the earliest chunk still waiting settles (None: none waits).
    """
    reads = read_back(session, [(c.org, lead) for c in chunks for lead in c.lead_ids])
    now, wake = session.clock(), None
    for chunk in chunks:
        got = {lead.lead_id: reads[(chunk.org, lead.lead_id)] for lead in chunk.leads}
        rows = [
            outcome_of_record(chunk, lead, got[lead.lead_id], job_id=None, reason=LOST_JOB)
            for lead in chunk.leads
            if not _waiting(got[lead.lead_id])
        ]
        waiting = [lead for lead in chunk.leads if _waiting(got[lead.lead_id])]
        settles = (chunk.posted_at or chunk.created_at) + session.settle_s
        if waiting and now >= settles and not any(r.outcome == "unknown" for r in rows):
            rows += _replan(session, chunk, waiting)
            waiting = []
        session.ledger.record_outcomes(chunk.chunk_id, rows)
        if not waiting and all(r.outcome != "unknown" for r in rows):
            session.ledger.close(chunk.chunk_id, at=now)
        elif waiting:
            wake = settles if wake is None else min(wake, settles)
    return wake


def _waiting(read: Read) -> bool:
    """A lead of a lost POST that is still a lead: it may yet be converted by that job."""
    return isinstance(read, LeadRecord) and not read.converted


def _replan(session: Session, chunk: Chunk, leads: list[PlannedLead]) -> list[LeadOutcome]:
    """Plan ``leads`` of a settled lost chunk again; their rows in the lost chunk."""
    items = [
        (chunk.org, chunk.dc, PlannedLead(x.lead_id, x.attempt + 1, chunk.chunk_id), chunk.options)
        for x in leads
    ]
    new: list[PlannedChunk] = chunk_leads(items)
    ids = session.ledger.add_chunks(chunk.batch_id, new, at=session.clock())
    minutes = math.ceil(session.settle_s / 60)
    return [
        LeadOutcome(
            org=chunk.org,
            dc=chunk.dc,
            lead_id=x.lead_id,
            attempt=x.attempt,
            outcome="not_converted",
            error_code=chunk.error_code,
            reason=(
                f"not converted {minutes} min after the lost POST: planned again "
                f"(attempt {x.attempt + 1}, chunk {', '.join(map(str, ids))})"
            ),
        )
        for x in leads
    ]


def reconcile_conversions(
    store: str | os.PathLike | object,
    orgs: Mapping[str, OrgCredentials] | None = None,
    *,
    config: str | os.PathLike | None = None,
    leads: Iterable[Key] | None = None,
    settle_s: float = SETTLE_S,
    policy: PollPolicy | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] | None = None,
) -> pd.DataFrame:
    """Read back the leads of a store's finished jobs and lost POSTs; send nothing.

    The jobs the store's snapshots show finished (final, or given up as unknown) are
    reconciled (:func:`reconcile_finished`); chunks whose POST answer was lost are accounted
    for (:func:`recover_unknown`: leads still not converted after ``settle_s`` become new
    intents, sent by the next :func:`~zcrm_notebook.convert.loop.convert_leads` of them).

    Parameters
    ----------
    store : path or SnapshotStore
        The store of the conversions (its run lock is held).
    orgs, config : optional
        The orgs (default :func:`~zcrm_notebook.inputs.orgs.load_orgs` of ``config``).
    leads : iterable of (org, lead id), optional
        Only the chunks holding these leads (default: every open chunk).
    settle_s, policy, clock, sleep : optional
        As for :func:`~zcrm_notebook.convert.loop.convert_leads`.

    Returns
    -------
    pandas.DataFrame
        The lead outcome table of ``leads`` (default: every lead of the ledger).

    Raises
    ------
    ConfigError
        No org configured, or another run holds the store.
    """
    with open_session(
        store, orgs, config=config, policy=policy, clock=clock, sleep=sleep, settle_s=settle_s
    ) as s:
        s.resume()
        keys = list(leads) if leads is not None else list(s.ledger.latest_by_lead())
        chunks = s.scope(keys)
        snaps = s.store.read()
        done = {j.job_id for j in finished_jobs(snaps, s.policy.not_found_confirmations)}
        finished = [c for c in chunks if c.state == "scheduled" and c.job_id in done]
        if finished:
            reconcile_finished(s, finished, last_snapshots(snaps))
        unknown = [c for c in chunks if c.state == "unknown"]
        if unknown:
            recover_unknown(s, unknown)
        return s.ledger.outcome_frame(keys)
