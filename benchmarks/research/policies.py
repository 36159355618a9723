"""Polling policies for the discrete-event model (:mod:`research.des`).

``Today`` drives the package's own :class:`JobTrack`/:class:`PollPolicy` exactly as the
scheduler does (one shared ``random.Random(policy.seed)``, next poll at
``answer time + track.observe(...)``); ``PollPolicy.fixed(dt)`` through it is the fixed
interval. The candidates below it are prototypes that only use what a poller can see:
answers, the org of each job, and the order in which the jobs were given.
"""

from __future__ import annotations

import heapq
import random
import statistics

from .des import Control, Policy
from .internals import JobTrack, PollPolicy  # noqa: F401  (PollPolicy re-exported)


class Today(Policy):
    """The package's adaptive schedule (or a fixed interval) driven as the scheduler does."""

    def __init__(self, policy: PollPolicy, name: str | None = None) -> None:
        self.policy = policy
        self.name = name or f"today(min={policy.min_interval_s:g},max={policy.max_interval_s:g})"

    def begin(self, ctl: Control) -> None:
        self.rng = random.Random(self.policy.seed)
        self.tracks = [JobTrack(interval_s=self.policy.min_interval_s) for _ in ctl.refs]
        super().begin(ctl)

    def answer(self, ctl: Control, j: int, st, now: float) -> None:
        if st is None:  # unknown id: the scheduler retries after min_interval_s
            ctl.poll_at(j, now + self.policy.min_interval_s)
            return
        ctl.poll_at(j, now + self.tracks[j].observe(st, now, self.policy, self.rng))


def fixed(interval_s: float) -> Today:
    """Fixed-interval polling (``PollPolicy.fixed``)."""
    return Today(PollPolicy.fixed(interval_s, seed=1), name=f"fixed {interval_s:g} s")


# -- candidate A: bounded delay ------------------------------------------------------------


def _processed(st) -> int:
    return (st.converted_count or 0) + (st.failed_count or 0)


class _Seen:
    """What a candidate policy remembers about one job (only what the answers said).

    While a job runs, its counts bound its conversion rate: between two answers
    ``(t1, p1)``, ``(t2, p2)`` of the same phase, ``(p2 - p1 - 1) / (t2 - t1) < rate <
    (p2 - p1 + 1) / (t2 - t1)`` (counts are whole leads). A stall or a change of pace
    only ever makes the lower bound safer; the upper bound holds only if the job did not
    pause in between. A phase ends when the bounds contradict each other; the next one
    starts from the last answer.
    """

    __slots__ = ("total", "sched_at", "phase", "phase_from", "r_lo", "r_hi", "measured")

    def __init__(self) -> None:
        self.total: int | None = None
        self.sched_at: float | None = None  # last time seen scheduled
        self.phase: list[tuple[float, int]] = []  # (time, processed) in the current phase
        self.phase_from: float | None = None  # the phase began after this time
        self.r_lo, self.r_hi = 0.0, float("inf")
        self.measured = False  # a rate was measured at least once (two moving answers)

    def running(self, now: float, p: int) -> None:
        if not self.phase:
            self.phase_from = self.sched_at
        self.phase.append((now, p))
        lo, hi = self._bounds()
        if lo > hi:  # stalled or changed pace: a new phase from the last answer
            self.phase, self.phase_from = [(now, p)], None
            lo, hi = self._bounds()
        self.r_lo, self.r_hi = lo, hi

    def _bounds(self) -> tuple[float, float]:
        lo, hi = 0.0, float("inf")
        pts = self.phase
        for i, (t1, p1) in enumerate(pts):
            for t2, p2 in pts[i + 1 :]:
                if t2 > t1:
                    lo, hi = max(lo, (p2 - p1 - 1) / (t2 - t1)), min(hi, (p2 - p1 + 1) / (t2 - t1))
        if self.phase_from is not None and pts and pts[0][0] > self.phase_from:
            lo = max(lo, pts[0][1] / (pts[0][0] - self.phase_from))
        return lo, hi

    def moving(self) -> bool:
        """The last two answers of the phase show progress."""
        return len(self.phase) >= 2 and self.phase[-1][1] > self.phase[-2][1]


