"""Poll-round throughput and API economy, against the simulator on loopback."""

from __future__ import annotations

import multiprocessing
import statistics
import time
import warnings

import requests

from zcrm_notebook.auth import OrgCredentials
from zcrm_notebook.errors import DataQualityWarning
from zcrm_notebook.poll import Poller
from zcrm_notebook.poll.policy import PollPolicy
from zcrm_notebook.simulator import Faults, SimClock, SimJob, SimOrg, Simulator, default_scenario

DCS = ("us", "eu", "in", "au", "jp", "ca", "sa", "uk", "cn")


def _orgs(sim: Simulator) -> dict[str, OrgCredentials]:
    return {o.name: OrgCredentials(org=o.name, **sim.org_config(o.name)) for o in sim.orgs}


def _finished_jobs_sim(n_jobs: int, n_orgs: int, latency_s: float) -> Simulator:
    """Jobs that are already completed: one poll each makes exactly one round."""
    orgs = [
        SimOrg(f"{dc}-org", dc, f"1000.CID{i}", f"secret-{i}-xxxx", f"1000.rt.{i}.yyyy")
        for i, dc in enumerate(DCS[:n_orgs])
    ]
    jobs = [
        SimJob(str(3652397000000000000 + i), orgs[i % n_orgs].name, 10, leads_per_s=1e6)
        for i in range(n_jobs)
    ]
    return Simulator(orgs, jobs, clock=SimClock(speed=1.0), faults=Faults(latency_s=latency_s))


def _serve(conn, n_jobs: int, n_orgs: int, latency_s: float) -> None:
    """Child process: serve the simulator until told to stop (own GIL, like a remote Zoho)."""
    with _finished_jobs_sim(n_jobs, n_orgs, latency_s) as sim:
        conn.send({o.name: (sim.org_config(o.name), sim.job_ids(o.name)) for o in sim.orgs})
        conn.recv()
        conn.send(dict(sim.stats.max_in_flight))


class RemoteSim:
    """The simulator in a separate process, so the client is measured alone."""

    def __init__(self, n_jobs: int, n_orgs: int, latency_s: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, n_jobs, n_orgs, latency_s))

    def __enter__(self) -> dict:
        self.proc.start()
        return self.conn.recv()

    def __exit__(self, *exc) -> None:
        self.conn.send("stop")
        self.max_in_flight = self.conn.recv()
        self.proc.join(timeout=30)


def _naive_loop(orgs: dict) -> float:
    """What a user writes by hand: a fresh token per org, then requests.get in a for-loop."""
    started = time.perf_counter()
    for cfg, job_ids in orgs.values():
        token = requests.post(
            cfg["accounts_url"] + "/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": cfg["client_id"],
                "client_secret": cfg["client_secret"],
                "refresh_token": cfg["refresh_token"],
            },
            timeout=10,
        ).json()["access_token"]
        url = cfg["api_domain"] + "/crm/v5/Leads/actions/mass_convert"
        for job_id in job_ids:
            r = requests.get(
                url,
                params={"job_id": job_id},
                timeout=10,
                headers={"Authorization": f"Zoho-oauthtoken {token}"},
            )
            r.json()
    return time.perf_counter() - started


def poll_round(
    n_jobs: int = 2000, n_orgs: int = 4, latency_s: float = 0.02, cap: int = 5, sdk: bool = False
) -> dict:
    """One poll of every job: measured wall time vs ideal, and vs a sequential loop.

    With ``sdk``, also Zoho's Python SDK polling the same jobs one call at a time against
    the same simulator (:func:`bench_sdk.sdk_round`), under the key ``"sdk"``.
    """
    remote = RemoteSim(n_jobs, n_orgs, latency_s)
    with remote as orgs:
        creds = {name: OrgCredentials(org=name, **cfg) for name, (cfg, _) in orgs.items()}
        poller = Poller(
            {name: ids for name, (_, ids) in orgs.items()},
            creds,
            policy=PollPolicy(max_in_flight=cap, seed=1),
        )
        started = time.perf_counter()
        snaps = poller.run_snapshots()
        ours = time.perf_counter() - started
        assert len(snaps) == n_jobs and all(s.is_final for s in snaps), len(snaps)
        naive = _naive_loop(orgs)
        if sdk:
            import bench_sdk

            sdk_result = bench_sdk.sdk_round(n_jobs, n_orgs, latency_s, ours_s=ours, orgs=orgs)
    ideal = n_jobs * latency_s / (cap * n_orgs)
    return {
        "calls": n_jobs,
        "ideal_s": ideal,
        "ours_s": ours,
        "naive_s": naive,
        "measured_over_ideal": ours / ideal,
        "speedup_vs_naive": naive / ours,
        "max_in_flight_seen": max(remote.max_in_flight.values()),
        **({"sdk": sdk_result} if sdk else {}),
    }


def _economy_run(policy: PollPolicy, n_jobs: int, seed: int) -> dict:
    clock = SimClock()
    with default_scenario(n_jobs=n_jobs, seed=seed, clock=clock, realistic=True) as sim:
        ids = {
            o.name: [j for j in sim.job_ids(o.name) if j != sim.unknown_job_id] for o in sim.orgs
        }
        poller = Poller(ids, _orgs(sim), policy=policy, clock=clock.time, sleep=clock.sleep)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            snaps = poller.run_snapshots()
        truth = {j: sim.true_finish_at(j) for js in ids.values() for j in js}
    first: dict[str, float] = {}
    for s in snaps:
        if s.is_final and s.job_id not in first:
            first[s.job_id] = s.polled_at
    delays = [first[j] - t for j, t in truth.items() if j in first and t is not None]
    return {
        "calls_per_job": len(snaps) / len(truth),
        "delay_median_s": statistics.median(delays),
        "delay_p95_s": statistics.quantiles(delays, n=20)[18],
        "jobs_seen_final": len(delays),
    }


def api_economy(n_jobs: int = 200, seed: int = 11) -> dict:
    """Adaptive schedule vs fixed 5 s and fixed 30 s polling, realistic job timelines."""
    return {
        "adaptive": _economy_run(PollPolicy(seed=1), n_jobs, seed),
        "fixed_5s": _economy_run(PollPolicy.fixed(5.0, seed=1), n_jobs, seed),
        "fixed_30s": _economy_run(PollPolicy.fixed(30.0, seed=1), n_jobs, seed),
    }
