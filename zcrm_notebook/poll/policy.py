"""The polling policy and the per-job adaptive schedule (pure: no I/O, no threads).

Zoho documents no push notification for mass-convert jobs, so we poll; each status GET
costs API credits shared with the org's other integrations (``docs/zoho-api.md``).
The schedule polls soon after start, stretches the interval while a job's counts do not
move, tightens it when they do, and aims the next poll just after the finish predicted
from the job's observed conversion rate.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..api.status import JobState, JobStatus
from ..errors import ConfigError

__all__ = ["PollPolicy", "JobTrack"]


@dataclass(frozen=True)
class PollPolicy:
    """How often and how hard to poll. All times in seconds.

    Parameters
    ----------
    min_interval_s : float, default 5
        Shortest gap between two polls of a job (except a poll aimed at a predicted finish).
    max_interval_s : float, default 20
        Longest gap while a job's counts do not move. It bounds how late the finish of a
        job that starts and ends between two polls is seen; raise it (e.g. 120) to save
        API credits on batches of thousands of jobs.
    growth : float, default 1.5
        Interval factor: multiplied while nothing moves, divided when counts move.
    jitter : float, default 0.1
        Relative random spread of each interval (0.1 = +/-10 %), so jobs do not align.
    eta_margin_s : float, default 0.5
        Poll this long after the predicted finish.
    use_eta : bool, default True
        Aim a poll at the finish predicted from the job's conversion rate.
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
        Consecutive ``error`` rows (each after its retries) before a job is given up.
    deadline_s : float or None, default None
        Stop watching after this long ("stopped watching", not "failed").
    budget : int or None, default None
        Maximum status calls per org for the run.
    stalled_after_s : float, default 600
        A job whose counts have not moved this long is reported as stalled.
    give_up_unchanged_s : float or None, default 21600 (6 hours)
        A job whose status and counts have not changed for this long is given up: one
        ``error`` row with ``error_code`` ``GIVEN_UP_UNCHANGED`` saying how long and what
        it last answered, and no more polls. A status word the package does not know
        (``unknown``) is polled every ``max_interval_s`` at once, warned about once, and
        given up after this long whatever its counts do. None: never give up.
    seed : int or None
        Seed of the jitter (tests, benchmarks).

    Raises
    ------
    ConfigError
        For a non-positive interval, ``min_interval_s > max_interval_s``, ``growth < 1``,
        ``jitter`` outside [0, 0.5], a cap below 1, or a ``give_up_unchanged_s`` that is
        not a positive number (or None); the message names the parameter.
    """

    min_interval_s: float = 5.0
    max_interval_s: float = 20.0
    growth: float = 1.5
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

    def __post_init__(self) -> None:
        checks = [
            ("min_interval_s", self.min_interval_s > 0, "must be > 0"),
            (
                "max_interval_s",
                self.max_interval_s >= self.min_interval_s,
                "must be >= min_interval_s",
            ),
            ("growth", self.growth >= 1.0, "must be >= 1"),
            ("jitter", 0.0 <= self.jitter <= 0.5, "must be within [0, 0.5]"),
            ("max_in_flight", self.max_in_flight >= 1, "must be >= 1"),
            (
                "org_max_in_flight",
                all(v >= 1 for v in self.org_max_in_flight.values()),
                "caps must be >= 1",
            ),
            ("timeout_s", self.timeout_s > 0, "must be > 0"),
            ("max_retries", self.max_retries >= 0, "must be >= 0"),
            ("deadline_s", self.deadline_s is None or self.deadline_s > 0, "must be > 0"),
            ("budget", self.budget is None or self.budget >= 1, "must be >= 1"),
            ("not_found_confirmations", self.not_found_confirmations >= 1, "must be >= 1"),
            (
                "give_up_unchanged_s",
                self.give_up_unchanged_s is None or self.give_up_unchanged_s > 0,
                "must be > 0 seconds (or None: never give up)",
            ),
        ]
        for name, ok, rule in checks:
            if not ok:  # also catches NaN: every comparison with NaN is False
                value = getattr(self, name)
                raise ConfigError(f"bad poll policy: {name} = {value!r} {rule}")

    @classmethod
    def fixed(cls, interval_s: float, **kwargs) -> PollPolicy:
        """Poll every job every ``interval_s`` seconds (no adaptation, no jitter): the naive
        baseline of the benchmarks."""
        return cls(
            min_interval_s=interval_s,
            max_interval_s=interval_s,
            growth=1.0,
            jitter=0.0,
            use_eta=False,
            **kwargs,
        )

    def cap(self, org: str) -> int:
        """Calls-in-flight cap of ``org``."""
        return int(self.org_max_in_flight.get(org, self.max_in_flight))

    def retry_delay_s(
        self, attempt: int, rng: random.Random, retry_after_s: float | None = None
    ) -> float:
        """Backoff before retry number ``attempt`` (1-based), jittered and capped."""
        if retry_after_s is not None:
            return min(self.retry_max_s, retry_after_s)
        base = min(self.retry_max_s, self.retry_base_s * 2 ** (attempt - 1))
        return base * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)


# how far a job got, for telling progress from answers that flap (final states end polling)
_RANK = {JobState.SCHEDULED: 0, JobState.IN_PROGRESS: 1}


def _processed(st: JobStatus) -> int | None:
    if st.converted_count is None and st.failed_count is None:
        if st.total_count is not None and st.not_converted_count is not None:
            return st.total_count - st.not_converted_count
        return None
    return (st.converted_count or 0) + (st.failed_count or 0)


@dataclass
class JobTrack:
    """What the schedule remembers about one job (mutable, owned by the poller thread)."""

    interval_s: float
    last: JobStatus | None = None
    last_at: float | None = None
    moved_at: float | None = None
    changed_at: float | None = None  # last answer that progressed (an unknown word never does)
    best: tuple[int, int] = (-1, -1)  # furthest (state rank, processed count) answered so far
    rate_origin: tuple[float, int] | None = None  # (time, processed) when progress began
    not_found: int = 0
    errors: int = 0
    attempt: int = 0

    def observe(self, st: JobStatus, now: float, policy: PollPolicy, rng: random.Random) -> float:
        """Record a successful answer; return the delay until the next poll (seconds).

        Only progress counts as a change (see :meth:`unchanged_s`): a state further than
        any answered before (scheduled, then in progress) or more leads processed than ever
        before; an ``unknown`` status never does, and is polled every ``max_interval_s``.
        """
        prev, prev_at = self.last, self.last_at
        moved = prev is None or st.counts != prev.counts or st.status != prev.status
        started = prev is not None and prev.status != st.status
        # progress: a state or a processed count further than any answered before (answers
        # that flap between earlier values are not: a job of those is given up)
        unknown = st.status == JobState.UNKNOWN
        rank, processed = _RANK.get(st.status, -1), _processed(st) or 0
        progressed = not unknown and (rank > self.best[0] or processed > self.best[1])
        if prev is None or progressed:
            self.changed_at = now
        else:  # flapping answers back off like unchanged ones
            moved = started = False
        if not unknown:
            self.best = (max(rank, self.best[0]), max(processed, self.best[1]))
        self.last, self.last_at, self.not_found, self.errors = st, now, 0, 0
        if unknown:
            self.interval_s = policy.max_interval_s
        elif started:
            self.interval_s = policy.min_interval_s
        elif moved:
            self.interval_s = max(policy.min_interval_s, self.interval_s / policy.growth)
        else:
            self.interval_s = min(policy.max_interval_s, self.interval_s * policy.growth)
        if moved:
            self.moved_at = now
        delay = self.interval_s * rng.uniform(1.0 - policy.jitter, 1.0 + policy.jitter)
        eta = self._eta_s(st, now, prev, prev_at) if policy.use_eta else None
        if eta is not None:
            delay = min(delay, eta + policy.eta_margin_s)
        return delay

    def unchanged_s(self, now: float) -> float:
        """Seconds since the job last progressed (0 before any answer; see :meth:`observe`)."""
        return 0.0 if self.changed_at is None else now - self.changed_at

    def _eta_s(
        self, st: JobStatus, now: float, prev: JobStatus | None, prev_at: float | None
    ) -> float | None:
        """Seconds until the predicted finish, from the observed conversion rate."""
        processed = _processed(st)
        if processed is None or not st.total_count or st.status != JobState.IN_PROGRESS:
            return None
        remaining = max(0, st.total_count - processed)
        if self.rate_origin is None:
            self.rate_origin = (now, processed)
            if (
                prev is None
                or prev_at is None
                or prev.status != JobState.SCHEDULED
                or not processed
            ):
                return None
            # Started somewhere between the last "scheduled" answer and now: assume half-way.
            return remaining * (now - prev_at) / 2 / processed
        t0, p0 = self.rate_origin
        if processed <= p0 or now <= t0:
            return None
        return remaining * (now - t0) / (processed - p0)