class Bounded(Policy):
    """Bound the delay of every finish we cannot predict by ``delay_s``; aim at the rest.

    From what the answers said, each job has an earliest and a latest possible finish
    (remaining leads over the fastest and slowest rate its counts allow; for a queued or
    stalled job the latest is unknown). The next poll is at whichever comes first: the
    latest possible finish (plus ``margin_s``), or ``delay_s`` after the earliest. So a
    finish that cannot be predicted is seen at most ``delay_s`` late, a predictable one
    just after it happens, and a long queue or stall is polled every
    ``delay_s + (its minimum run time)`` rather than every ``delay_s``.

    Parameters
    ----------
    delay_s : float
        The knob that trades calls for delay (seconds).
    rate_prior : float
        Leads/s assumed as the fastest possible conversion rate.
    learn_rate : bool or "up"
        True: after ``learn_after`` jobs of an org were measured, assume its fastest rate
        is ``learn_factor`` x the fastest measured (never above ``rate_prior``). "up":
        ``learn_factor`` x the fastest of the org's last 50 measured jobs when that is
        above ``rate_prior`` (a prior that proves too slow is raised, never lowered).
    trust_job_rate : bool
        Let a job's own measured rate bound its earliest finish (unsafe across stalls).
    margin_s : float
        Poll this long after the latest possible finish.
    max_gap_s : float, optional
        Never wait longer (default ``max(120, 6 * delay_s)``).
    """

    def __init__(self, delay_s: float, *, rate_prior: float = 10.0, margin_s: float = 0.1,
                 max_gap_s: float | None = None, learn_rate: bool = False,
                 learn_after: int = 10, learn_factor: float = 1.5,
                 trust_job_rate: bool = False) -> None:  # fmt: skip
        self.delay_s, self.rate_prior, self.margin_s = delay_s, rate_prior, margin_s
        self.max_gap_s = max_gap_s if max_gap_s is not None else max(120.0, 6 * delay_s)
        self.learn_rate, self.trust_job_rate = learn_rate, trust_job_rate
        self.learn_after, self.learn_factor = learn_after, learn_factor
        self.name = f"bounded D={delay_s:g}"

    def begin(self, ctl: Control) -> None:
        self.seen = [_Seen() for _ in ctl.refs]
        self.fastest: dict[str, list[float]] = {}
        super().begin(ctl)

    def org_rate_hi(self, org: str) -> float:
        rates = self.fastest.get(org, [])
        if self.learn_rate == "up":  # never below the prior, above it once seen faster
            return max([self.rate_prior] + [self.learn_factor * r for r in rates[-50:]])
        if not self.learn_rate or len(rates) < self.learn_after:
            return self.rate_prior
        return min(self.rate_prior, self.learn_factor * max(rates))

    def observe(self, ctl: Control, j: int, st, now: float) -> _Seen:
        s = self.seen[j]
        s.total = st.total_count
        if st.status.value == "scheduled":
            s.sched_at = now
        elif st.status.value == "in_progress":
            s.running(now, _processed(st))
            if not s.measured and s.moving() and s.r_hi < float("inf"):
                s.measured = True
                rate = (s.r_lo + s.r_hi) / 2
                self.fastest.setdefault(ctl.refs[j].org, []).append(rate)
        return s

    def answer(self, ctl: Control, j: int, st, now: float) -> None:
        if st is None:
            ctl.poll_at(j, now + self.delay_s)
            return
        s = self.observe(ctl, j, st, now)
        ctl.poll_at(j, now + min(self.max_gap_s, self.wait_s(ctl, j, s, st)))

    def finish_window(self, ctl: Control, j: int, s: _Seen, st) -> tuple[float, float]:
        """Earliest possible and expected finish, seconds from now (expected may be inf).

        Earliest: remaining leads at the org's fastest rate (or the job's own, if trusted).
        Expected: remaining leads at the rate the counts show (middle of the bounds; with
        one answer, as if the job started half-way since it was last seen scheduled).
        """
        rem = max(0, (s.total or 0) - _processed(st))
        fastest = self.org_rate_hi(ctl.refs[j].org)
        if st.status.value != "in_progress":
            return rem / fastest, float("inf")
        if self.trust_job_rate and s.moving():
            fastest = min(fastest, s.r_hi)
        earliest = max(0, rem - 1) / fastest
        if s.moving() and s.r_hi < float("inf"):
            rate = (s.r_lo + s.r_hi) / 2
        elif len(s.phase) == 1 and s.r_lo > 0:
            rate = 2 * s.r_lo  # started half-way between the last two answers
        else:
            return earliest, float("inf")
        return earliest, rem / rate

    def org_delay_s(self, ctl: Control, org: str) -> float:
        """The delay bound of ``org`` now (the same for all; :class:`Paced` varies it)."""
        return self.delay_s

    def wait_s(self, ctl: Control, j: int, s: _Seen, st) -> float:
        delay = self.org_delay_s(ctl, ctl.refs[j].org)
        if st.status.value not in ("scheduled", "in_progress"):
            return delay
        earliest, expected = self.finish_window(ctl, j, s, st)
        return max(0.0, min(expected + self.margin_s, earliest + delay))


