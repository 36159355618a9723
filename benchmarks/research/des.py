"""A discrete-event model of a poll run: policies against job timelines, without HTTP.

Calls take no simulated time (as in a poll run on the simulator's manual ``SimClock``,
where the clock only moves while the scheduler sleeps), so a poll happens exactly when it
is due. Each job has at most one pending poll; a policy may move any job's poll (lazy
deletion) and set timers. Answers are the simulator's own (:func:`internals.status_answer`).
"""

from __future__ import annotations

import heapq
import itertools
import statistics
from dataclasses import dataclass, field

from .internals import status_answer


@dataclass(frozen=True)
class JobRef:
    """What a policy may know about a job before polling it: its id, org and position
    among its org's jobs in scheduled order (the order of the jobs input)."""

    index: int
    job_id: str
    org: str
    position: int


class Control:
    """The event queue handed to a policy: poll a job at a time, or set a timer."""

    def __init__(self, refs: list[JobRef], t0: float) -> None:
        self.refs, self.t0, self.now = refs, t0, t0
        self._heap: list = []
        self._seq = itertools.count()
        self._version = [0] * len(refs)
        self.due: list[float | None] = [None] * len(refs)
        self.done = [False] * len(refs)

    def poll_at(self, j: int, t: float) -> None:
        """Make job ``j``'s one pending poll happen at ``t`` (never before now)."""
        if self.done[j]:
            return
        t = max(t, self.now)
        self._version[j] += 1
        self.due[j] = t
        heapq.heappush(self._heap, (t, next(self._seq), j, self._version[j]))

    def timer_at(self, key, t: float) -> None:
        """Call ``policy.timer(ctl, key, now)`` at ``t``."""
        heapq.heappush(self._heap, (max(t, self.now), next(self._seq), None, key))

    def _next(self):
        while self._heap:
            t, _, j, tag = heapq.heappop(self._heap)
            if j is None or (not self.done[j] and tag == self._version[j]):
                return t, j, tag
        return None


class Policy:
    """Base policy: poll every job at the start; subclasses decide the next polls."""

    name = "policy"

    def begin(self, ctl: Control) -> None:
        for ref in ctl.refs:
            ctl.poll_at(ref.index, ctl.t0)

    def answer(self, ctl: Control, j: int, st, now: float) -> None:
        """A non-final answer for job ``j``: schedule its next poll."""
        raise NotImplementedError

    def final(self, ctl: Control, j: int, st, now: float) -> None:
        """Job ``j`` was seen final (no more polls of it)."""

    def timer(self, ctl: Control, key, now: float) -> None:
        """A timer set with :meth:`Control.timer_at` fired."""


@dataclass
class Result:
    """Calls and finish delays of one run."""

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
    """Median, p95 (as benchmarks/bench_poll.py: ``quantiles(n=20)[18]``), p99, mean, max."""
    q = statistics.quantiles(delays, n=100) if len(delays) > 1 else [delays[0]] * 99
    return {
        "median_s": statistics.median(delays),
        "p95_s": statistics.quantiles(delays, n=20)[18] if len(delays) > 1 else delays[0],
        "p99_s": q[98],
        "mean_s": statistics.fmean(delays),
        "max_s": max(delays),
    }


def refs_of(jobs: list) -> list[JobRef]:
    """JobRefs of SimJobs in scheduled order (position counted per org)."""
    pos: dict[str, int] = {}
    refs = []
    for i, job in enumerate(jobs):
        refs.append(JobRef(i, job.job_id, job.org, pos.get(job.org, 0)))
        pos[job.org] = pos.get(job.org, 0) + 1
    return refs


def simulate(jobs: list, policy: Policy, t0: float, horizon_s: float = 7 * 86400) -> Result:
    """Run ``policy`` against ``jobs`` (SimJobs with ``created_at``) from ``t0`` to the end."""
    ctl = Control(refs_of(jobs), t0)
    calls, seen = 0, {}
    policy.begin(ctl)
    while (item := ctl._next()) is not None:
        t, j, tag = item
        if t - t0 > horizon_s:
            break
        ctl.now = t
        if j is None:
            policy.timer(ctl, tag, t)
            continue
        calls += 1
        st = status_answer(jobs[j], t)
        if st is not None and st.is_final:
            ctl.done[j] = True
            seen[j] = t
            policy.final(ctl, j, st, t)
        elif st is None:  # not created yet: the simulator answers INVALID_DATA
            policy.answer(ctl, j, None, t)
        else:
            policy.answer(ctl, j, st, t)
    delays = [seen[j] - jobs[j].finish_at() for j in seen]
    return Result(calls, len(jobs), delays, unseen=len(jobs) - len(seen))
