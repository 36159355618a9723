"""Job timelines for the frontier: the simulator's realistic scenario and a per-org FIFO one.

A scenario is a list of :class:`~zcrm_notebook.simulator.SimJob` (``created_at`` set), in
the order the jobs were scheduled. Both draw the same jobs (leads, speeds, stalls, failures)
from the simulator's own generator; they differ only in when a job leaves the queue:

- ``realistic``: each job waits an independent 0-300 s (the simulator's realistic mode);
- ``fifo``: each org runs one job at a time, in the order scheduled: a job starts 0-2 s
  after the previous job of its org finished (the first one after 0-30 s).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import replace

from zcrm_notebook.simulator import SimClock
from zcrm_notebook.simulator.scenario import build_default_scenario

__all__ = ["T0", "SCENARIOS", "realistic", "fifo"]

T0 = SimClock().time()  # the simulator's default start (2026-01-01T00:00:00Z)


def realistic(n_jobs: int, seed: int) -> list:
    """The simulator's realistic scenario (``default_scenario(realistic=True)``) at ``T0``."""
    _, jobs, _ = build_default_scenario(n_jobs=n_jobs, seed=seed, realistic=True)
    return [replace(j, created_at=T0) for j in jobs]


def fifo(n_jobs: int, seed: int, slots: int = 1) -> list:
    """Same jobs, but each org runs ``slots`` jobs at a time, in scheduled order."""
    rng = random.Random(f"fifo:{seed}")
    out, free_at = [], {}
    for job in realistic(n_jobs, seed):
        free = free_at.setdefault(job.org, [T0 + rng.uniform(0, 30) for _ in range(slots)])
        start = heapq.heappop(free)
        job = replace(job, queue_delay_s=start - T0)
        heapq.heappush(free, job.finish_at() + rng.uniform(0, 2))
        out.append(job)
    return out


SCENARIOS = {"realistic": realistic, "fifo": fifo}
