"""The discrete-event model against one real poll run on the simulator (manual SimClock).

Same jobs, same policy: the real :class:`Poller` over HTTP on loopback, and
:func:`research.des.simulate`. With no jitter both must give the same calls and the same
finish delays (to float rounding of the clock); with jitter the shared random stream is
drawn in thread-completion order by the real scheduler, so only the statistics agree.
"""

from __future__ import annotations

import warnings

from . import des
from .internals import (
    DataQualityWarning,
    OrgCredentials,
    Poller,
    SimClock,
    Simulator,
    build_default_scenario,
)
from .policies import Today
from .scenarios import T0


def real_run(jobs: list, policy, n_orgs_seed: int = 11) -> des.Result:
    """Poll ``jobs`` (SimJobs) with the real Poller against the simulator; as des.Result."""
    orgs, _, _ = build_default_scenario(n_jobs=4, seed=n_orgs_seed, realistic=True)
    names = {j.org for j in jobs}
    orgs = [o for o in orgs if o.name in names]
    clock = SimClock(start=T0)
    with Simulator(orgs, jobs, clock=clock) as sim:
        creds = {o.name: OrgCredentials(org=o.name, **sim.org_config(o.name)) for o in orgs}
        ids = {o.name: [j.job_id for j in jobs if j.org == o.name] for o in orgs}
        poller = Poller(ids, creds, policy=policy, clock=clock.time, sleep=clock.sleep)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            snaps = poller.run_snapshots()
    first: dict[str, float] = {}
    for s in snaps:
        if s.is_final and s.job_id not in first:
            first[s.job_id] = s.polled_at
    delays = [first[j.job_id] - j.finish_at() for j in jobs if j.job_id in first]
    return des.Result(len(snaps), len(jobs), delays, unseen=len(jobs) - len(first))


def compare(jobs: list, policy, label: str) -> list[dict]:
    """One row each for the real run and the model, same jobs and policy."""
    real = real_run(jobs, policy).summary()
    model = des.simulate(jobs, Today(policy), T0).summary()
    return [{"setting": label, "run": "simulator (HTTP)", **real},
            {"setting": label, "run": "model (no HTTP)", **model}]  # fmt: skip
