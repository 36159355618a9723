"""The polling policy and the schedule of a run's polls (pure: no I/O, no threads).

Zoho documents no push notification for mass-convert jobs, so we poll; each status GET
costs API credits shared with the org's other integrations (``docs/zoho-api.md``).
The schedule bounds how late a finish is seen by one knob, ``max_delay_s`` (D):

- each job has an *earliest possible finish*: its remaining leads at the fastest plausible
  conversion rate (``rate_prior_leads_per_s``); a finish that cannot be predicted is seen
  at most D after it, so a queued job is polled every D plus its shortest possible run;
- while a job converts, its counts bound its rate (counts are whole leads: between two
  answers ``(dp - 1) / dt < rate < (dp + 1) / dt``); the next poll is aimed just after
  the finish those bounds predict, when that comes before the D bound. A contradiction
  (a stall, a change of pace) starts the bounds afresh;
- an org whose jobs start in the order they were given, one or a few at a time
  (:mod:`zcrm_notebook.poll.order`), has only the first jobs in line polled; the others
  wait for the jobs ahead to finish (or for a safety interval). One job seen out of order
  turns this off for the org.

``PollPolicy.fixed(dt)`` is the same schedule with every finish unpredictable and no
order: a poll every ``dt``. The frontier of calls per job against finish delay, for this
policy and for fixed intervals, is measured by ``benchmarks/bench_frontier.py``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from ..api.status import JobState, JobStatus
from ..errors import ConfigError
from .jitter import Jitter, Uniform
from .order import OrgOrder

__all__ = ["PollPolicy", "JobTrack", "Schedule", "DEFAULT_MAX_DELAY_S"]

#: The delay bound when neither ``max_delay_s`` nor ``max_interval_s`` is given, seconds.
DEFAULT_MAX_DELAY_S = 13.0
_PHASE_POINTS = 8  # answers of a run phase kept for the rate bounds (the first and the last)
_warned_growth = False


@dataclass(frozen=True)
class PollPolicy:
    """How often and how hard to poll. All times in seconds.

    Parameters
    ----------
    min_interval_s : float, default 5
        Shortest gap between two polls of a job, except a poll aimed at a predicted finish;
        a finish that cannot be predicted is seen at most ``max(delay, min_interval_s)``
        late. Also the wait before asking again about an unknown job id.
    max_interval_s : float or None, default None
        The former name of ``max_delay_s`` (the longest interval of the schedule before
        version 0.2, which bounded the delay the same way): used as the delay bound when
        ``max_delay_s`` is not given.
    growth : None
        Deprecated, no effect (the schedule before version 0.2 multiplied its interval by
        it); giving it warns once.
    jitter : float, default 0.1
        Relative random spread (0.1 = up to 10 % earlier) of the bounded polls, so jobs do
        not align; never later than the bound. Also spreads the retry backoff (+/-).
    eta_margin_s : float, default 0.5
        Poll this long after the predicted finish.
    use_eta : bool, default True
        Aim a poll at the finish predicted from the job's counts.
    max_in_flight : int, default 5
        Calls in flight per org (safe on every Zoho edition, below the sub-concurrency 10).
    org_max_in_flight : mapping org -> int, optional
        Per-org overrides of ``max_in_flight``.
    timeout_s : float, default 10
        Bound of each whole call (connect, headers and body, not each read), token
        requests included; a call past it is a ``CallTimeout`` transport error.
    max_retries : int, default 3
        Retries of a transient fault (429, 5xx, connection error, timeout) before an
        ``error`` row is recorded.
    retry_base_s, retry_max_s : float, default 2 and 60
        Exponential backoff of retries (with jitter), capped; a ``Retry-After`` header wins.
    not_found_confirmations : int, default 3
        ``INVALID_DATA`` / 204 / 404 answers before a job id is given up as unknown.
    give_up_after_errors : int, default 5
        Consecutive ``error`` rows (each after its retries) before a job is given up; a job
        in error is asked again after the delay bound.
    deadline_s : float or None, default None
        Stop watching after this long ("stopped watching", not "failed").
    budget : int or None, default None
        Maximum status calls per org for the run (a cap: the schedule does not stretch to
        fit it; when it is used up the org's jobs are no longer polled).
    stalled_after_s : float, default 600
        A job whose counts have not moved this long is reported as stalled.
    give_up_unchanged_s : float or None, default 21600 (6 hours)
        A job whose status and counts have not changed for this long is given up: one
        ``error`` row with ``error_code`` ``GIVEN_UP_UNCHANGED`` saying how long and what
        it last answered, and no more polls. A status word the package does not know
        (``unknown``) is polled at the delay bound, warned about once, and given up after
        this long whatever its counts do. None: never give up.
    seed : int or None
        Seed of the jitter (tests, benchmarks).
    max_delay_s : float or None, default None (13 s)
        D: how late the finish of a job is seen at most when it cannot be predicted (a job
        that starts and ends between two polls). The knob that trades API credits for
        freshness: on the simulator's realistic jobs, 13.6 status calls per job at the
        default 13 s, p95 delay 10 s and median 2.5 s (version 0.1's default: 14.0 calls,
        p95 13.5 s, median 1.8 s), 6 calls at 40 s (``benchmarks/bench_frontier.py``).
        A job that aborts (``failed``) before its earliest possible finish can be seen later
        than D, by at most the leads it had left at ``rate_prior_leads_per_s``. Default
        :data:`DEFAULT_MAX_DELAY_S`, or ``max_interval_s`` when that is given.
    rate_prior_leads_per_s : float, default 10
        The fastest conversion rate assumed possible, leads per second: a job of n leads
        is assumed to need at least n / rate to finish once it starts. Zoho does not
        document its speed: a job converting faster is seen up to
        ``total / rate_prior - total / true rate`` later than D. Check it against your
        org (``summarize_jobs`` shows each job's rate). ``inf``: no assumption.
    use_order : bool, default True
        Learn from an org's answers whether its jobs start in the order given (see the
        module docstring) and poll only the first jobs in line while they do.

    Raises
    ------
    ConfigError
        For a non-positive interval or delay, ``max_delay_s`` and ``max_interval_s`` given
        with different values, ``jitter`` outside [0, 0.5], a cap below 1, a rate prior
        that is not a positive number, or a ``give_up_unchanged_s`` that is not a positive
        number (or None); the message names the parameter.
    """

    min_interval_s: float = 5.0
    max_interval_s: float | None = None
    growth: float | None = None
    jitter: float = 0.1
    eta_margin_s: float = 0.5
    use_eta: bool = True
    max_in_flight: int = 5
    org_max_in_flight: Mapping[str, int] = field(default_factory=dict)
    timeout_s: float = 10.0
    max_retries: int = 3
    retry_base_s: float = 2.0
    retry_max_s: float = 60.0
    not_found_confirmations: int = 3
    give_up_after_errors: int = 5
    deadline_s: float | None = None
    budget: int | None = None
    stalled_after_s: float = 600.0
    give_up_unchanged_s: float | None = 6 * 3600.0
    seed: int | None = None
    max_delay_s: float | None = None
    rate_prior_leads_per_s: float = 10.0
    use_order: bool = True

    def __post_init__(self) -> None:
        for name, ok, rule in self._checks():
            if not ok:  # also catches NaN: every comparison with NaN is False
                value = getattr(self, name)
                raise ConfigError(f"bad poll policy: {name} = {value!r} {rule}")
        if self.growth is not None:
            _warn_growth()

    def _checks(self) -> list[tuple[str, bool, str]]:
        def positive_or_none(value: float | None) -> bool:
            return value is None or value > 0

        both = self.max_delay_s is not None and self.max_interval_s is not None
        return [
            ("min_interval_s", self.min_interval_s > 0, "must be > 0"),
            ("max_delay_s", positive_or_none(self.max_delay_s), "must be > 0"),
            ("max_interval_s", positive_or_none(self.max_interval_s), "must be > 0"),
            (
                "max_interval_s",
                not both or self.max_interval_s == self.max_delay_s,
                f"is the former name of max_delay_s (= {self.max_delay_s!r}): give one",
            ),
            ("rate_prior_leads_per_s", self.rate_prior_leads_per_s > 0, "must be > 0 (or inf)"),
            ("jitter", 0.0 <= self.jitter <= 0.5, "must be within [0, 0.5]"),
            ("eta_margin_s", self.eta_margin_s >= 0, "must be >= 0"),
            ("max_in_flight", self.max_in_flight >= 1, "must be >= 1"),
            (
                "org_max_in_flight",
                all(v >= 1 for v in self.org_max_in_flight.values()),
                "caps must be >= 1",
            ),
            ("timeout_s", self.timeout_s > 0, "must be > 0"),
            ("max_retries", self.max_retries >= 0, "must be >= 0"),
            ("deadline_s", positive_or_none(self.deadline_s), "must be > 0"),
            ("budget", self.budget is None or self.budget >= 1, "must be >= 1"),
            ("not_found_confirmations", self.not_found_confirmations >= 1, "must be >= 1"),
            (
                "give_up_unchanged_s",
                positive_or_none(self.give_up_unchanged_s),
                "must be > 0 seconds (or None: never give up)",
            ),
        ]

    @classmethod
    def fixed(cls, interval_s: float, **kwargs) -> PollPolicy:
        """Poll every job every ``interval_s`` seconds (no prediction, no order, no jitter):
        the naive baseline of the benchmarks."""
        return cls(
            min_interval_s=interval_s,
            max_delay_s=interval_s,
            rate_prior_leads_per_s=math.inf,
            jitter=0.0,
            use_eta=False,
            use_order=False,
            **kwargs,
        )

    @property
    def delay_s(self) -> float:
        """D, the delay bound in force: ``max_delay_s``, else ``max_interval_s``, else 13 s."""
        for value in (self.max_delay_s, self.max_interval_s):
            if value is not None:
                return float(value)
        return DEFAULT_MAX_DELAY_S

    @property
    def longest_gap_s(self) -> float:
        """Longest wait between two polls of a job that is not deferred behind others."""
        return max(120.0, 6 * self.delay_s, self.min_interval_s)

    @property
    def order_safety_s(self) -> float:
        """Longest wait of a job deferred behind the jobs ahead of it in its org's queue."""
        return max(300.0, 10 * self.delay_s, self.min_interval_s)

    def cap(self, org: str) -> int:
        """Calls-in-flight cap of ``org``."""
        return int(self.org_max_in_flight.get(org, self.max_in_flight))

    def retry_delay_s(
        self, attempt: int, rng: Uniform, retry_after_s: float | None = None
    ) -> float:
        """Backoff before retry number ``attempt`` (1-based), jittered and capped."""
        if retry_after_s is not None:
            return min(self.retry_max_s, retry_after_s)
        base = min(self.retry_max_s, self.retry_base_s * 2 ** (attempt - 1))
        return base * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)


