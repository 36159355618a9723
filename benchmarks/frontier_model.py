"""A discrete-event model of a poll run: a schedule against job timelines, without HTTP.

Calls take no simulated time (as in a poll run on the simulator's manual ``SimClock``, where
the clock only moves while the loop sleeps), so a poll happens exactly when it is due. The
answers are the simulator's own (``SimJob.truth`` through the package's ``parse_status``).
Two schedules are modelled:

- :class:`ScheduleModel`: the package's :class:`~zcrm_notebook.poll.policy.Schedule`, driven
  as the poll loop drives it (one random stream, polls brought forward when it says so);
  ``PollPolicy.fixed(dt)`` through it is fixed-interval polling;
- :class:`PreviousAdaptive`: the adaptive schedule of version 0.1 (interval x1.5 up to
  ``max_interval_s`` while nothing moves, a poll aimed at the predicted finish), kept here
  as the baseline of the frontier.

Limits: calls are instantaneous, so the cap on calls in flight per org and the latency never
delay a poll (second order at these rates).
"""

from __future__ import annotations

import heapq
import itertools
import random
import statistics
from dataclasses import dataclass, field

from zcrm_notebook.api.status import JobState, JobStatus, parse_status
from zcrm_notebook.poll.jitter import Jitter
from zcrm_notebook.poll.policy import PollPolicy, Schedule
from zcrm_notebook.simulator.crm import CrmMixin

__all__ = ["Result", "ScheduleModel", "PreviousAdaptive", "simulate", "delay_stats"]


def status_answer(job, t: float) -> JobStatus | None:
    """What the simulator answers for ``job`` (a SimJob) at sim time ``t``; None before it
    exists (the simulator answers INVALID_DATA)."""
    truth = job.truth(t)
    if truth is None:
        return None
    item = CrmMixin._data_item(truth, truth.status)
    return parse_status(job.job_id, {"data": [item]})


@dataclass
class Result:
    """Calls and finish delays (first poll that sees a job final minus its true finish)."""

    calls: int
    n_jobs: int
    delays: list[float] = field(default_factory=list)
    unseen: int = 0  # jobs never seen final (should be 0)

    @property
    def calls_per_job(self) -> float:
        return self.calls / self.n_jobs

    def summary(self) -> dict:
        return {"calls_per_job": self.calls_per_job, **delay_stats(self.delays),
                "unseen": self.unseen}  # fmt: skip


def delay_stats(delays: list[float]) -> dict:
    """Median, p95 (``quantiles(n=20)[18]``, as ``bench_poll``), max; NaN when empty."""
    if not delays:
        return {"median_s": float("nan"), "p95_s": float("nan"), "max_s": float("nan")}
    p95 = statistics.quantiles(delays, n=20)[18] if len(delays) > 1 else delays[0]
    return {"median_s": statistics.median(delays), "p95_s": p95, "max_s": max(delays)}


class ScheduleModel:
    """The package's schedule for one run (``policy.seed`` seeds its jitter)."""

    def __init__(self, policy: PollPolicy, name: str) -> None:
        self.policy, self.name = policy, name

    def begin(self, jobs: list) -> None:
        self.schedule = Schedule(self.policy, Jitter(self.policy.seed))
        for job in jobs:
            self.schedule.add(job.job_id, job.org)

    def answer(self, job_id: str, st: JobStatus | None, now: float) -> tuple[float | None, list]:
        """(next poll or None when final, polls to bring forward) after an answer."""
        if st is None:  # unknown id: the loop asks again after min_interval_s
            return now + self.policy.min_interval_s, []
        return self.schedule.answer(job_id, st, now)


class PreviousAdaptive:
    """Version 0.1's adaptive schedule (min/max interval, growth x1.5, aim at the ETA)."""

    def __init__(self, min_s: float, max_s: float, name: str, growth: float = 1.5) -> None:
        self.min_s, self.max_s, self.growth, self.name = min_s, max_s, growth, name
        self.jitter, self.margin_s = 0.1, 0.5

    def begin(self, jobs: list) -> None:
        self.rng = random.Random(1)
        self.state: dict[str, dict] = {j.job_id: {"interval": self.min_s} for j in jobs}

    def answer(self, job_id: str, st: JobStatus | None, now: float) -> tuple[float | None, list]:
        if st is None:
            return now + self.min_s, []
        if st.is_final:
            return None, []
        s = self.state[job_id]
        prev, prev_at = s.get("last"), s.get("last_at")
        moved = prev is None or st.counts != prev.counts or st.status != prev.status
        started = prev is not None and prev.status != st.status
        if started:
            s["interval"] = self.min_s
        elif moved:
            s["interval"] = max(self.min_s, s["interval"] / self.growth)
        else:
            s["interval"] = min(self.max_s, s["interval"] * self.growth)
        s["last"], s["last_at"] = st, now
        delay = s["interval"] * self.rng.uniform(1 - self.jitter, 1 + self.jitter)
        eta = self._eta_s(s, st, now, prev, prev_at)
        if eta is not None:
            delay = min(delay, eta + self.margin_s)
        return now + delay, []

    @staticmethod
    def _eta_s(s: dict, st: JobStatus, now: float, prev, prev_at) -> float | None:
        processed = (st.converted_count or 0) + (st.failed_count or 0)
        if not st.total_count or st.status != JobState.IN_PROGRESS:
            return None
        remaining = max(0, st.total_count - processed)
        if "origin" not in s:
            s["origin"] = (now, processed)
            if prev is None or prev.status != JobState.SCHEDULED or not processed:
                return None
            return remaining * (now - prev_at) / 2 / processed
        t0, p0 = s["origin"]
        if processed <= p0 or now <= t0:
            return None
        return remaining * (now - t0) / (processed - p0)


def simulate(jobs: list, model, t0: float, horizon_s: float = 7 * 86400) -> Result:
    """Run ``model`` against ``jobs`` (SimJobs, in scheduled order) from ``t0`` to the end."""
    model.begin(jobs)
    by_id = {j.job_id: j for j in jobs}
    heap: list = []
    due: dict[str, tuple[float, int]] = {}
    seq = itertools.count()

    def push(job_id: str, t: float) -> None:
        due[job_id] = (t, next(seq))
        heapq.heappush(heap, (*due[job_id], job_id))

    for job in jobs:
        push(job.job_id, t0)
    calls, seen = 0, {}
    while heap:
        t, s, job_id = heapq.heappop(heap)
        if due.get(job_id) != (t, s):
            continue  # moved earlier: a stale entry
        if t - t0 > horizon_s:
            break
        del due[job_id]
        calls += 1
        st = status_answer(by_id[job_id], t)
        next_at, moves = model.answer(job_id, st, t)
        if next_at is None:
            seen[job_id] = t
        else:
            push(job_id, max(next_at, t))
        for other, at in moves:
            if other in due and at < due[other][0]:
                push(other, max(at, t))
    delays = [seen[j.job_id] - j.finish_at() for j in jobs if j.job_id in seen]
    return Result(calls, len(jobs), delays, unseen=len(jobs) - len(seen))
