"""Job timelines for the frontier: the simulator's realistic scenario and a per-org FIFO one.

A scenario is a list of :class:`SimJob` (``created_at`` set), in the order the jobs were
scheduled; each org's jobs keep that order. Both scenarios draw the same jobs (leads,
speeds, stalls, failures) from the simulator's own generator; they differ only in when a
job leaves the queue:

- ``realistic``: each job waits an independent 0-300 s (the simulator's realistic mode);
- ``fifo``: each org runs one job at a time, in the order scheduled: a job starts
  ``gap_s`` after the previous job of its org finished (the first one after 0-30 s).
- ``fifo2``: as ``fifo`` with two jobs of an org running at once (a robustness check for
  the policies that learn the order);
- ``fast``: ``realistic`` converting 10x faster (a robustness check of the rate prior).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import replace

from .internals import SimClock, build_default_scenario

T0 = SimClock().time()  # the simulator's default start (2026-01-01T00:00:00Z)


def realistic(n_jobs: int, seed: int) -> list:
    """The simulator's realistic scenario (``default_scenario(realistic=True)``) at ``T0``."""
    _, jobs, _ = build_default_scenario(n_jobs=n_jobs, seed=seed, realistic=True)
    return [replace(j, created_at=T0) for j in jobs]


def fifo(n_jobs: int, seed: int, slots: int = 1, gap_s: tuple = (0.0, 2.0)) -> list:
    """Same jobs, but each org runs ``slots`` jobs at a time, in scheduled order."""
    rng = random.Random(f"fifo:{seed}")
    out, free_at = [], {}
    for job in realistic(n_jobs, seed):
        slots_free = free_at.setdefault(job.org, [T0 + rng.uniform(0, 30) for _ in range(slots)])
        start = heapq.heappop(slots_free)
        job = replace(job, queue_delay_s=start - T0)
        heapq.heappush(slots_free, job.finish_at() + rng.uniform(*gap_s))
        out.append(job)
    return out


def fast(n_jobs: int, seed: int) -> list:
    """The realistic jobs converting 10x faster (2-50 leads/s): beyond the candidate
    policies' assumed fastest rate (10 leads/s), to see what a wrong prior costs."""
    return [replace(j, leads_per_s=10 * j.leads_per_s) for j in realistic(n_jobs, seed)]


SCENARIOS = {
    "realistic": realistic,
    "fast": fast,
    "fifo": fifo,
    "fifo2": lambda n_jobs, seed: fifo(n_jobs, seed, slots=2),
}
