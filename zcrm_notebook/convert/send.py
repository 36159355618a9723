"""Sending the mass-convert POSTs of the ledger's intents, and keeping what each answer says.

Every chunk is in the ledger as an ``intent`` before anything is sent; right before its POST
it is committed ``sending`` (durably), and the answer decides its state
(``docs/zoho-api.md``, the error table's actions for the POST):

=================  =================================================================
answer             chunk
=================  =================================================================
SCHEDULED          ``scheduled`` with the job id (durably)
``not_scheduled``  ``rejected`` with Zoho's code: its leads are ``not_scheduled``; when
                   ``INVALID_DATA`` names one lead (``$.ids[N]``), that lead only, the
                   others go into a new chunk; an option Zoho refused (a Deals key...)
                   rejects the org's other chunks with the same options, unsent
``outcome_unknown`` ``unknown``: read back before anything is planned again
``retry`` (given   ``intent`` again (a 429, a refused connection: no job was made); a
up), ``end_org``   later run sends it
``end_run``        ``rejected``; the run stops (a request the package never sends)
=================  =================================================================

The first chunk of each org and set of options goes alone; the others follow once Zoho has
taken it. A refusal of the options, of the org's permission or token then costs one POST,
not one per chunk in flight.

:func:`send_intents` does it within the orgs' limits (the call runner of
:mod:`zcrm_notebook.convert.calls`); :func:`schedule_conversions` is the library's entry
for a plan.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

import pandas as pd

from ..api.conversion import bad_id_index
from ..auth.credentials import OrgCredentials
from ..client import CallAnswer
from ..errors import ApiError, ZcrmError
from ..poll.policy import PollPolicy
from .calls import Task
from .ledger import Chunk
from .outcomes import LeadOutcome
from .plan import ConversionPlan, PlannedChunk
from .session import Session, open_session

__all__ = ["send_intents", "schedule_conversions"]


def send_intents(session: Session, chunks: list[Chunk]) -> None:
    """POST every ``intent`` chunk of ``chunks`` and record each answer in the ledger."""
    refused: dict[tuple[str, str], ApiError] = {}  # (org, options) Zoho refused

    def before(chunk: Chunk) -> Callable[[], bool]:
        def mark() -> bool:
            bad = refused.get((chunk.org, chunk.options.key()))
            if bad is not None:
                _reject(session, chunk, bad, note="not sent: Zoho refused these options")
                return False
            session.ledger.mark(chunk.chunk_id, "sending", durable=True, posted_at=session.clock())
            return True

        return mark

    def on_answer(task: Task, answer: CallAnswer) -> None:
        session.ledger.mark(
            task.key.chunk_id,
            "scheduled",
            durable=True,
            job_id=answer.value,
            http_status=answer.http_status,
            answered_at=session.clock(),
            answer_date=answer.answer_date,
        )

    def on_error(task: Task, exc: ZcrmError, action: str, sent: bool) -> None:
        chunk: Chunk = task.key
        if action == "outcome_unknown":
            values = _error_values(session, exc)
            session.ledger.mark(chunk.chunk_id, "unknown", durable=True, **values)
        elif action == "not_scheduled" and isinstance(exc, ApiError):
            if _options_refused(exc):
                refused[(chunk.org, chunk.options.key())] = exc
            _reject(session, chunk, exc)
        elif action == "end_run" and sent:
            _reject(session, chunk, exc)
        else:  # retry given up, end_org, end_run before sending: no job was made
            session.ledger.mark(chunk.chunk_id, "intent", **_error_values(session, exc))
            session.held.add(chunk.chunk_id)  # not again in this run

    todo = [c for c in chunks if c.state == "intent" and c.chunk_id not in session.held]
    probes: dict[tuple[str, str], Chunk] = {}
    for chunk in todo:
        probes.setdefault((chunk.org, chunk.options.key()), chunk)
    rest = [c for c in todo if c not in probes.values()]
    for part in (list(probes.values()), rest):
        tasks = [Task(c.org, "post", _post(c), key=c, before=before(c)) for c in part]
        session.runner.run(tasks, on_answer, on_error)
        if session.runner.end_run is not None or session.over():
            break


def _post(chunk: Chunk) -> Callable:
    body = chunk.options.body(chunk.lead_ids)
    return lambda client: client.schedule_mass_convert(body)


def _error_values(session: Session, exc: ZcrmError) -> dict:
    return {
        "error_code": exc.code,
        "error_message": str(exc)[:500],
        "http_status": exc.http_status,
        "answered_at": session.clock(),
    }


def _options_refused(exc: ApiError) -> bool:
    """A refusal of an option (a Deals key, assign_to, related_modules...), not of a lead."""
    path = str(exc.details.get("json_path") or "")
    return exc.code != "INVALID_DATA" or (bool(path) and not path.startswith("$.ids"))


def _reject(session: Session, chunk: Chunk, exc: ApiError | ZcrmError, note: str = "") -> None:
    """Zoho refused the chunk for good: its leads are ``not_scheduled`` with the code; a
    refusal naming one lead rejects that lead only and plans the others in a new chunk."""
    details = exc.details if isinstance(exc, ApiError) else {}
    at = bad_id_index(details)
    leads = list(chunk.leads)
    if not note and at is not None and at < len(leads) and len(leads) > 1:
        rest = leads[:at] + leads[at + 1 :]
        new = PlannedChunk(chunk.org, chunk.dc, tuple(rest), chunk.options)
        session.ledger.add_chunks(chunk.batch_id, [new], at=session.clock())
        leads = [leads[at]]
    reason = f"{note}: {exc}" if note else str(exc)
    rows = [
        LeadOutcome(
            org=chunk.org,
            dc=chunk.dc,
            lead_id=lead.lead_id,
            attempt=lead.attempt,
            outcome="not_scheduled",
            error_code=exc.code,
            reason=reason[:500],
        )
        for lead in leads
    ]
    session.ledger.record_outcomes(chunk.chunk_id, rows)
    values = _error_values(session, exc)
    session.ledger.mark(chunk.chunk_id, "rejected", **values)
    session.ledger.close(chunk.chunk_id, at=session.clock())


def schedule_conversions(
    plan: ConversionPlan,
    orgs: Mapping[str, OrgCredentials] | None = None,
    *,
    store: str | os.PathLike | object = None,
    config: str | os.PathLike | None = None,
    policy: PollPolicy | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] | None = None,
) -> pd.DataFrame:
    """Commit a plan to the ledger and send its POSTs (no watching, no reading back).

    Each chunk is committed as an intent before any POST, then sent within the org's calls
    in flight and 429 backoff (the poll policy's ``max_in_flight``), its answer kept in the
    ledger (see the module docstring). A plan that resumes a batch sends that batch's
    intents only. Zoho CRM API "Mass Convert Lead"
    (https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-lead.html).

    Parameters
    ----------
    plan : ConversionPlan
        From :func:`~zcrm_notebook.convert.plan.plan_conversions`.
    orgs, config : optional
        The orgs (default :func:`~zcrm_notebook.inputs.orgs.load_orgs` of ``config``).
    store : path or SnapshotStore, optional
        The SQLite store holding the ledger (its run lock is held); default in memory.
    policy, clock, sleep : optional
        As for :class:`~zcrm_notebook.poll.Poller`.

    Returns
    -------
    pandas.DataFrame
        The ledger's chunks (:meth:`~zcrm_notebook.convert.ledger.Ledger.frame`).

    Raises
    ------
    ConfigError
        No org configured, or another run holds the store.
    """
    with open_session(store, orgs, config=config, policy=policy, clock=clock, sleep=sleep) as s:
        batch = plan.resumed_batch or s.ledger.add_batch(plan, at=s.clock())
        keys = list(zip(plan.leads["org"], plan.leads["lead_id"]))
        chunks = [c for c in s.scope(keys) if c.batch_id == batch or plan.resumed_batch]
        send_intents(s, chunks)
        return s.ledger.frame()
