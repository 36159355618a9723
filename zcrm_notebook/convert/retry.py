"""Converting again the leads that were not converted: new jobs, the lineage kept.

:func:`plan_retry` plans the leads whose last outcome is ``not_converted`` (their chunk
closed) as their next attempt, each remembering the chunk it comes from; the ledger keeps
the lineage (attempt 1, 2...). :func:`retry_not_converted` runs the whole loop for them.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from ..auth.credentials import OrgCredentials
from ..poll.policy import PollPolicy
from .ledger import Ledger
from .options import ConvertOptions
from .plan import ConversionPlan, PlannedLead, chunk_leads, estimate
from .session import SETTLE_S, Key

__all__ = ["plan_retry", "retry_not_converted", "retry_round_key"]


def retry_round_key(batch_id: int, round_no: int) -> str:
    """The fingerprint of retry round ``round_no`` (1, 2...) of input batch ``batch_id``:
    the same command run again finds the round it made and does not make it twice."""
    return f"retry of batch {batch_id}, round {round_no}"


def plan_retry(
    ledger: Ledger, keys: Iterable[Key] | None = None, options: ConvertOptions | None = None
) -> ConversionPlan:
    """Plan the ``not_converted`` leads (of ``keys``, or of the whole ledger) again.

    Parameters
    ----------
    ledger : Ledger
    keys : iterable of (org, lead id), optional
        The leads to consider; default every lead of the ledger.
    options : ConvertOptions, optional
        New options; default each lead's last chunk's.

    Returns
    -------
    ConversionPlan
        Chunks of the leads' next attempt (empty when none is ``not_converted``).
    """
    status = ledger.latest_by_lead(None if keys is None else list(keys))
    items = [
        (
            org,
            st.chunk.dc,
            PlannedLead(lead, st.attempt + 1, st.chunk_id),
            options or st.chunk.options,
        )
        for (org, lead), st in status.items()
        if st.outcome == "not_converted" and not st.open
    ]
    leads = pd.DataFrame(
        {
            "org": [org for org, _, _, _ in items],
            "dc": [dc for _, dc, _, _ in items],
            "lead_id": [lead.lead_id for _, _, lead, _ in items],
        },
        dtype="string",
    )
    leads["row"] = pd.array(range(1, len(items) + 1), dtype="Int64")
    chunks = chunk_leads(items)
    text = "\n".join(sorted(f"{o}\t{x.lead_id}\t{x.attempt}" for o, _, x, _ in items))
    print_key = "retry:" + hashlib.sha256(text.encode()).hexdigest()
    skipped = pd.DataFrame(columns=["org", "lead_id", "row", "why", "chunk_id"])
    return ConversionPlan(
        leads, chunks, skipped, options or ConvertOptions(), print_key, None, estimate(chunks)
    )


def retry_not_converted(
    store: str | os.PathLike | object,
    orgs: Mapping[str, OrgCredentials] | None = None,
    *,
    config: str | os.PathLike | None = None,
    leads: Iterable[Key] | None = None,
    options: ConvertOptions | None = None,
    diagnose_credits: int = 0,
    settle_s: float = SETTLE_S,
    policy: PollPolicy | None = None,
    deadline_s: float | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] | None = None,
    progress: bool = False,
):
    """Convert again the leads of a store whose outcome is ``not_converted``: plan them as
    their next attempt (:func:`plan_retry`), schedule, watch and reconcile them.

    Parameters
    ----------
    store : path or SnapshotStore
        The store of earlier conversions (its run lock is held).
    orgs, config : optional
        The orgs (default :func:`~zcrm_notebook.inputs.orgs.load_orgs` of ``config``).
    leads : iterable of (org, lead id), optional
        Only these leads (default: every ``not_converted`` lead of the store).
    options : ConvertOptions, optional
        New options (a deal, an owner); default each lead's earlier ones.
    diagnose_credits, settle_s, policy, deadline_s, clock, sleep, progress
        As for :func:`~zcrm_notebook.convert.loop.convert_leads`.

    Returns
    -------
    ConversionResult
        For the leads retried, and those of an earlier retry still open (resumed):
        ``leads`` has one row each, their new outcome.

    Raises
    ------
    ConfigError
        No org configured, or another run holds the store.
    """
    from .loop import run_plan
    from .session import open_session

    with open_session(
        store,
        orgs,
        config=config,
        policy=policy,
        clock=clock,
        sleep=sleep,
        settle_s=settle_s,
        deadline_s=deadline_s,
    ) as s:
        s.resume()
        wanted = list(leads) if leads is not None else list(s.ledger.latest_by_lead())
        resumed = [(c.org, lead) for c in s.scope(wanted) for lead in c.lead_ids]
        plan = plan_retry(s.ledger, wanted, options)
        batch = s.ledger.add_batch(plan, at=s.clock(), kind="retry") if plan.chunks else None
        keys = list(dict.fromkeys([*zip(plan.leads["org"], plan.leads["lead_id"]), *resumed]))
        return run_plan(s, plan, keys, batch, diagnose_credits=diagnose_credits, progress=progress)
