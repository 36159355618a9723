"""Why a lead was not converted: the single-lead convert, opt-in, within a credit budget.

Zoho tells a failed lead from a skipped one by counts only, and gives no reason. The
single-lead convert (``POST .../Leads/{id}/actions/convert``, 5 credits; Zoho CRM API
"Convert Lead", https://www.zoho.com/crm/developer/docs/api/v8/convert-lead.html) answers
with the lead's reason (``DUPLICATE_DATA``, ``MANDATORY_NOT_FOUND``...) -- or converts the
lead, when it can now. So it is never called by default: :func:`diagnose_leads` tries each
``not_converted`` lead once, within the budget the user gives, and records Zoho's code and
message as the lead's ``error_code`` and ``reason`` (a lead it converts becomes
``converted``). ``ID_ALREADY_CONVERTED`` is followed by reading the lead back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from ..api.conversion import ConvertResult
from ..auth.credentials import OrgCredentials
from ..client import CallAnswer
from ..errors import ZcrmError
from ..poll.policy import PollPolicy
from .calls import Task
from .ledger import LeadStatus
from .outcomes import LeadOutcome
from .plan import CREDITS
from .reconcile import outcome_of_record, read_back
from .session import Key, Session, open_session

__all__ = ["diagnose_leads", "diagnose_not_converted", "diagnosable", "DIAGNOSED"]

#: ``reason`` of a lead the diagnosis converted.
DIAGNOSED = "converted by the diagnosis (the single-lead convert)"


def diagnose_leads(session: Session, keys: Iterable[Key], credits: int) -> int:
    """Try the single convert once on the ``not_converted`` leads of ``keys`` without a
    reason yet, in their order, until ``credits`` (5 a call) are spent.

    Returns
    -------
    int
        Credits spent.
    """
    todo = diagnosable(session, keys)[: max(0, credits) // CREDITS["convert"]]
    results: dict[Key, ConvertResult | ZcrmError] = {}
    tasks = [Task(key[0], "convert", _convert(key[1], st), key=key) for key, st in todo]

    def on_answer(task: Task, answer: CallAnswer) -> None:
        results[task.key] = answer.value

    def on_error(task: Task, exc: ZcrmError, action: str, sent: bool) -> None:
        if sent:
            results[task.key] = exc

    session.runner.run(tasks, on_answer, on_error)
    again = [key for key, r in results.items() if _already(r)]
    reads = read_back(session, again) if again else {}
    for key, st in todo:
        if key in results:
            _record(session, key, st, results[key], reads.get(key))
    return len(results) * CREDITS["convert"]


def diagnosable(session: Session, keys: Iterable[Key]) -> list[tuple[Key, LeadStatus]]:
    """The leads of ``keys`` the diagnosis would try: ``not_converted``, no reason yet."""
    status = session.ledger.latest_by_lead(list(keys))
    return [
        (key, st)
        for key, st in status.items()
        if st.outcome == "not_converted" and _reasonless(session, key, st)
    ]


def _reasonless(session: Session, key: Key, st: LeadStatus) -> bool:
    row = session.ledger.stored_outcomes(st.chunk_id).get(key[1])
    return row is None or row.error_code is None


def _convert(lead_id: str, st: LeadStatus):
    body = st.chunk.options.single_body()
    return lambda client: client.convert_lead(lead_id, body)


def _already(result: ConvertResult | ZcrmError) -> bool:
    return isinstance(result, ConvertResult) and result.code == "ID_ALREADY_CONVERTED"


def _record(session: Session, key: Key, st: LeadStatus, result, read) -> None:
    chunk = st.chunk
    lead = next(x for x in chunk.leads if x.lead_id == key[1])
    base = session.ledger.stored_outcomes(chunk.chunk_id).get(key[1])
    if isinstance(result, ConvertResult) and result.converted:
        row = LeadOutcome(
            org=chunk.org,
            dc=chunk.dc,
            lead_id=key[1],
            attempt=lead.attempt,
            outcome="converted",
            contact_id=result.contact_id,
            account_id=result.account_id,
            deal_id=result.deal_id,
            converted_at=session.clock(),
            reason=DIAGNOSED,
        )
    elif _already(result) and read is not None and not isinstance(read, ZcrmError):
        row = outcome_of_record(chunk, lead, read, job_id=None, reason=DIAGNOSED)
        row = _with_reason(row, result) if row.outcome != "converted" else row
    elif isinstance(result, ConvertResult):
        row = _with_reason(base or _not_converted(chunk, lead), result)
    else:  # the call failed: keep the outcome, say why it has no reason
        old = base or _not_converted(chunk, lead)
        row = LeadOutcome(**{**old.values(), "reason": f"diagnosis failed: {result}"})
    session.ledger.record_outcomes(chunk.chunk_id, [row])


def _not_converted(chunk, lead) -> LeadOutcome:
    return LeadOutcome(
        org=chunk.org,
        dc=chunk.dc,
        lead_id=lead.lead_id,
        job_id=chunk.job_id,
        attempt=lead.attempt,
        outcome="not_converted",
    )


def _with_reason(row: LeadOutcome, result: ConvertResult) -> LeadOutcome:
    values = {**row.values(), "error_code": result.code, "reason": result.message or result.code}
    return LeadOutcome(**values)


def diagnose_not_converted(
    store: str | os.PathLike | object,
    orgs: Mapping[str, OrgCredentials] | None = None,
    *,
    credits: int,
    config: str | os.PathLike | None = None,
    leads: Iterable[Key] | None = None,
    policy: PollPolicy | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] | None = None,
) -> pd.DataFrame:
    """Ask the single convert why the ``not_converted`` leads of a store were not converted.

    Each lead is tried once (:func:`diagnose_leads`), within ``credits`` (5 a call): Zoho's
    code and message become its ``error_code`` and ``reason``; a lead the single convert
    can convert now is converted (it is not a dry run).

    Parameters
    ----------
    store : path or SnapshotStore
        The store of the conversions (its run lock is held).
    orgs, config : optional
        The orgs (default :func:`~zcrm_notebook.inputs.orgs.load_orgs` of ``config``).
    credits : int
        Budget in API credits.
    leads : iterable of (org, lead id), optional
        Only these leads (default: every lead of the ledger).
    policy, clock, sleep : optional
        As for :class:`~zcrm_notebook.poll.Poller`.

    Returns
    -------
    pandas.DataFrame
        The lead outcome table of ``leads`` (default: every lead of the ledger).

    Raises
    ------
    ConfigError
        No org configured, or another run holds the store.
    """
    with open_session(store, orgs, config=config, policy=policy, clock=clock, sleep=sleep) as s:
        keys = list(leads) if leads is not None else list(s.ledger.latest_by_lead())
        diagnose_leads(s, keys, credits)
        return s.ledger.outcome_frame(keys)
