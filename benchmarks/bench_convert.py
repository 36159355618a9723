"""Converting leads: calls, credits and seconds of ``convert_leads`` against the naive loops.

``convert_leads`` (plan, schedule, watch, reconcile) converts ``n_leads`` leads spread over
``n_orgs`` simulated orgs, on the simulator's manual clock (the jobs' waits cost no real
time; the seconds measured are the client's and the loopback server's work). The baselines
run in the same process against a fresh simulator holding the same leads:

- ``single``: one single-lead convert per lead (``POST .../Leads/{id}/actions/convert``,
  5 credits a call);
- ``per_lead_read``: the mass convert, then one Get Records call per lead instead of 100
  ids a call.

The baselines run ``naive_leads`` leads (default all of them) and are reported per
1,000 leads, like ours.
"""

from __future__ import annotations

import math
import time
import warnings

from zcrm_notebook.auth import OrgCredentials
from zcrm_notebook.client import ZohoClient
from zcrm_notebook.convert import convert_leads
from zcrm_notebook.convert.plan import CREDITS
from zcrm_notebook.errors import DataQualityWarning
from zcrm_notebook.simulator import SimClock, Simulator, default_scenario

DCS = ("us", "eu", "in", "au", "jp", "ca", "sa", "uk", "cn")


def _orgs(sim: Simulator) -> dict[str, OrgCredentials]:
    return {o.name: OrgCredentials(org=o.name, **sim.org_config(o.name)) for o in sim.orgs}


def _scenario(n_leads: int, n_orgs: int, clock: SimClock) -> Simulator:
    per_org = math.ceil(n_leads / n_orgs)
    return default_scenario(n_jobs=1, n_leads=per_org, dcs=DCS[:n_orgs], clock=clock)


def _ours(n_leads: int, n_orgs: int) -> dict:
    clock = SimClock()
    with _scenario(n_leads, n_orgs, clock) as sim:
        leads = {org: sim.lead_ids(org) for org in _orgs(sim)}
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            result = convert_leads(leads, _orgs(sim), clock=clock.time, sleep=clock.sleep)
        seconds = time.perf_counter() - started
        posts = sum(sim.stats.schedule_requests.values())
    n = sum(len(ids) for ids in leads.values())
    per_kind = result.stats.groupby("kind")[["calls", "credits"]].sum()
    outcomes = result.leads["outcome"].astype(str).value_counts().to_dict()
    return {
        "leads": n,
        "calls": int(per_kind["calls"].sum()),
        "credits": int(per_kind["credits"].sum()),
        "calls_by_kind": {k: int(v) for k, v in per_kind["calls"].items()},
        "seconds": seconds,
        "posts_seen_by_server": posts,
        "every_lead_once": len(result.leads) == n
        and not result.leads["lead_id"].duplicated().any(),
        "outcomes": outcomes,
        "stopped_reason": result.stopped_reason,
    }


def _naive(n_leads: int, n_orgs: int, naive_leads: int | None, how: str) -> dict:
    """The baseline ``how`` ("single" or "per_lead_read") over ``naive_leads`` leads."""
    clock = SimClock()
    with _scenario(n_leads, n_orgs, clock) as sim:
        orgs = _orgs(sim)
        clients = {org: ZohoClient(creds, clock=clock.time) for org, creds in orgs.items()}
        leads = [(org, lead) for org in orgs for lead in sim.lead_ids(org)]
        leads = leads[: naive_leads or len(leads)]
        calls = credits = 0
        started = time.perf_counter()
        if how == "per_lead_read":  # the mass convert first (its calls are not counted)
            for org in orgs:
                ids = [lead for o, lead in leads if o == org]
                for i in range(0, len(ids), 50):
                    clients[org].schedule_mass_convert({"ids": ids[i : i + 50]})
            started = time.perf_counter()
        for org, lead in leads:
            if how == "single":
                try:
                    clients[org].convert_lead(lead)
                except Exception:  # noqa: BLE001 - a lead Zoho refuses still cost the call
                    pass
                calls, credits = calls + 1, credits + CREDITS["convert"]
            else:
                clients[org].get_leads([lead])
                calls, credits = calls + 1, credits + CREDITS["records"]
        seconds = time.perf_counter() - started
    return {"leads": len(leads), "calls": calls, "credits": credits, "seconds": seconds}


def per_1000(run: dict) -> dict:
    k = 1000 / run["leads"]
    return {key: run[key] * k for key in ("calls", "credits", "seconds")}


def convert_economy(n_leads: int = 5000, n_orgs: int = 3, naive_leads: int | None = 1000) -> dict:
    """Calls, credits and seconds per 1,000 leads: ours and the two naive loops.

    Returns
    -------
    dict
        ``ours``, ``single``, ``per_lead_read`` (raw runs), ``per_1000`` (each run per
        1,000 leads) and the ratios ``calls_vs_single``, ``credits_vs_single``,
        ``calls_vs_per_lead_read``, ``seconds_vs_single`` (ours / naive; below 1 is better).
    """
    ours = _ours(n_leads, n_orgs)
    single = _naive(n_leads, n_orgs, naive_leads, "single")
    reads = _naive(n_leads, n_orgs, naive_leads, "per_lead_read")
    norm = {name: per_1000(run) for name, run in [("ours", ours), ("single", single)]}
    norm["per_lead_read"] = per_1000(reads)
    records_ours = ours["calls_by_kind"].get("records", 0) * 1000 / ours["leads"]
    return {
        "ours": ours,
        "single": single,
        "per_lead_read": reads,
        "per_1000": norm,
        "calls_vs_single": norm["ours"]["calls"] / norm["single"]["calls"],
        "credits_vs_single": norm["ours"]["credits"] / norm["single"]["credits"],
        "seconds_vs_single": norm["ours"]["seconds"] / norm["single"]["seconds"],
        "records_calls_vs_per_lead_read": records_ours / norm["per_lead_read"]["calls"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(convert_economy(), indent=2, default=str))
