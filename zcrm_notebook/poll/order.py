"""What an org's answers say about the order in which its jobs start (pure, O(1) per answer).

Some orgs run their mass-convert jobs one (or a few) at a time, in the order they were
scheduled. Then a job with ``m`` unfinished jobs ahead of it cannot start before some of them
finish, and polling it is wasted. :class:`OrgOrder` keeps the evidence:

- the org *shows an order* once ``MIN_EVIDENCE`` of its jobs were seen started and no job
  was ever seen ``scheduled`` after a job given later (its position in the jobs input) had
  been seen started; one job seen out of order turns the order off for the org for the run;
- ``slots``: the most jobs seen started and not yet seen final at once.

While the order holds, only the first ``slots + 1`` waiting jobs of the org are polled on the
bounded schedule (the extra one shows a slot that frees up); the others are *deferred*: their
next poll waits for a job ahead to finish (then the next in line is polled at its earliest
possible finish) or for ``PollPolicy.order_safety_s``, so no job waits unpolled forever.
Measured by ``benchmarks/bench_frontier.py`` (scenario ``fifo``: 3-4x fewer calls at equal
delay; scenario ``realistic``: no order is seen, the schedule is the bounded one).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from ..api.status import JobState

if TYPE_CHECKING:
    from .policy import JobTrack, PollPolicy

__all__ = ["OrgOrder", "MIN_EVIDENCE"]

#: Jobs of an org seen started before its order is trusted.
MIN_EVIDENCE = 3


class OrgOrder:
    """The queue evidence of one org: its jobs in the order given, and what was seen.

    Attributes
    ----------
    ordered : bool
        No job was seen out of order (yet).
    started : int
        Jobs seen started (any answer other than ``scheduled``).
    slots : int
        Most jobs seen started and not final at once (at least 1).
    """

    __slots__ = ("jobs", "head", "ordered", "started", "running", "slots", "max_started_pos")

    def __init__(self) -> None:
        self.jobs: list[JobTrack] = []  # in position order
        self.head = 0  # index of the first job not seen final (all before it are final)
        self.ordered = True
        self.started = self.running = 0
        self.slots = 1
        self.max_started_pos = -1

    def join(self, job: Hashable) -> JobTrack:
        """A new job of the org, after those already added; returns its track."""
        from .policy import JobTrack

        track = JobTrack(job, self, len(self.jobs))
        self.jobs.append(track)
        return track

    @property
    def on(self) -> bool:
        """The org shows an order: deferring its later jobs is safe."""
        return self.ordered and self.started >= MIN_EVIDENCE

    def note(self, track: JobTrack, status: JobState, now: float, policy: PollPolicy) -> list:
        """A non-final answer of ``track``. Returns the polls to bring forward (job, time)."""
        if status == JobState.SCHEDULED:
            if self.ordered and self.max_started_pos > track.position:
                self.ordered = False  # seen waiting while a later job runs: no order
                return [(t.job, now) for t in self.jobs[self.head :] if t.deferred]
            return []
        if not track.started:
            return self._start(track, now)
        return []

    def _start(self, track: JobTrack, now: float) -> list:
        track.started = True
        self.started += 1
        self.running += 1
        self.max_started_pos = max(self.max_started_pos, track.position)
        if self.running > self.slots:  # more run at once than assumed: undo those deferrals
            self.slots = self.running
            return [(t.job, now) for t in self.first_waiting(self.slots + 1) if t.deferred]
        return []

    def first_waiting(self, n: int) -> list[JobTrack]:
        """The first ``n`` jobs not seen final, in position order (O(n + finals skipped))."""
        out: list[JobTrack] = []
        for t in self.jobs[self.head :]:
            if len(out) >= n:
                break
            if not t.final:
                out.append(t)
        return out

    def defers(self, track: JobTrack) -> bool:
        """True when ``track`` (queued) may wait for the jobs ahead of it."""
        return self.on and track not in self.first_waiting(self.slots + 1)

    def finished(self, track: JobTrack, now: float, policy: PollPolicy) -> list:
        """``track`` is final or given up. Returns the polls to bring forward (job, time):
        the jobs now among the first ``slots`` in line, at their earliest possible finish."""
        if track.final:
            return []
        if not track.started and track.last is not None and track.last.is_final:
            self._start(track, now)  # seen final at once: it started (and ended) unseen
        track.final = True
        if track.started:
            self.running -= 1
        while self.head < len(self.jobs) and self.jobs[self.head].final:
            self.head += 1
        if not self.on:
            return []
        moves = []
        rate = policy.rate_prior_leads_per_s
        for nxt in self.first_waiting(self.slots):
            if nxt.started or nxt.last is None:
                continue
            begun = nxt.sched_at if nxt.sched_at is not None else now
            if self.slots == 1 and nxt.position > 0:
                pred = self.jobs[nxt.position - 1]
                if pred.open_at is not None:  # it could not start while its predecessor ran
                    begun = max(begun, pred.open_at)
            total = nxt.last.total_count or 0
            moves.append((nxt.job, max(now, begun + total / rate)))
        return moves
