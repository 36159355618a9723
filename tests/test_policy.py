"""The schedule's guarantees, driven on a manual clock (no HTTP, no threads, no timing).

A job's answers are a pure function of time (queued, then converting at a constant rate,
optionally pausing); the driver polls each job exactly when the :class:`Schedule` says, and
moves a poll earlier when the schedule brings it forward, as the poll loop does.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import warnings
from dataclasses import dataclass

import pytest

from zcrm_notebook.api.status import JobState, JobStatus
from zcrm_notebook.errors import ConfigError
from zcrm_notebook.poll import policy as policy_module
from zcrm_notebook.poll.jitter import Jitter
from zcrm_notebook.poll.policy import DEFAULT_MAX_DELAY_S, PollPolicy, Schedule


@dataclass(frozen=True)
class Timeline:
    """A job queued until ``start``, converting ``rate`` leads/s, pausing ``stall_s`` at
    half-way."""

    job: str
    org: str
    total: int
    start: float
    rate: float
    stall_s: float = 0.0

    @property
    def finish(self) -> float:
        return self.start + self.total / self.rate + self.stall_s

    def at(self, t: float) -> JobStatus:
        if t < self.start:
            return JobStatus(
                self.job, JobState.SCHEDULED, "Scheduled", self.total, 0, self.total, 0
            )
        if t >= self.finish:
            return JobStatus(
                self.job, JobState.COMPLETED, "Completed", self.total, self.total, 0, 0
            )
        half = self.start + self.total / 2 / self.rate
        run_s = (
            (t - self.start) if t < half else max(half - self.start, t - self.start - self.stall_s)
        )
        done = min(self.total - 1, int(run_s * self.rate))
        return JobStatus(
            self.job, JobState.IN_PROGRESS, "In Progress", self.total, done, self.total - done, 0
        )


def drive(policy: PollPolicy, jobs: list[Timeline], t0: float = 0.0):
    """Poll ``jobs`` (given in scheduled order) until each is seen final.

    Returns (schedule, calls per job, delays by job, longest gap between two polls of a job).
    """
    sched = Schedule(policy, Jitter(policy.seed))
    by_id = {j.job: j for j in jobs}
    heap, seq = [], itertools.count()
    due: dict[str, tuple[float, int]] = {}

    def push(job: str, t: float) -> None:
        due[job] = (t, next(seq))
        heapq.heappush(heap, (*due[job], job))

    for j in jobs:
        sched.add(j.job, j.org)
        push(j.job, t0)
    calls, delays, last_poll, longest = 0, {}, {}, 0.0
    while heap:
        t, s, job = heapq.heappop(heap)
        if due.get(job) != (t, s):
            continue  # stale: the poll was moved
        del due[job]
        calls += 1
        longest = max(longest, t - last_poll.get(job, t))
        last_poll[job] = t
        st = by_id[job].at(t)
        next_at, moves = sched.answer(job, st, t)
        if next_at is None:
            delays[job] = t - by_id[job].finish
        else:
            push(job, next_at)
        for other, at in moves:
            if other in due and at < due[other][0]:
                push(other, max(at, t))
        assert calls < 100_000, "runaway schedule"
    return sched, calls / len(jobs), delays, longest


def realistic(n: int, seed: int, org: str = "org") -> list[Timeline]:
    rng = random.Random(seed)
    return [
        Timeline(f"j{i}", org, rng.randint(1, 50), rng.uniform(0, 300), rng.uniform(0.2, 5),
                 rng.choice([0.0] * 9 + [rng.uniform(30, 120)]))
        for i in range(n)
    ]  # fmt: skip


def fifo(n: int, seed: int, org: str = "org", slots: int = 1) -> list[Timeline]:
    """One org running ``slots`` jobs at a time, in the order given."""
    rng = random.Random(seed)
    free = [rng.uniform(0, 30) for _ in range(slots)]
    out = []
    for i in range(n):
        start = heapq.heappop(free)
        t = Timeline(f"j{i}", org, rng.randint(1, 50), start, rng.uniform(0.2, 5))
        heapq.heappush(free, t.finish + rng.uniform(0, 2))
        out.append(t)
    return out


@pytest.mark.parametrize("delay_s", [2.0, 10.0, 40.0])
def test_every_finish_is_seen_within_the_delay_bound(delay_s):
    """Rates below the prior (10 leads/s): no finish is seen more than D late, stalls too."""
    policy = PollPolicy(seed=1, max_delay_s=delay_s, min_interval_s=0.5)
    _, _, delays, _ = drive(policy, realistic(300, seed=3))
    assert len(delays) == 300
    assert max(delays.values()) <= delay_s + 1e-6
    assert min(delays.values()) >= 0


def test_predictable_finishes_are_aimed_at():
    """A job seen converting is polled just after its predicted finish: with the aim, the
    median delay is well below the one without, for fewer calls."""
    jobs = realistic(300, seed=4)
    aim = PollPolicy(seed=1, max_delay_s=20.0, min_interval_s=0.5)
    blind = PollPolicy(seed=1, max_delay_s=20.0, min_interval_s=0.5, use_eta=False)
    _, calls_aim, d_aim, _ = drive(aim, jobs)
    _, calls_blind, d_blind, _ = drive(blind, jobs)
    median = lambda d: sorted(d.values())[len(d) // 2]  # noqa: E731
    assert median(d_aim) < 0.7 * median(d_blind)
    assert calls_aim <= calls_blind * 1.1


def test_fixed_polls_every_interval():
    policy = PollPolicy.fixed(7.0, seed=1)
    job = Timeline("j", "org", 10, start=100.0, rate=1.0)
    _, calls, delays, longest = drive(policy, [job])
    assert longest == pytest.approx(7.0)
    assert calls == math.ceil(job.finish / 7.0) + 1 - (job.finish % 7.0 == 0)
    assert delays["j"] < 7.0


def test_the_order_of_a_fifo_org_is_learned():
    """One job at a time, in order: far fewer calls, the same delay bound."""
    jobs = fifo(40, seed=5)
    plain = PollPolicy(seed=1, max_delay_s=10.0, use_order=False)
    ordered = PollPolicy(seed=1, max_delay_s=10.0)
    _, calls_plain, d_plain, _ = drive(plain, jobs)
    sched, calls_ordered, d_ordered, longest = drive(ordered, jobs)
    assert sched.orgs["org"].on  # (slots may read 2: a start seen before the last finish)
    assert calls_ordered <= 0.5 * calls_plain
    assert max(d_ordered.values()) <= 10.0 + 1e-6
    assert longest <= ordered.order_safety_s + 1e-6  # no job waits unpolled forever


def test_a_job_started_out_of_order_turns_the_order_off():
    jobs = fifo(12, seed=6)
    # job 8 starts at once, while 0..7 still wait for each other
    jobs[8] = Timeline("j8", "org", jobs[8].total, 1.0, jobs[8].rate)
    sched, _, delays, _ = drive(PollPolicy(seed=1, max_delay_s=10.0), jobs)
    assert not sched.orgs["org"].ordered
    assert max(delays.values()) <= 10.0 + 1e-6


def test_two_slots_are_learned_and_the_bound_still_holds():
    jobs = fifo(40, seed=7, slots=2)
    sched, _, delays, longest = drive(PollPolicy(seed=1, max_delay_s=10.0), jobs)
    assert sched.orgs["org"].slots >= 2
    assert len(delays) == 40
    assert longest <= PollPolicy(max_delay_s=10.0).order_safety_s + 1e-6


def test_orgs_are_independent():
    jobs = fifo(15, seed=8, org="a") + realistic(15, seed=8, org="b")
    jobs = [Timeline(j.job + j.org, j.org, j.total, j.start, j.rate) for j in jobs]
    sched, _, delays, _ = drive(PollPolicy(seed=1, max_delay_s=10.0), jobs)
    assert sched.orgs["a"].on and not sched.orgs["b"].on
    assert max(delays.values()) <= 10.0 + 1e-6


def test_delay_bound_names_and_defaults():
    assert PollPolicy().delay_s == DEFAULT_MAX_DELAY_S
    assert PollPolicy(max_interval_s=40).delay_s == 40  # the former name
    assert PollPolicy(max_delay_s=40, max_interval_s=40).delay_s == 40
    with pytest.raises(ConfigError, match="max_interval_s"):
        PollPolicy(max_delay_s=10, max_interval_s=40)
    for bad in ({"max_delay_s": 0}, {"rate_prior_leads_per_s": -1.0},
                {"rate_prior_leads_per_s": math.nan}, {"eta_margin_s": -1}):  # fmt: skip
        with pytest.raises(ConfigError, match=next(iter(bad))):
            PollPolicy(**bad)


def test_growth_is_deprecated_with_one_warning(monkeypatch):
    monkeypatch.setattr(policy_module, "_warned_growth", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PollPolicy(growth=1.5)
        PollPolicy(growth=2.0)
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "growth" in str(caught[0].message)


def test_answers_that_flap_or_go_back_never_break_the_schedule():
    """Counts 3, 4, 3, 4, ... (a hostile or buggy server): every answer gets a next poll
    within the bound, none from a zero or negative rate."""
    policy = PollPolicy(seed=1, max_delay_s=10.0)
    sched = Schedule(policy, Jitter(1))
    sched.add("j", "org")
    t = 0.0
    for n in range(40):
        done = 3 + n % 2
        st = JobStatus("j", JobState.IN_PROGRESS, "In Progress", 10, done, 10 - done, 0)
        next_at, _ = sched.answer("j", st, t)
        assert next_at is not None and t < next_at <= t + policy.longest_gap_s
        t = next_at


def test_a_jobs_next_poll_does_not_depend_on_the_order_answers_are_handled():
    """Answers that come back at the same moment are handled in the order their threads
    finished; with one shared random stream, the jitter (so the schedule) changed run to
    run for the same seed. Each job draws its own: any order gives the same polls."""
    policy = PollPolicy(seed=3)

    def next_polls(order: list[str]) -> dict:
        sched = Schedule(policy, Jitter(policy.seed))
        for job in ("a", "b", "c"):
            sched.add(job, "org")
        out = {}
        for t in (0.0, 20.0, 40.0):
            for job in order:
                st = JobStatus(job, JobState.SCHEDULED, "Scheduled", 50, 0, 50, 0)
                out[job, t] = sched.answer(job, st, t)[0]
        return out

    assert next_polls(["a", "b", "c"]) == next_polls(["c", "a", "b"]) == next_polls(["b", "c", "a"])


def test_jitter_draws_are_reproducible_per_key_and_spread():
    one, other = Jitter(7), Jitter(7)
    a = [one.uniform("a", 0.9, 1.0) for _ in range(3)]
    one.uniform("b", 0.9, 1.0)
    assert [other.uniform("a", 0.9, 1.0) for _ in range(3)] == a  # other keys do not shift it
    assert len(set(a)) == 3 and all(0.9 <= x < 1.0 for x in a)
    draws = [Jitter(None).random("a") for _ in range(200)]  # unseeded: a salt per run
    assert len(set(draws)) == 200 and 0.3 < sum(draws) / 200 < 0.7
    assert Jitter(8).random("a") != Jitter(7).random("a")


class OrderedOrg:
    """One org of jobs a-e run one at a time in order: a, b, c have started, so the order
    holds; d and e are queued at 30 s (e deferred: it waits for the jobs ahead)."""

    def __init__(self) -> None:
        self.sched = Schedule(PollPolicy(seed=1), Jitter(1))
        for job in "abcde":
            self.sched.add(job, "org")
        self.answer("a", JobState.IN_PROGRESS, 1, 0.0)
        for job in "bcde":
            self.answer(job, JobState.SCHEDULED, 0, 0.0)
        for t, (done, running) in ((10.0, "ab"), (20.0, "bc")):  # one at a time, in order
            self.answer(done, JobState.COMPLETED, 10, t)
            self.answer(running, JobState.IN_PROGRESS, 1, t)
        self.answer("d", JobState.SCHEDULED, 0, 30.0)

    def answer(self, job: str, state: JobState, done: int, t: float):
        word = {JobState.SCHEDULED: "Scheduled", JobState.IN_PROGRESS: "In Progress",
                JobState.COMPLETED: "Completed"}[state]  # fmt: skip
        return self.sched.answer(job, JobStatus(job, state, word, 10, done, 10 - done, 0), t)


def test_a_deferred_job_seen_started_is_not_brought_forward_to_its_own_answer():
    """An org that shows an order defers its later jobs; when one of them is seen started
    anyway, the deferrals are undone: the job itself was moved to 'now' too, so the loop
    polled it a second time at the moment of its answer (two rows with one polled_at)."""
    org = OrderedOrg()
    org.answer("e", JobState.SCHEDULED, 0, 30.0)
    assert org.sched.tracks["e"].deferred  # the order holds: e waits for the jobs ahead
    next_at, moves = org.answer("e", JobState.IN_PROGRESS, 1, 40.0)  # started all the same
    assert next_at > 40.0 and "e" not in [job for job, _ in moves]


def test_no_job_is_brought_forward_to_a_moment_it_was_answered_at():
    """Answers that come back together are handled one by one: one of them undoing the
    deferrals moved another job answered at that same moment to 'now' (polled twice)."""
    org = OrderedOrg()
    org.answer("e", JobState.SCHEDULED, 0, 40.0)  # deferred, answered at 40
    assert org.sched.tracks["e"].deferred
    _, moves = org.answer("d", JobState.IN_PROGRESS, 1, 40.0)  # at 40 too: undoes deferrals
    assert ("e", 40.0) not in moves