# -- candidate C: the org's queue order, when the answers show one -------------------------


class _OrgQueue:
    """What an org's answers say about its queue: do its jobs start in the order given,
    how many run at once, and how often one finishes."""

    def __init__(self, jobs: list[int]) -> None:
        self.jobs = jobs  # job indexes in position order
        self.started_at: dict[int, float] = {}  # first answer that was not "scheduled"
        self.final_at: dict[int, float] = {}
        self.last_open: dict[int, float] = {}  # last answer that was not final
        self.max_started_pos = -1
        self.ordered = True  # no job seen scheduled after a later one started
        self.slots = 1  # most jobs seen running at once

    def gaps(self) -> list[float]:
        f = sorted(self.final_at.values())
        return [b - a for a, b in zip(f, f[1:])]

    def waiting(self) -> list[int]:
        """Jobs not seen final, in position order."""
        return [i for i in self.jobs if i not in self.final_at]


class Ordered(Bounded):
    """:class:`Bounded`, plus the org's queue order when its answers show one.

    An org shows an order once ``min_evidence`` of its jobs were seen started and none
    was ever seen scheduled after a later one (by position in the jobs input) started;
    ``slots`` is the most jobs seen started and not yet seen final at once. Then a queued
    job with ``m >= slots`` unfinished jobs ahead of it cannot start before
    ``m - slots + 1`` of them finish; the first ``slots + 1`` in line are polled as by
    :class:`Bounded` (the extra one would show a free slot), the others are deferred:

    - ``defer="pull"``: it is not polled until a job ahead is seen final and it becomes one
      of the first ``slots`` in line (then it is polled at its earliest possible finish,
      counted from the last answer that showed its predecessor unfinished), or until
      ``safety_s`` has passed;
    - ``defer="quantile"``: it is polled after a low quantile (mean - ``z`` sd) of that
      many of the org's observed gaps between finishes, at most ``safety_s``; pulled too.

    One job seen out of order switches the org back to plain :class:`Bounded` for good
    (its deferred jobs are polled at once).
    """

    def __init__(self, delay_s: float, *, defer: str = "pull", z: float = 2.0,
                 safety_s: float | None = None, min_evidence: int = 3, **kw) -> None:  # fmt: skip
        super().__init__(delay_s, **kw)
        self.defer, self.z, self.min_evidence = defer, z, min_evidence
        self.safety_s = safety_s if safety_s is not None else max(300.0, 10 * delay_s)
        self.name = f"ordered({defer}) D={delay_s:g}"

    def begin(self, ctl: Control) -> None:
        by_org: dict[str, list[int]] = {}
        for ref in ctl.refs:
            by_org.setdefault(ref.org, []).append(ref.index)
        self.queues = {org: _OrgQueue(js) for org, js in by_org.items()}
        super().begin(ctl)

    def on(self, q: _OrgQueue) -> bool:
        return q.ordered and len(q.started_at) >= self.min_evidence

    def _track(self, ctl: Control, j: int, st, now: float) -> _OrgQueue:
        ref = ctl.refs[j]
        q = self.queues[ref.org]
        state = "final" if st.is_final else st.status.value
        if state == "scheduled" and q.max_started_pos > ref.position and q.ordered:
            q.ordered = False
            for i in q.waiting():  # deferred jobs: back to the plain schedule, now
                if ctl.due[i] is not None and ctl.due[i] > now + self.max_gap_s:
                    ctl.poll_at(i, now)
        if state != "scheduled" and j not in q.started_at:
            q.started_at[j] = now
            q.max_started_pos = max(q.max_started_pos, ref.position)
        if state == "in_progress":
            started = [i for i in q.jobs if i in q.started_at and i not in q.final_at]
            slots = len(started)  # seen started and not seen final (an upper bound)
            if slots > q.slots:  # more run at once than we thought: undo the deferrals
                q.slots = slots
                for i in q.waiting()[: slots + 1]:
                    if ctl.due[i] is not None and ctl.due[i] > now + self.max_gap_s:
                        ctl.poll_at(i, now)
        if state == "final":
            q.final_at[j] = now
        else:
            q.last_open[j] = now
        return q

    def _defer_s(self, ctl: Control, j: int, q: _OrgQueue) -> float:
        """How long job ``j`` (queued) may be left alone (0 when the org shows no order)."""
        if not self.on(q):
            return 0.0
        waiting = q.waiting()
        n = waiting.index(j) - q.slots if j in waiting else 0  # one more probes the slots
        if n <= 0:
            return 0.0
        if self.defer == "pull":
            return self.safety_s
        gaps = q.gaps()
        if len(gaps) < 2:
            return 0.0
        mu, sd = statistics.fmean(gaps), statistics.pstdev(gaps)
        return min(self.safety_s, max(0.0, n * mu - self.z * sd * n**0.5))

    def answer(self, ctl: Control, j: int, st, now: float) -> None:
        if st is None:
            ctl.poll_at(j, now + self.delay_s)
            return
        q = self._track(ctl, j, st, now)
        s = self.observe(ctl, j, st, now)
        wait = min(self.max_gap_s, self.wait_s(ctl, j, s, st))
        if st.status.value == "scheduled":
            wait = max(wait, self._defer_s(ctl, j, q))
        ctl.poll_at(j, now + wait)

    def final(self, ctl: Control, j: int, st, now: float) -> None:
        q = self._track(ctl, j, st, now)
        if not self.on(q):
            return
        waiting = q.waiting()
        for i in waiting[: q.slots]:  # now among the first in line: may have just started
            s = self.seen[i]
            if s.phase or s.total is None:
                continue
            k = q.jobs.index(i)
            before = q.last_open.get(q.jobs[k - 1]) if k and q.slots == 1 else None
            if before is not None:  # it cannot have started before its predecessor ended
                s.sched_at = max(s.sched_at or before, before)
            begun = s.sched_at if s.sched_at is not None else now
            earliest = max(now, begun + s.total / self.org_rate_hi(ctl.refs[i].org))
            if ctl.due[i] is None or earliest < ctl.due[i]:
                ctl.poll_at(i, earliest)