def _warn_growth() -> None:
    global _warned_growth
    if not _warned_growth:
        _warned_growth = True
        warnings.warn(
            "PollPolicy(growth=...) has no effect since version 0.2 and will be removed: "
            "the schedule bounds how late a finish is seen by max_delay_s",
            DeprecationWarning,
            stacklevel=4,
        )


# how far a job got, for telling progress from answers that flap (final states end polling)
_RANK = {JobState.SCHEDULED: 0, JobState.IN_PROGRESS: 1}


def _processed(st: JobStatus) -> int | None:
    if st.converted_count is None and st.failed_count is None:
        if st.total_count is not None and st.not_converted_count is not None:
            return st.total_count - st.not_converted_count
        return None
    return (st.converted_count or 0) + (st.failed_count or 0)


class JobTrack:
    """What the schedule remembers about one job (mutable, owned by the poll loop's thread).

    Attributes
    ----------
    job : hashable
        The job (the loop's key).
    position : int
        Its place among its org's jobs, in the order given.
    last, last_at : JobStatus or None, float or None
        The last answer and when it came.
    moved_at, changed_at : float or None
        Last answer whose counts or status moved / that changed (an unknown word never
        changes).
    not_found, errors, attempt : int
        Unknown-id answers and error rows in a row; retries of the current poll.
    """

    __slots__ = (
        "job", "org", "position", "last", "last_at", "moved_at", "changed_at", "not_found",
        "errors", "attempt", "sched_at", "open_at", "started", "final", "deferred", "_phase",
        "_lo", "_hi", "best",
    )  # fmt: skip

    def __init__(self, job: Hashable = None, org: OrgOrder | None = None, position: int = 0):
        self.job, self.org, self.position = job, org, position
        self.last: JobStatus | None = None
        self.last_at: float | None = None
        self.moved_at: float | None = None
        self.changed_at: float | None = None  # last answer that progressed
        self.best = (-1, -1)  # furthest (state rank, processed count) answered so far
        self.not_found = self.errors = self.attempt = 0
        self.sched_at: float | None = None  # last answer that said scheduled
        self.open_at: float | None = None  # last answer that was not final
        self.started = self.final = self.deferred = False
        self._phase: list[tuple[float, int]] = []  # (time, processed) of the current phase
        self._lo, self._hi = 0.0, math.inf  # bounds of the conversion rate, leads/s

    def observe(self, st: JobStatus, now: float, policy: PollPolicy, rng: Uniform) -> float:
        """Record a non-final answer; return the delay until the job's next poll (seconds).

        Only progress counts as a change (see :meth:`unchanged_s`): a state further than
        any answered before (scheduled, then in progress) or more leads processed than ever
        before; an ``unknown`` status never does, and is polled at the delay bound.
        """
        self._remember(st, now)
        if st.status == JobState.SCHEDULED:
            self.sched_at, self._phase = now, []
        elif st.status == JobState.IN_PROGRESS:
            self._running(now, _processed(st))
        if st.status not in (JobState.SCHEDULED, JobState.IN_PROGRESS):
            return policy.delay_s * rng.uniform(1.0 - policy.jitter, 1.0)
        earliest, expected = self.finish_window(st, policy)
        bounded = earliest + policy.delay_s * rng.uniform(1.0 - policy.jitter, 1.0)
        if expected + policy.eta_margin_s < bounded:
            return min(expected + policy.eta_margin_s, policy.longest_gap_s)
        return min(max(bounded, policy.min_interval_s), policy.longest_gap_s)

    def _remember(self, st: JobStatus, now: float) -> None:
        prev = self.last
        moved = prev is None or st.counts != prev.counts or st.status != prev.status
        # progress: a state or a processed count further than any answered before (answers
        # that flap between earlier values are not: a job of those is given up)
        unknown = st.status == JobState.UNKNOWN
        rank, processed = _RANK.get(st.status, -1), _processed(st) or 0
        progressed = not unknown and (rank > self.best[0] or processed > self.best[1])
        if prev is None or progressed:
            self.changed_at = now
        else:  # flapping answers are not movement
            moved = False
        if not unknown:
            self.best = (max(rank, self.best[0]), max(processed, self.best[1]))
        if moved:
            self.moved_at = now
        self.last, self.last_at, self.not_found, self.errors = st, now, 0, 0
        if not st.is_final:
            self.open_at = now

    def unchanged_s(self, now: float) -> float:
        """Seconds since the job last progressed (0 before any answer; see :meth:`observe`)."""
        return 0.0 if self.changed_at is None else now - self.changed_at

    def finish_window(self, st: JobStatus, policy: PollPolicy) -> tuple[float, float]:
        """(earliest possible, expected) finish of the job, seconds from its last answer.

        Earliest: the remaining leads at ``rate_prior_leads_per_s`` (for a running job, one
        lead less: it may be about to finish one). Expected: the remaining leads at the
        middle of the rate bounds its counts give (with a single answer since it was last
        seen scheduled, as if it started half-way since); ``inf`` when unknown.
        """
        processed = _processed(st) or 0
        remaining = max(0, (st.total_count or 0) - processed)
        fastest = policy.rate_prior_leads_per_s
        if st.status != JobState.IN_PROGRESS:
            return remaining / fastest, math.inf
        earliest = max(0, remaining - 1) / fastest
        if not policy.use_eta:
            return earliest, math.inf
        moving = len(self._phase) >= 2 and self._phase[-1][1] > self._phase[-2][1]
        if moving and self._hi < math.inf:
            rate = (self._lo + self._hi) / 2
        elif len(self._phase) == 1 and self._lo > 0:
            rate = 2 * self._lo  # started half-way between the last two answers
        else:
            return earliest, math.inf
        if rate <= 0:  # no rate the counts allow (answers that flap): nothing to aim at
            return earliest, math.inf
        return earliest, remaining / rate

    def _running(self, now: float, processed: int | None) -> None:
        """Add an in-progress answer to the current phase and tighten the rate bounds."""
        if processed is None:
            return
        if not self._phase:
            self._lo, self._hi = 0.0, math.inf
            if self.sched_at is not None and now > self.sched_at:
                self._lo = processed / (now - self.sched_at)  # it started after sched_at
        lo, hi = self._lo, self._hi
        for t, p in self._phase:
            if now > t:
                lo = max(lo, (processed - p - 1) / (now - t))
                hi = min(hi, (processed - p + 1) / (now - t))
        went_back = bool(self._phase) and processed < self._phase[-1][1]
        if lo > hi or hi <= 0 or went_back:  # stalled, changed pace, flapping: a new phase
            self._phase, lo, hi = [], 0.0, math.inf
        self._phase.append((now, processed))
        if len(self._phase) > _PHASE_POINTS:
            del self._phase[1]  # keep the first (the longest spans) and the latest
        self._lo, self._hi = lo, hi


