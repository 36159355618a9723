"""The polling engine: many job ids, several orgs and data centers, within Zoho's limits.

One scheduler (the calling thread) decides which jobs are due; each org has its own
thread pool, capped at the org's calls in flight (``PollPolicy.max_in_flight``, default 5,
``shared/ZOHO_API.md`` §6). Workers only make HTTP calls; every answer comes back to the
scheduler, which records a :class:`~zcrm_notebook.status.Snapshot`, commits it to the
store (if any) and decides the job's next poll. Transient faults are retried with backoff
by rescheduling (never by sleeping in a worker); a 429 backs the whole org off.
Time comes from an injected ``clock``/``sleep`` so tests never sleep for real.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import random
import signal
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from .auth import OrgCredentials
from .client import StatusAnswer, ZohoClient
from .config import Job, clean_jobs, load_orgs
from .errors import (
    ApiError,
    AuthError,
    ConfigError,
    DataQualityWarning,
    RateLimitError,
    TokenThrottledError,
    TransportError,
    ZcrmError,
)
from .policy import JobTrack, PollPolicy
from .status import JobState, JobStatus, Snapshot, quality_problems

__all__ = ["Poller", "OrgStats", "poll_jobs", "PollPolicy"]

log = logging.getLogger(__name__)

_SLICE_S = 0.5  # longest single sleep/wait, so Stop and Ctrl-C act within about a second


@dataclass
class OrgStats:
    """Counters of one org for one run (see :meth:`Poller.org_stats`)."""

    org: str
    dc: str
    jobs: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: int = 0
    credits_remaining: int | None = None
    token_requests: int = 0
    failed_reason: str | None = None

    @property
    def credits_used(self) -> int:
        """Estimated API credits used: one per status GET (Zoho does not document the cost)."""
        return self.requests


@dataclass
class _Org:
    creds: OrgCredentials
    client: ZohoClient
    pool: ThreadPoolExecutor
    cap: int
    stats: OrgStats
    queue: list = field(default_factory=list)  # heap of (due, seq, job)
    in_flight: int = 0
    backoff_until: float = 0.0
    backoff_level: int = 0
    dead: bool = False


def _is_transient(exc: ZcrmError) -> bool:
    if isinstance(exc, (RateLimitError, TransportError)):
        return True
    return isinstance(exc, ApiError) and (exc.http_status or 0) >= 500


class Poller:
    """Poll a batch of mass-convert jobs until each is finished, or until stopped.

    Parameters
    ----------
    jobs : list, dict, DataFrame or CSV path
        See :func:`zcrm_notebook.config.clean_jobs`.
    orgs : mapping org -> OrgCredentials, optional
        Defaults to :func:`zcrm_notebook.config.load_orgs` of ``config``.
    config : path, optional
        TOML file of orgs (used when ``orgs`` is not given).
    org : str, optional
        Org of a plain list of ids.
    policy : PollPolicy, optional
    store : SnapshotStore or path, optional
        SQLite journal: every snapshot is committed as it arrives; a store that already
        holds snapshots resumes (history kept, finished jobs skipped).
    clock, sleep : callables, default ``time.time`` and an interruptible wait
        Injected time (seconds since the epoch) for tests and the simulator.
    progress : bool, default False
        Show a tqdm.auto bar (jobs finished, leads converted).
    on_snapshot : callable, optional
        Called with each new Snapshot on the scheduler thread (e.g. a dashboard queue).

    Raises
    ------
    ConfigError, JobInputError
        At construction, for bad orgs or job ids; nothing has been called yet.
    """

    def __init__(
        self,
        jobs: object,
        orgs: Mapping[str, OrgCredentials] | None = None,
        *,
        config: str | None = None,
        org: str | None = None,
        policy: PollPolicy | None = None,
        store: object = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        progress: bool = False,
        on_snapshot: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.orgs_config = dict(orgs) if orgs is not None else load_orgs(config)
        self.jobs = clean_jobs(jobs, self.orgs_config, org=org)
        self.policy = policy or PollPolicy()
        self.clock = clock
        self._stop = threading.Event()
        self._interrupted = False
        self.stop_signal: int | None = None
        self._sleep = sleep or self._stop.wait
        self.progress = progress
        self.on_snapshot = on_snapshot
        self.store, self._owns_store = _open_store(store), not hasattr(store, "append")
        self.history: list[Snapshot] = self.store.read() if self.store is not None else []
        self.snapshots: list[Snapshot] = []
        self.stopped_reason: str | None = None
        self._rng = random.Random(self.policy.seed)
        self._seq = itertools.count()
        self._orgs: dict[str, _Org] = {}
        self._tracks: dict[Job, JobTrack] = {}
        self._pending: set[Job] = set()
        self._warned: set[tuple[Job, str]] = set()
        self._error_codes_seen: set[tuple[str, str]] = set()
        self._converted: dict[Job, int] = {}

    def __repr__(self) -> str:
        return (
            f"Poller(jobs={len(self.jobs)}, orgs={sorted(self.orgs_config)}, "
            f"snapshots={len(self.snapshots)}, stopped_reason={self.stopped_reason!r})"
        )

    # -- public -----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the run to end (thread-safe); it returns within about a second."""
        self._stop.set()

    @property
    def all_snapshots(self) -> list[Snapshot]:
        """History from the store, then this run's snapshots, in arrival order."""
        return self.history + self.snapshots

    def frame(self):
        """The whole history (store + this run) as the snapshot DataFrame."""
        from .frame import to_frame

        return to_frame(self.all_snapshots)

    def org_stats(self):
        """Per-org counters of this run as a DataFrame.

        Returns
        -------
        pandas.DataFrame
            One row per org: ``org, dc, jobs, requests, retries, rate_limited, errors,
            credits_used, credits_remaining, token_requests, failed_reason``.
        """
        import pandas as pd

        rows = []
        for o in self._orgs.values():
            s = o.stats
            s.token_requests = o.client.tokens.requests
            rows.append({**s.__dict__, "credits_used": s.credits_used})
        cols = list(OrgStats.__dataclass_fields__) + ["credits_used"]
        return pd.DataFrame(rows, columns=cols).astype(
            {
                "credits_remaining": "Int64",
                "failed_reason": "string",
                "org": "string",
                "dc": "string",
            }
        )

    def run(self):
        """Poll until every job is finished, the deadline passes, or :meth:`stop`.

        A ``KeyboardInterrupt`` (Ctrl-C, notebook interrupt) ends the run cleanly:
        ``stopped_reason`` becomes ``"interrupted"`` and everything collected is returned.

        Returns
        -------
        pandas.DataFrame
            The snapshot frame (:mod:`zcrm_notebook.frame`): the store's history followed
            by this run's snapshots, one row per poll.
        """
        self.run_snapshots()
        return self.frame()

    def run_snapshots(self) -> list[Snapshot]:
        """As :meth:`run`, returning Snapshot records instead of a DataFrame."""
        bar = self._progress_bar()
        try:
            with self._sigint_stops():
                self._start()
                self.stopped_reason = self._loop(bar)
        except KeyboardInterrupt:
            self.stopped_reason, self.stop_signal = "interrupted", signal.SIGINT
        finally:
            self._shutdown(bar)
        if self.stopped_reason == "interrupted":
            log.warning("interrupted: %d snapshots kept", len(self.all_snapshots))
        return self.all_snapshots

    @contextlib.contextmanager
    def _sigint_stops(self):
        """On the main thread, Ctrl-C (a notebook's interrupt) and SIGTERM ask the loop to
        stop between two snapshots instead of raising in the middle of recording one; a
        second Ctrl-C raises KeyboardInterrupt as usual."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self._interrupted and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._interrupted, self.stop_signal = True, signum
            self._stop.set()

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    # -- set-up / tear-down -------------------------------------------------------------

    def _start(self) -> None:
        finished = _finished_jobs(self.history, self.policy.not_found_confirmations)
        start = self.clock()
        for creds in self.orgs_config.values():
            self._add_org(creds)
        for job in self.jobs:
            self._orgs[job.org].stats.jobs += 1
            if job in finished:
                continue
            self._tracks[job] = JobTrack(interval_s=self.policy.min_interval_s)
            self._push(job, start)
            self._pending.add(job)
        if finished & set(self.jobs):
            log.info(
                "resuming: %d jobs already finished in the store", len(finished & set(self.jobs))
            )

    def _add_org(self, creds: OrgCredentials) -> None:
        cap = self.policy.cap(creds.org)
        client = ZohoClient(creds, timeout_s=self.policy.timeout_s, pool_size=cap, clock=self.clock)
        pool = ThreadPoolExecutor(max_workers=cap, thread_name_prefix=f"zcrm-{creds.org}")
        self._orgs[creds.org] = _Org(creds, client, pool, cap, OrgStats(creds.org, creds.dc))

    def _shutdown(self, bar) -> None:
        for o in self._orgs.values():
            o.pool.shutdown(wait=False, cancel_futures=True)
            o.client.close()
        if self.store is not None and self._owns_store:
            self.store.close()  # checkpoints the WAL into the file
        if bar is not None:
            bar.close()

    def _progress_bar(self):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=len(self.jobs), unit="job", desc="jobs finished")

    # -- the loop -----------------------------------------------------------------------

    def _push(self, job: Job, due: float) -> None:
        heapq.heappush(self._orgs[job.org].queue, (due, next(self._seq), job))

    def _loop(self, bar) -> str:
        deadline = None if self.policy.deadline_s is None else self.clock() + self.policy.deadline_s
        outstanding: dict[Future, tuple[Job, float]] = {}
        while self._pending or outstanding:
            if self._stop.is_set():
                return "interrupted" if self._interrupted else "stopped"
            now = self.clock()
            if deadline is not None and now >= deadline:
                return "deadline"
            self._dispatch(now, outstanding)
            if outstanding:
                done, _ = wait(list(outstanding), timeout=_SLICE_S, return_when=FIRST_COMPLETED)
                for fut in done:
                    job, _sent = outstanding.pop(fut)
                    self._handle(job, fut.result(), bar)
            elif self._pending:
                wake = self._next_wake()
                if wake is None:
                    return "budget"
                if deadline is not None:
                    wake = min(wake, deadline)
                self._sleep(min(max(0.0, wake - now), _SLICE_S))  # stay responsive to stop()
        return "finished"

    def _next_wake(self) -> float | None:
        wakes = [
            max(o.queue[0][0], o.backoff_until)
            for o in self._orgs.values()
            if o.queue and not o.dead and not self._over_budget(o)
        ]
        return min(wakes) if wakes else None

    def _over_budget(self, o: _Org) -> bool:
        return self.policy.budget is not None and o.stats.requests >= self.policy.budget

    def _dispatch(self, now: float, outstanding: dict) -> None:
        for o in self._orgs.values():
            if now < o.backoff_until or o.dead:
                continue
            while o.queue and o.in_flight < o.cap and o.queue[0][0] <= now:
                if self._over_budget(o):
                    self._give_up_org_budget(o)
                    break
                _, _, job = heapq.heappop(o.queue)
                o.in_flight += 1
                o.stats.requests += 1
                outstanding[o.pool.submit(self._call, o.client, job.job_id)] = (job, now)

    def _call(self, client: ZohoClient, job_id: str) -> tuple:
        """Worker: one HTTP call -> (answer or error, arrival time, round trip s).

        Never raises; never touches shared state."""
        started = time.perf_counter()
        try:
            result: StatusAnswer | ZcrmError = client.get_status(job_id)
        except ZcrmError as exc:
            result = exc
        except Exception as exc:  # a bug or an unexpected library error: an error row
            log.exception("unexpected error polling job %s", job_id)
            result = ZcrmError(
                f"job {job_id}: unexpected {type(exc).__name__}", code=type(exc).__name__
            )
        return result, self.clock(), time.perf_counter() - started

    # -- answers ------------------------------------------------------------------------

    def _handle(self, job: Job, outcome: tuple, bar) -> None:
        result, at, latency_s = outcome
        o = self._orgs[job.org]
        o.in_flight -= 1
        if isinstance(result, StatusAnswer):
            o.backoff_level = 0
            if result.credits_remaining is not None:
                o.stats.credits_remaining = result.credits_remaining
            self._on_status(job, result, at, bar)
        else:
            self._on_error(job, result, at, bar, latency_s)

    def _record(self, snap: Snapshot) -> None:
        self.snapshots.append(snap)
        if self.store is not None:
            self.store.append(snap)
        log.debug("snapshot %s %s %s (kept)", snap.org, snap.job_id, snap.status)
        if self.on_snapshot is not None:
            self.on_snapshot(snap)

    def _on_status(self, job: Job, ans: StatusAnswer, at: float, bar) -> None:
        o, track = self._orgs[job.org], self._tracks[job]
        st = ans.status
        self._check_quality(job, track.last, st)
        self._record(
            Snapshot.from_status(
                st, polled_at=at, org=job.org, dc=o.creds.dc,
                http_status=ans.http_status, latency_s=ans.latency_s,
            )
        )  # fmt: skip
        track.attempt = 0
        self._converted[job] = st.converted_count or 0
        if bar is not None:
            bar.set_postfix(leads_converted=sum(self._converted.values()), refresh=False)
        if st.is_final:
            self._finish(job, bar, st)
            return
        self._push(job, at + track.observe(st, at, self.policy, self._rng))
        if track.moved_at is not None and at - track.moved_at >= self.policy.stalled_after_s:
            self._warn(job, "stalled", f"counts have not moved for {at - track.moved_at:.0f} s")

    def _on_error(self, job: Job, exc: ZcrmError, at: float, bar, latency_s: float = 0.0) -> None:
        o, track = self._orgs[job.org], self._tracks[job]
        if isinstance(exc, TokenThrottledError):  # no API call is spent while throttled
            self._back_off_org(o, at, 60.0, why="token creation throttled by Zoho (Access Denied)")
            self._push(job, o.backoff_until)
            return
        if isinstance(exc, RateLimitError):
            o.stats.rate_limited += 1
            self._back_off_org(o, at, exc.retry_after_s)
        if _is_transient(exc) and track.attempt < self.policy.max_retries:
            track.attempt += 1
            o.stats.retries += 1
            delay = self.policy.retry_delay_s(track.attempt, self._rng)
            self._push(job, max(at + delay, o.backoff_until))
            return
        track.attempt = 0
        o.stats.errors += 1
        self._record(_error_snapshot(job, o.creds.dc, exc, at, latency_s=latency_s))
        self._warn_error_once(o, exc)
        if isinstance(exc, (AuthError, ConfigError)):
            self._fail_org(o, exc, at, bar)
        elif isinstance(exc, ApiError) and not _is_transient(exc):  # unknown id, other 4xx
            track.not_found += 1
            limit = self.policy.not_found_confirmations
            self._retry_or_give_up(job, bar, at, track.not_found, limit, self.policy.min_interval_s)
        else:  # transient fault after its retries, garbage body, unexpected error
            track.errors += 1
            limit = self.policy.give_up_after_errors
            self._retry_or_give_up(job, bar, at, track.errors, limit, self.policy.max_interval_s)

    def _retry_or_give_up(
        self, job: Job, bar, at: float, count: int, limit: int, delay_s: float
    ) -> None:
        if count >= limit:
            self._finish(job, bar, None)
        else:
            self._push(job, at + delay_s)

    def _back_off_org(
        self, o: _Org, at: float, retry_after_s: float | None, why: str = "rate limited (429)"
    ) -> None:
        o.backoff_level += 1
        delay = self.policy.retry_delay_s(o.backoff_level, self._rng, retry_after_s)
        o.backoff_until = max(o.backoff_until, at + delay)
        log.warning("org %s %s: backing off %.1f s", o.creds.org, why, delay)

    def _warn_error_once(self, o: _Org, exc: ZcrmError) -> None:
        key = (o.creds.org, exc.code)
        if key not in self._error_codes_seen:
            self._error_codes_seen.add(key)
            log.warning("org %s: %s (further %s errors are in the snapshots)", o.creds.org,
                        exc, exc.code)  # fmt: skip

    def _fail_org(self, o: _Org, exc: ZcrmError, at: float, bar) -> None:
        """An auth failure ends the org: each of its pending jobs gets one error row."""
        o.dead = True
        o.stats.failed_reason = exc.code
        log.error("org %s: %s; its other jobs are recorded as errors", o.creds.org, exc)
        note = f"not polled: org {o.creds.org} failed ({exc.code}): {exc}"
        while o.queue:
            _, _, other = heapq.heappop(o.queue)
            self._record(_error_snapshot(other, o.creds.dc, exc, at, message=note))
            self._finish(other, bar, None)
        for job in [j for j in self._pending if j.org == o.creds.org]:
            self._finish(job, bar, None)

    def _give_up_org_budget(self, o: _Org) -> None:
        log.warning(
            "org %s used its budget of %s calls; stopping its polls",
            o.creds.org,
            self.policy.budget,
        )
        o.stats.failed_reason = "BUDGET_EXHAUSTED"
        o.dead = True
        o.queue.clear()
        for job in [j for j in self._pending if j.org == o.creds.org]:
            self._pending.discard(job)

    def _finish(self, job: Job, bar, st: JobStatus | None) -> None:
        if job not in self._pending:
            return
        self._pending.discard(job)
        if bar is not None:
            bar.update(1)

    def _check_quality(self, job: Job, prev: JobStatus | None, st: JobStatus) -> None:
        for kind, text in quality_problems(prev, st):
            self._warn(job, kind, f"{text}; kept as received")

    def _warn(self, job: Job, kind: str, text: str) -> None:
        """One DataQualityWarning per job and kind of problem (no flood on every poll)."""
        if (job, kind) not in self._warned:
            self._warned.add((job, kind))
            warnings.warn(f"job {job.job_id} ({job.org}): {text}", DataQualityWarning, stacklevel=3)


def _error_snapshot(
    job: Job, dc: str, exc: ZcrmError, at: float, *, latency_s: float = 0.0, message: str = ""
) -> Snapshot:
    return Snapshot(
        polled_at=at, org=job.org, dc=dc, job_id=job.job_id, status=JobState.ERROR,
        http_status=exc.http_status, error_code=exc.code, error_message=message or str(exc),
        latency_s=latency_s,
    )  # fmt: skip


NOT_FOUND_CODES = frozenset({"INVALID_DATA", "NO_CONTENT", "NOT_FOUND", "INVALID_URL_PATTERN"})


def _finished_jobs(history: list[Snapshot], confirmations: int) -> set[Job]:
    """Jobs a previous run finished: a final status, or given up as unknown/expired."""
    done = {Job(s.org, s.job_id) for s in history if s.is_final}
    streak: dict[Job, int] = {}
    for s in history:
        job = Job(s.org, s.job_id)
        streak[job] = streak.get(job, 0) + 1 if s.error_code in NOT_FOUND_CODES else 0
    return done | {job for job, n in streak.items() if n >= confirmations}


def _open_store(store: object):
    if store is None:
        return None
    if hasattr(store, "append") and hasattr(store, "read"):
        return store
    from .store import SnapshotStore

    return SnapshotStore(store, exclusive=True)  # type: ignore[arg-type]


def poll_jobs(jobs: object, orgs: Mapping[str, OrgCredentials] | None = None, **kwargs):
    """Poll a batch of mass-convert jobs to the end and return the snapshot DataFrame.

    Shorthand for ``Poller(jobs, orgs, **kwargs).run()``; see :class:`Poller` for the
    parameters. Source of the status call: Zoho CRM API "Get Status of Mass Convert Lead"
    (https://www.zoho.com/crm/developer/docs/api/v8/get-mass-convert-status.html).

    Returns
    -------
    pandas.DataFrame
        One row per poll with the columns of :data:`zcrm_notebook.frame.SNAPSHOT_COLUMNS`.

    Raises
    ------
    ConfigError, JobInputError
        Before any call, for bad orgs or job ids. Faults during the run never raise: they
        become ``error`` rows.
    """
    return Poller(jobs, orgs, **kwargs).run()
