"""The whole loop: plan -> schedule -> watch -> reconcile (-> retry) (-> diagnose).

:func:`convert_leads` takes leads and returns what became of each (a
:class:`ConversionResult`); it resumes: run it again with the same leads and the same store
and it schedules nothing twice, watches what is open, reconciles what finished, recovers
what was lost. :func:`drive` is the loop itself: it drives every open chunk holding one of
the leads until each is closed, the deadline passes or the run stops: send the intents
(:mod:`~zcrm_notebook.convert.send`), account for lost POSTs and wait out their settle time
(:func:`~zcrm_notebook.convert.reconcile.recover_unknown`), watch the jobs
(:mod:`~zcrm_notebook.convert.watch`), read the finished ones back
(:func:`~zcrm_notebook.convert.reconcile.reconcile_finished`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from ..auth.credentials import OrgCredentials
from ..inputs.orgs import load_orgs
from ..poll.policy import PollPolicy
from ..snapshots.frame import empty_snapshots, to_frame
from .diagnose import diagnosable, diagnose_leads
from .ledger import Chunk
from .options import ConvertOptions
from .outcomes import LeadOutcome, outcomes_frame
from .plan import CREDITS, ConversionPlan, Estimate, left_out_text, plan_conversions
from .reconcile import reconcile_finished, recover_unknown
from .retry import plan_retry, retry_round_key
from .rounds import Diagnosis, RetryRound, diagnosis_done, earlier_round, round_done
from .send import send_intents
from .session import SETTLE_S, Key, Session, open_session
from .watch import watch_chunks

__all__ = ["ConversionResult", "convert_leads", "drive", "run_plan"]

log = logging.getLogger(__name__)

_MAX_IDLE_ROUNDS = 2  # rounds without progress before the loop gives up (it says why)


@dataclass
class ConversionResult:
    """What a conversion run did, and what became of each lead.

    Attributes
    ----------
    leads : pandas.DataFrame
        The lead outcome table: one row per input lead
        (:mod:`~zcrm_notebook.convert.outcomes`).
    snapshots : pandas.DataFrame
        The status snapshots of the run's jobs (store history included).
    plan : ConversionPlan
    ledger : pandas.DataFrame
        The chunks holding the leads (:meth:`~zcrm_notebook.convert.ledger.Ledger.frame`).
    stats : pandas.DataFrame
        Calls and API credits of this run: ``org, kind, calls, credits`` (kinds ``post``,
        ``status``, ``records``, ``convert``).
    batch_id : int or None
        The ledger batch of the input.
    stopped_reason : str
        ``finished`` (every chunk closed), ``deadline``, ``stopped`` (Ctrl-C, SIGTERM,
        ``stop``), ``end_run`` (Zoho refused a request the package should never send),
        ``incomplete`` (jobs left open: an org ended, reads failed; run again).
    notes : list of str
        What the run reported (count mismatches, orgs ended, interruptions).
    signal : int or None
        The signal that stopped the run, if one did.
    warned : list of str
        The notes also issued as a DataQualityWarning (count mismatches).
    retry_rounds : list of RetryRound
        The retry rounds of the input: made by this run, or by an earlier run of the same
        input (``earlier``; their leads' outcomes now); leads sent again, their outcomes.
    diagnosis : Diagnosis or None
        What this run's diagnosis asked and found (None: no diagnosis made).
    """

    leads: pd.DataFrame
    snapshots: pd.DataFrame
    plan: ConversionPlan
    ledger: pd.DataFrame
    stats: pd.DataFrame
    batch_id: int | None
    stopped_reason: str
    notes: list[str] = field(default_factory=list)
    signal: int | None = None
    warned: list[str] = field(default_factory=list)
    retry_rounds: list[RetryRound] = field(default_factory=list)
    diagnosis: Diagnosis | None = None

    @property
    def counts(self) -> pd.Series:
        """Leads per outcome (every outcome, 0 included)."""
        return self.leads["outcome"].value_counts(sort=False)

    def summary(self) -> str:
        """The leads per outcome, a line per retry round made and one for the diagnosis,
        then the calls and credits of the run."""
        lines = [
            f"{len(self.leads):,} leads: "
            + ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in self.counts.items() if n)
        ]
        lines += [r.text() for r in self.retry_rounds]
        lines += [self.diagnosis.text()] if self.diagnosis is not None else []
        by_kind = self.stats.groupby("kind")[["calls", "credits"]].sum()
        spent = ", ".join(f"{k} {int(r.calls)}" for k, r in by_kind.iterrows())
        lines.append(
            f"calls: {int(by_kind['calls'].sum()) if len(by_kind) else 0} ({spent or 'none'}); "
            f"credits: {int(by_kind['credits'].sum()) if len(by_kind) else 0}"
        )
        if self.stopped_reason != "finished":
            why = _STOPPED.get(self.stopped_reason, self.stopped_reason)
            lines.append(f"stopped {why} (run the same command to resume)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ConversionResult {self.stopped_reason}: {self.summary().splitlines()[0]}>"


_STOPPED = {  # the words of ConversionResult.stopped_reason in the summary
    "deadline": "at the deadline",
    "stopped": "on request (Ctrl-C, SIGTERM or stop)",
    "end_run": "by a refusal Zoho should never give (see the notes)",
    "incomplete": "with chunks left open (see the notes)",
}


def _signature(session: Session, keys: Sequence[Key]) -> tuple:
    chunks = session.scope(keys)
    return tuple((c.chunk_id, c.state) for c in chunks), len(session.ledger.outcomes(keys))


def drive(
    session: Session, keys: Sequence[Key], *, progress: bool = False, on_snapshot=None
) -> str:
    """Drive the open chunks holding ``keys`` until each is closed (see the module).

    Returns
    -------
    str
        ``finished``, ``deadline``, ``stopped``, ``end_run`` or ``incomplete``.
    """
    idle, before = 0, None
    while True:
        if session.runner.end_run is not None:
            return "end_run"
        if session.stop.is_set():
            return "stopped"
        if session.over():
            return "deadline"
        chunks = [c for c in session.scope(keys) if c.chunk_id not in session.held]
        if not chunks:
            return "finished" if not session.scope(keys) else "incomplete"
        wake = _round(session, chunks, progress=progress, on_snapshot=on_snapshot)
        now = _signature(session, keys)
        idle = idle + 1 if now == before and wake is None else 0
        before = now
        if idle >= _MAX_IDLE_ROUNDS:
            return "incomplete"
        if wake is not None and now == before:
            _wait_until(session, wake)


def _round(session: Session, chunks: list[Chunk], **watch_kw) -> float | None:
    """One round: send, recover, watch, reconcile. Returns a settle time to wait for."""
    intents = [c for c in chunks if c.state == "intent"]
    if intents:
        send_intents(session, intents)
        return None
    unknown = [c for c in chunks if c.state == "unknown"]
    wake = recover_unknown(session, unknown) if unknown else None
    scheduled = [c for c in chunks if c.state == "scheduled"]
    if scheduled and not session.over():
        done, last = watch_chunks(session, scheduled, **watch_kw)
        finished = [c for c in scheduled if c.job_id in done]
        if finished:
            reconcile_finished(session, finished, last)
    return wake


def _wait_until(session: Session, wake: float) -> None:
    """Wait (in slices, stopping early) until clock time ``wake`` or the deadline."""
    left = wake - session.clock()
    if left > 0:
        log.info("waiting %.0f s for a lost POST's job to settle", left)
    while not session.over() and session.clock() < wake:
        to_deadline = session.time_left()  # the deadline cuts the wait short
        cap = 60.0 if to_deadline is None else min(60.0, to_deadline)
        session.sleep(min(wake - session.clock(), cap))


def run_plan(
    session: Session,
    plan: ConversionPlan,
    keys: Sequence[Key],
    batch: int | None,
    *,
    retry_rounds: int = 0,
    diagnose_credits: int = 0,
    max_credits: int | None = None,
    progress: bool = False,
    on_snapshot=None,
) -> ConversionResult:
    """Drive ``keys``' chunks, retry and diagnose as asked, and gather the result.

    A retry round is made only while the estimates of the plan and of the rounds made,
    with its own, stay within ``max_credits``; a round that would not is noted instead."""
    reason = drive(session, keys, progress=progress, on_snapshot=on_snapshot)
    left = None if max_credits is None else max_credits - plan.estimate.total_credits
    rounds: list[RetryRound] = []
    for round_no in range(1, retry_rounds + 1):
        if reason != "finished":
            break
        again = next_retry(session, keys, batch, round_no)
        if again is None:  # made by an earlier run of the same command: resumed by drive
            made = earlier_round(session, batch, round_no) if batch is not None else None
            rounds += [made] if made is not None else []
            continue
        if not again.chunks:
            break
        if left is not None and again.estimate.total_credits > left:
            session.note(_over_budget(round_no, again, max_credits))
            break
        if left is not None:
            left -= again.estimate.total_credits
        session.ledger.add_batch(again, at=session.clock(), kind="retry")
        reason = drive(session, keys, progress=progress, on_snapshot=on_snapshot)
        sent = list(zip(again.leads["org"], again.leads["lead_id"]))
        rounds.append(round_done(session, round_no, sent, len(again.chunks)))
    diagnosis = None
    if diagnose_credits and reason == "finished":
        asked = [k for k, _ in diagnosable(session, keys)]
        spent = diagnose_leads(session, keys, diagnose_credits)
        log.info("diagnosis spent %d credits", spent)
        diagnosis = diagnosis_done(session, asked[: diagnose_credits // CREDITS["convert"]], spent)
    for org, exc in session.runner.ended.items():
        session.note(f"org {org} ended: {exc}")
    if session.runner.end_run is not None:
        session.note(
            f"Zoho refused a request this package should never send ({session.runner.end_run}); "
            "please report this line"
        )
    result = _result(session, plan, keys, batch, reason)
    return replace(result, retry_rounds=rounds, diagnosis=diagnosis)


def _note_resumed(result: ConversionResult) -> ConversionResult:
    """``result`` with, first in its notes, that its input was resumed (a rerun): the jobs
    already made were not sent again, and what this run's retry rounds sent."""
    batch = result.plan.resumed_batch
    if batch is None:
        return result
    made = [r for r in result.retry_rounds if not r.earlier]
    text = f"the store has this input already (batch {batch}): resumed, "
    if made:
        sent = sum(r.sent for r in made)
        jobs = sum(r.jobs for r in made)
        text += (
            f"jobs already made are not sent again; {_rounds_text(made)} sent "
            f"{_plural(sent, 'lead')} in {_plural(jobs, 'new job')}"
        )
    else:
        text += "its jobs are not sent again"
    log.info("%s", text)
    return replace(result, notes=[text, *result.notes])


def _rounds_text(rounds: Sequence[RetryRound]) -> str:
    if len(rounds) == 1:
        return f"the retry round ({rounds[0].round_no})"
    return "the retry rounds " + ", ".join(str(r.round_no) for r in rounds)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _note_plan(session: Session, plan: ConversionPlan) -> None:
    """Say which leads were left out and why."""
    if len(plan.skipped):
        session.note(
            f"left out: {left_out_text(plan.skipped)}: their earlier outcome is kept "
            "in the lead table"
        )


def _over_budget(round_no: int, again: ConversionPlan, max_credits: int | None) -> str:
    return (
        f"retry round {round_no} was not made: its estimated {again.estimate.text()} would "
        f"bring the run's estimate above max_credits {max_credits:,} (command line: "
        "--max-credits); raise it and run the same command again to make it"
    )


def next_retry(
    session: Session, keys: Sequence[Key], batch: int | None, round_no: int
) -> ConversionPlan | None:
    """Retry round ``round_no`` of input ``batch``: None when the ledger has it already
    (a rerun of the same command), else its plan (no chunks: no lead to retry)."""
    key = retry_round_key(batch, round_no) if batch is not None else None
    if key is not None and session.ledger.batch_for(key, kind="retry") is not None:
        return None
    again = plan_retry(session.ledger, keys)
    return again if key is None else replace(again, fingerprint=key)


def preview(
    session: Session, plan: ConversionPlan, retry_rounds: int, diagnose_credits: int
) -> ConversionPlan:
    """The dry run: ``plan`` with what the run would also do on this ledger (resume open
    chunks, a retry round, the diagnosis) in its ``then``, ``retry`` and ``estimate``."""
    keys = list(zip(plan.leads["org"], plan.leads["lead_id"]))
    open_chunks = session.scope(keys) if plan.resumed_batch is not None else []
    then, retry, round_no = [], None, 0
    if open_chunks:
        then.append(f"resumes {len(open_chunks):,} open chunk(s) of this input")
    if retry_rounds and (plan.resumed_batch is None or open_chunks):
        then.append(
            f"then up to {retry_rounds} retry round(s) of the leads not converted when the "
            "jobs end (how many is known then: not in the estimate)"
        )
    elif retry_rounds:
        for round_no in range(1, retry_rounds + 1):
            again = next_retry(session, keys, plan.resumed_batch, round_no)
            if again is not None:
                retry = again if again.chunks else None
                break
    estimate = plan.estimate + (retry.estimate if retry is not None else _none())
    if diagnose_credits and plan.resumed_batch is not None:
        # the fresh plan's estimate has the diagnosis already; a resumed one: these leads
        candidates = {k for k, _ in diagnosable(session, keys)}
        candidates |= {(c.org, x) for c in open_chunks for x in c.lead_ids}
        calls = min(len(candidates), max(0, diagnose_credits) // CREDITS["convert"])
        estimate = estimate + Estimate(
            0, 0, {"convert": calls}, {"convert": calls * CREDITS["convert"]}
        )
    if diagnose_credits:
        then.append(
            f"then the diagnosis: up to {diagnose_credits:,} credits of single-lead converts "
            "(it converts a lead when it can)"
        )
    return replace(plan, retry=retry, retry_round=round_no, then=then, estimate=estimate)


def _none() -> Estimate:
    return Estimate(0, 0, {}, {})


def _result(
    session: Session, plan: ConversionPlan, keys: Sequence[Key], batch: int | None, reason: str
) -> ConversionResult:
    rows = {(r.org, r.lead_id): r for r in session.ledger.outcomes(keys)}
    dcs = {name: c.dc for name, c in session.orgs.items()}
    table = outcomes_frame(rows.get(k) or _never_planned(k, dcs) for k in keys)
    held = set(keys)
    mine = [c for c in session.ledger.chunks() if any((c.org, x) in held for x in c.lead_ids)]
    jobs = {c.job_id for c in mine if c.job_id}
    snaps = [s for s in session.store.read() if s.job_id in jobs]
    ledger = session.ledger.frame()
    ledger = ledger[ledger["chunk_id"].isin([c.chunk_id for c in mine])].reset_index(drop=True)
    return ConversionResult(
        leads=table,
        snapshots=to_frame(snaps) if snaps else empty_snapshots(),
        plan=plan,
        ledger=ledger,
        stats=_stats(session),
        batch_id=batch,
        stopped_reason=reason,
        notes=list(session.notes),
        signal=session.signal,
        warned=list(session.warned),
    )


def _never_planned(key: Key, dcs: Mapping[str, str]) -> LeadOutcome:
    return LeadOutcome(
        org=key[0],
        dc=dcs.get(key[0], ""),
        lead_id=key[1],
        outcome="not_scheduled",
        error_code="NOT_PLANNED",
        reason="in no chunk of the ledger",
    )


def _stats(session: Session) -> pd.DataFrame:
    credits = session.runner.credits()
    rows = [
        {"org": org, "kind": kind, "calls": n, "credits": credits[(org, kind)]}
        for (org, kind), n in sorted(session.runner.calls.items())
    ]
    frame = pd.DataFrame(rows, columns=["org", "kind", "calls", "credits"])
    return frame.astype({"org": "string", "kind": "string", "calls": "int64", "credits": "int64"})


def convert_leads(
    leads: object,
    orgs: Mapping[str, OrgCredentials] | None = None,
    *,
    config: str | os.PathLike | None = None,
    org: str | None = None,
    options: ConvertOptions | None = None,
    store: str | os.PathLike | object = None,
    dry_run: bool = False,
    force: bool = False,
    max_credits: int | None = None,
    retry_not_converted: bool = False,
    diagnose_credits: int = 0,
    settle_s: float = SETTLE_S,
    policy: PollPolicy | None = None,
    deadline_s: float | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] | None = None,
    progress: bool = False,
    on_snapshot=None,
    source: str = "",
) -> ConversionResult | ConversionPlan:
    """Convert leads with Zoho's mass convert and tell what became of each one.

    Plan (:func:`~zcrm_notebook.convert.plan.plan_conversions`: chunks of at most 50 per
    org and options), commit the chunks to the ledger, schedule them
    (``POST .../Leads/actions/mass_convert``), watch the jobs with the poller, read every
    lead back (``GET .../Leads?converted=both``) and build the lead outcome table; then,
    if asked, retry the ``not_converted`` leads once and ask the single convert why leads
    were not converted. Zoho CRM API "Mass Convert Lead"
    (https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-lead.html), "Get Records",
    "Convert Lead"; the rules in ``docs/zoho-api.md``.

    Run it again with the same leads and store and it resumes: no chunk is sent twice, open
    jobs are watched, finished ones reconciled. A POST whose answer was lost (timeout, reset,
    5xx, the process killed) is never sent again blindly: its leads are read back, and the
    ones still not converted ``settle_s`` after it are planned again.

    Parameters
    ----------
    leads : list, dict {org: [ids]}, DataFrame or CSV path
        See :func:`~zcrm_notebook.inputs.leads.clean_leads` (per-lead ``assign_to``,
        ``deal_name``, ``deal_stage``, ``closing_date``, ``pipeline`` columns allowed).
    orgs, config, org : optional
        The orgs (default :func:`~zcrm_notebook.inputs.orgs.load_orgs` of ``config``); the
        org of a plain list of ids.
    options : ConvertOptions, optional
        Deal, owner and other options of the POST.
    store : path or SnapshotStore, optional
        The SQLite store of the snapshots and the ledger (its run lock is held for the
        run); default in memory (nothing to resume from later).
    dry_run : bool, default False
        Return the plan, send nothing.
    force : bool, default False
        Schedule leads that are in an open job of the ledger anyway.
    max_credits : int, optional
        Refuse (before any POST) a plan whose estimated credits exceed it; a retry round
        is made only while the estimates of the plan and of the rounds stay within it
        (else a note says which round was not made).
    retry_not_converted : bool or int, default False
        Retry rounds of this input (True: 1): after the run, the ``not_converted`` leads
        are planned again (attempt + 1), as many rounds as given in all. A round is made
        once: running the same input again with the same value resumes it and sends
        nothing new; a higher value (2, 3...) makes the further rounds.
    diagnose_credits : int, default 0
        Credits (5 a lead) the single convert may spend on ``not_converted`` leads to get
        Zoho's reason. It converts a lead when it can.
    settle_s : float, default 1800
        Seconds after a lost POST before its unconverted leads are planned again.
    policy : PollPolicy, optional
        Calls in flight per org, timeouts, retries and the watch's poll intervals.
    deadline_s : float, optional
        Stop after this many seconds (what is open is resumed by a rerun).
    clock, sleep : callables, optional
        Injected time, as for :class:`~zcrm_notebook.poll.Poller`.
    progress, on_snapshot : optional
        The watch's progress bar and snapshot callback.
    source : str, default ""
        Where the leads came from, kept in the ledger's batch (a file name).

    Returns
    -------
    ConversionResult
        ``leads``: one row per input lead (``org, dc, lead_id, job_id, attempt, outcome,
        contact_id, account_id, deal_id, converted_at, error_code, reason,
        reason_attempt``; :mod:`~zcrm_notebook.convert.outcomes`). With ``dry_run``: the
        :class:`~zcrm_notebook.convert.plan.ConversionPlan`.

    Raises
    ------
    LeadInputError
        Before any POST, one message naming the rows: bad lead ids or per-lead options,
        unknown orgs, leads in an open job of the ledger (unless ``force``).
    ConfigError
        Before any POST: no org configured, the store held by another run, options the
        org's API version lacks, an estimate above ``max_credits``.
    """
    new_file = isinstance(store, (str, os.PathLike)) and not os.path.exists(store)
    if dry_run and new_file:
        store = None  # a dry run creates no file
    orgs = dict(orgs) if orgs is not None else load_orgs(config)
    kw: dict[str, Any] = dict(org=org, options=options, force=force, max_credits=max_credits)
    kw["diagnose_credits"] = diagnose_credits
    kw["retry_not_converted"] = bool(retry_not_converted)
    # a new store: its empty ledger changes nothing, so the input is checked before the
    # file is made (a refused plan leaves no file behind)
    plan = plan_conversions(leads, orgs, **kw) if new_file or store is None else None
    with open_session(
        store,
        orgs,
        policy=policy,
        clock=clock,
        sleep=sleep,
        settle_s=settle_s,
        deadline_s=deadline_s,
    ) as s:
        if plan is None:
            plan = plan_conversions(leads, s.orgs, ledger=s.ledger, **kw)
        if dry_run:
            return preview(s, plan, int(retry_not_converted), diagnose_credits)
        s.resume()
        batch = plan.resumed_batch or s.ledger.add_batch(plan, at=s.clock(), source=source)
        _note_plan(s, plan)
        keys = list(zip(plan.leads["org"], plan.leads["lead_id"]))
        result = run_plan(
            s,
            plan,
            keys,
            batch,
            retry_rounds=int(retry_not_converted),
            diagnose_credits=diagnose_credits,
            max_credits=max_credits,
            progress=progress,
            on_snapshot=on_snapshot,
        )
        return _note_resumed(result)