# -- candidate B: a credit budget per org, spent on the most overdue job -------------------


class _Wanted:
    """A Control look-alike that a budgeted policy hands to its base policy: polls the
    base asks for are only wishes, kept per org by due time."""

    def __init__(self, ctl: Control, owner: Budgeted) -> None:
        self.ctl, self.owner = ctl, owner
        self.refs, self.t0 = ctl.refs, ctl.t0
        self.due: list[float | None] = [None] * len(ctl.refs)

    @property
    def now(self) -> float:
        return self.ctl.now

    def poll_at(self, j: int, t: float) -> None:
        if self.ctl.done[j]:
            return
        self.due[j] = t = max(t, self.ctl.now)
        self.owner.wish(j, t)

    def timer_at(self, key, t: float) -> None:
        self.ctl.timer_at(("base", key), t)


class Budgeted(Policy):
    """Spend at most ``calls_per_hour`` per org (token bucket of ``burst`` calls) on the
    jobs whose polls ``base`` wants most overdue; a tick with nothing due is not spent."""

    def __init__(self, base: Policy, calls_per_hour: float, burst: int = 5) -> None:
        self.base, self.every_s, self.burst = base, 3600.0 / calls_per_hour, burst
        self.name = f"budget {calls_per_hour:g}/h/org on {base.name}"

    def begin(self, ctl: Control) -> None:
        self.ctl = ctl
        self.wanted = _Wanted(ctl, self)
        self.heaps: dict[str, list] = {ref.org: [] for ref in ctl.refs}
        self.tokens = {org: float(self.burst) for org in self.heaps}
        self.filled = {org: ctl.t0 for org in self.heaps}
        self.ticking: dict[str, float | None] = {org: None for org in self.heaps}
        self.seq = 0
        self.base.begin(self.wanted)

    def wish(self, j: int, t: float) -> None:
        org = self.ctl.refs[j].org
        self.seq += 1
        heapq.heappush(self.heaps[org], (t, self.seq, j))
        tick = self.ticking[org]
        if tick is None or t < tick:
            self.ticking[org] = t
            self.ctl.timer_at(("org", org), t)

    def timer(self, ctl: Control, key, now: float) -> None:
        if key[0] == "base":
            self.base.timer(self.wanted, key[1], now)
            return
        org = key[1]
        if self.ticking[org] is None or now < self.ticking[org]:
            return  # a stale tick
        heap = self.heaps[org]
        self.tokens[org] = min(
            self.burst, self.tokens[org] + (now - self.filled[org]) / self.every_s
        )
        self.filled[org] = now
        while heap and self.tokens[org] >= 1 - 1e-9:
            t, _, j = heap[0]
            if ctl.done[j] or self.wanted.due[j] != t:
                heapq.heappop(heap)
                continue
            if t > now:
                break
            heapq.heappop(heap)
            self.tokens[org] -= 1
            ctl.poll_at(j, now)
        while heap and (ctl.done[heap[0][2]] or self.wanted.due[heap[0][2]] != heap[0][0]):
            heapq.heappop(heap)
        if not heap:
            self.ticking[org] = None
            return
        nxt = max(heap[0][0], now + max(1e-3, (1 - self.tokens[org]) * self.every_s))
        self.ticking[org] = nxt
        ctl.timer_at(("org", org), nxt)

    def answer(self, ctl: Control, j: int, st, now: float) -> None:
        self.wanted.due[j] = None
        self.base.answer(self.wanted, j, st, now)

    def final(self, ctl: Control, j: int, st, now: float) -> None:
        self.wanted.due[j] = None
        self.base.final(self.wanted, j, st, now)