class Schedule:
    """When each job of a run is next polled: its :class:`JobTrack` and its org's
    :class:`~zcrm_notebook.poll.order.OrgOrder` (pure; the poll loop and the benchmarks'
    model drive it the same way).

    Parameters
    ----------
    policy : PollPolicy
    jitter : Jitter
        The run's jitter, drawn per job (:mod:`zcrm_notebook.poll.jitter`): a job's
        schedule does not depend on the order in which answers are handled.
    """

    def __init__(self, policy: PollPolicy, jitter: Jitter) -> None:
        self.policy, self.jitter = policy, jitter
        self.tracks: dict[Hashable, JobTrack] = {}
        self.orgs: dict[str, OrgOrder] = {}

    def add(self, job: Hashable, org: str) -> JobTrack:
        """A job of ``org``, after the org's jobs added before it."""
        order = self.orgs.setdefault(org, OrgOrder())
        track = self.tracks[job] = order.join(job)
        return track

    def answer(self, job: Hashable, st: JobStatus, now: float) -> tuple[float | None, list]:
        """A status answer of ``job`` at ``now``.

        Returns
        -------
        (float or None, list of (job, float))
            The job's next poll (clock seconds; None when the answer is final) and polls of
            other jobs of its org to bring forward to those times (if later).
        """
        track = self.tracks[job]
        if st.is_final:
            return None, self.gone(job, now, st)
        delay = track.observe(st, now, self.policy, self.jitter.draws(job))
        moves: list = []
        if self.policy.use_order:
            order = _order_of(track)
            # the job's own next poll is ``delay``: a job that was deferred and is now seen
            # started is among the deferrals undone, and must not be moved to now (it was
            # polled twice at the same moment)
            moves = self._fresh(order.note(track, st.status, now, self.policy), job)
            if st.status == JobState.SCHEDULED and order.defers(track):
                delay, track.deferred = max(delay, self.policy.order_safety_s), True
            else:
                track.deferred = False
        return now + delay, moves

    def gone(self, job: Hashable, now: float, st: JobStatus | None = None) -> list:
        """``job`` is not polled again (final, or given up): the polls to bring forward."""
        track = self.tracks[job]
        if st is not None:
            track._remember(st, now)
        if not self.policy.use_order:
            track.final = True
            return []
        return self._fresh(_order_of(track).finished(track, now, self.policy), job)

    def _fresh(self, moves: list, job: Hashable) -> list:
        """``moves`` without ``job`` and without a move to a moment a job was already
        answered at: answers that come back together are handled one by one, and one
        that brought forward another job answered at that same moment polled it twice."""
        out = []
        for other, at in moves:
            last = self.tracks[other].last_at
            if other != job and (last is None or at > last):
                out.append((other, at))
        return out


def _order_of(track: JobTrack) -> OrgOrder:
    if track.org is None:  # a track made outside a Schedule
        raise ValueError(f"job {track.job!r} was not added to the schedule")
    return track.org