class Paced(Ordered):
    """:class:`Ordered` whose delay bound follows a credit budget: each org's bound is
    recomputed (every ``every_s``) so that polling its queued, not deferred, jobs every
    ``bound + (their minimum run time)`` spends ``share`` of ``calls_per_hour``; the rest
    is left for the jobs that run. Never below ``floor_s``."""

    def __init__(self, calls_per_hour: float, *, share: float = 0.7, every_s: float = 10.0,
                 floor_s: float = 0.5, **kw) -> None:  # fmt: skip
        super().__init__(floor_s, **kw)
        self.rate, self.share, self.every_s, self.floor_s = (
            calls_per_hour / 3600,
            share,
            every_s,
            floor_s,
        )
        self.max_gap_s = kw.get("max_gap_s") or 600.0
        self.name = f"paced {calls_per_hour:g}/h/org"

    def begin(self, ctl: Control) -> None:
        self.bound: dict[str, tuple[float, float]] = {}  # org -> (computed at, bound)
        super().begin(ctl)

    def org_delay_s(self, ctl: Control, org: str) -> float:
        at, bound = self.bound.get(org, (None, 0.0))
        if at is not None and ctl.now - at < self.every_s:
            return bound
        q = self.queues[org]
        fastest = self.org_rate_hi(org)
        costs = []
        for i in q.waiting():
            s = self.seen[i]
            if not s.phase and (ctl.due[i] is None or ctl.due[i] - ctl.now < self.safety_s):
                costs.append((s.total or 0) / fastest)
        target = self.rate * self.share
        lo, hi = self.floor_s, 3600.0
        if sum(1 / (lo + c) for c in costs) <= target:
            hi = self.floor_s  # the budget allows the floor
        else:
            for _ in range(40):  # bisection: the bound that spends the target
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if sum(1 / (mid + c) for c in costs) > target else (lo, mid)
        self.bound[org] = (ctl.now, hi)
        return hi
