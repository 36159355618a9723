"""The poll loop of a run: when to poll each job, and what each answer means for it.

The loop is one asyncio event loop of its own, run in the poll's thread (the caller's,
or the background watch thread; when that thread already runs an event loop, e.g. a
notebook kernel's, the poll loop runs in a thread of its own and the caller waits for it:
the kernel's loop is never touched). It decides which jobs are due and starts each status
call as a task on that loop, at most the org's calls in flight
(:mod:`zcrm_notebook.poll.orgstate`): :meth:`ZohoClient.get_status_async
<zcrm_notebook.client.ZohoClient.get_status_async>` sends the GET on the loop itself,
and only a token request (or a client without that path) runs on the org's thread pool.
Every answer is handled on the loop, which turns it into a
:class:`~zcrm_notebook.snapshots.schema.Snapshot` for the run to record and decides the
job's next poll (:class:`~zcrm_notebook.poll.policy.Schedule`: the bounded delay, and the
org's queue order when its answers show one, which may bring other jobs' polls forward).
Transient faults are retried with backoff by rescheduling (never by sleeping in a
call); a 429 backs the whole org off; a job id that stays unknown, keeps failing, or
stops changing for ``PollPolicy.give_up_unchanged_s`` (an unknown status word: polled at
the delay bound) is given up; an auth failure ends its org, and so does an answer saying
the org's URL or request is wrong (404 ``INVALID_URL_PATTERN``): at most the calls already
in flight are spent. Time comes from an injected ``clock``/``sleep`` so tests never sleep for
real (``sleep`` is called only while no call is in flight).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import warnings
from collections.abc import Callable

from ..api.status import JobState, JobStatus
from ..client import StatusAnswer
from ..errors import (
    AccountsUnreachableError,
    ApiError,
    AuthError,
    BadRequestError,
    ConfigError,
    DataQualityWarning,
    EndpointConfigError,
    RateLimitError,
    TokenThrottledError,
    TransportError,
    ZcrmError,
)
from ..inputs.jobs import Job
from ..snapshots.schema import Snapshot
from .jitter import Jitter
from .orgstate import OrgState
from .policy import PollPolicy, Schedule
from .quality import quality_problems

__all__ = ["PollLoop", "GIVEN_UP_UNCHANGED"]

log = logging.getLogger(__name__)

_SLICE_S = 0.5  # longest single sleep/wait, so Stop and Ctrl-C act within about a second
#: ``error_code`` of the row of a job given up because it stopped changing.
GIVEN_UP_UNCHANGED = "GIVEN_UP_UNCHANGED"
# Errors that end their org at once (docs/zoho-api.md, "Error table": end_org, end_run).
_ENDS_ORG = (AuthError, ConfigError, EndpointConfigError, BadRequestError)


def _is_transient(exc: ZcrmError) -> bool:
    if isinstance(exc, (RateLimitError, TransportError)):
        return True
    return isinstance(exc, ApiError) and (exc.http_status or 0) >= 500


class PollLoop:
    """Poll the jobs added with :meth:`add` until each is finished, or until stopped.

    Parameters
    ----------
    orgs : dict org -> OrgState
        The run's orgs, open; the caller closes them.
    policy : PollPolicy
    record : callable
        Called with each new Snapshot on the loop's thread, in arrival order.
    flush : callable, optional
        Called on the loop's thread before each round of dispatching calls and when the
        run ends: the caller commits what ``record`` collected since (one transaction per
        loop iteration, not per snapshot).
    clock, sleep : callables
        Injected time (seconds since the epoch) and an interruptible wait (seconds).
    stop : threading.Event
        Set (from any thread) to end the run between two snapshots.
    bar : tqdm progress bar, optional
        Updated as jobs finish (leads converted as its postfix).
    """

    def __init__(
        self,
        orgs: dict[str, OrgState],
        policy: PollPolicy,
        record: Callable[[Snapshot], None],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], object],
        stop: threading.Event,
        bar=None,
        flush: Callable[[], None] | None = None,
    ) -> None:
        self.orgs, self.policy, self.record = orgs, policy, record
        self.flush = flush or (lambda: None)
        self.clock, self.sleep, self.stop, self.bar = clock, sleep, stop, bar
        self._jitter = Jitter(policy.seed)
        self._seq = itertools.count()
        self._schedule = Schedule(policy, self._jitter)
        self._done: list[asyncio.Task] = []  # calls that came back, not yet handled
        self._woken: asyncio.Future | None = None  # the loop waiting for the first of them
        self._pending: set[Job] = set()
        self._warned: set[tuple[Job, str]] = set()
        self._converted: dict[Job, int] = {}

    def add(self, job: Job, due: float) -> None:
        """Poll ``job`` first at ``due`` (clock seconds)."""
        self._schedule.add(job, job.org)
        self._push(job, due)
        self._pending.add(job)

    def run(self) -> str:
        """Poll until done; returns why: finished, stopped, deadline or budget."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread: the poll loop runs here
            return _run_new_loop(self._arun())
        return _run_beside(self._arun, self.stop)  # e.g. a notebook kernel's: untouched

    async def _arun(self) -> str:
        outstanding: dict[asyncio.Task, tuple[Job, float]] = {}
        try:
            return await self._run(outstanding)
        finally:
            for task in outstanding:  # stopped: the calls in flight end, none is recorded
                task.cancel()
            await asyncio.gather(*outstanding, return_exceptions=True)
            await asyncio.gather(*(_aclose(o.client) for o in self.orgs.values()))
            self.flush()

    async def _run(self, outstanding: dict) -> str:
        deadline = None if self.policy.deadline_s is None else self.clock() + self.policy.deadline_s
        while self._pending or outstanding:
            if self.stop.is_set():
                return "stopped"
            now = self.clock()
            if deadline is not None and now >= deadline:
                return "deadline"
            self.flush()  # what came back is committed before the next calls go out
            self._dispatch(now, outstanding)
            if outstanding:
                for task in await self._completed():
                    job, _sent = outstanding.pop(task)
                    if not task.cancelled():
                        self._handle(job, task.result())
            elif self._pending:
                wake = self._next_wake()
                if wake is None:
                    return "budget"
                if deadline is not None:
                    wake = min(wake, deadline)
                self.sleep(min(max(0.0, wake - now), _SLICE_S))  # stay responsive to stop()
        return "finished"

    # -- calls --------------------------------------------------------------------------

    def _push(self, job: Job, due: float) -> None:
        self.orgs[job.org].push(due, next(self._seq), job)

    def _bring_forward(self, moves: list) -> None:
        """Move queued polls earlier (the schedule learned a job may be about to start)."""
        for job, at in moves:
            due = self.orgs[job.org].due_of(job)
            if due is not None and at < due:
                self._push(job, at)

    def _next_wake(self) -> float | None:
        wakes = [o.next_wake(self.policy.budget) for o in self.orgs.values()]
        return min((w for w in wakes if w is not None), default=None)

    async def _completed(self) -> list[asyncio.Task]:
        """The calls that came back: waits up to a slice for the first, takes the rest
        without waiting (O(1) per call, not O(calls in flight))."""
        if not self._done:
            loop = asyncio.get_running_loop()
            self._woken = woken = loop.create_future()
            timer = loop.call_later(_SLICE_S, _wake, woken)
            try:
                await woken
            finally:
                timer.cancel()
                self._woken = None
        done, self._done = self._done, []
        return done

    def _came_back(self, task: asyncio.Task) -> None:
        """Done-callback of a call's task (on the loop)."""
        self._done.append(task)
        if self._woken is not None:
            _wake(self._woken)

    def _dispatch(self, now: float, outstanding: dict) -> None:
        loop = asyncio.get_running_loop()
        for o in self.orgs.values():
            if o.paused(now):
                continue
            while o.has_due(now):
                if o.over_budget(self.policy.budget):
                    self._give_up_org_budget(o)
                    break
                job = o.take()
                task = loop.create_task(self._call(o, job.job_id))
                outstanding[task] = (job, now)
                task.add_done_callback(self._came_back)

    async def _call(self, o: OrgState, job_id: str) -> tuple:
        """One HTTP call -> (answer or error, arrival time, round trip s).

        Never raises (but CancelledError: the run stopped); never touches shared state."""
        started = time.perf_counter()
        try:
            result: StatusAnswer | ZcrmError = await _status(o, job_id)
        except ZcrmError as exc:
            result = exc
        except Exception as exc:  # a bug or an unexpected library error: an error row
            log.exception("unexpected error polling job %s", job_id)
            result = ZcrmError(
                f"job {job_id}: unexpected {type(exc).__name__}", code=type(exc).__name__
            )
        return result, self.clock(), time.perf_counter() - started

    # -- answers ------------------------------------------------------------------------

    def _handle(self, job: Job, outcome: tuple) -> None:
        result, at, latency_s = outcome
        o = self.orgs[job.org]
        o.settle(result)
        if o.dead:  # ended while this call was in flight: keep its row, nothing more
            self._record_late(job, o, result, at, latency_s)
        elif isinstance(result, StatusAnswer):
            self._on_status(job, result, at)
        else:
            self._on_error(job, result, at, latency_s)

    def _record_late(
        self, job: Job, o: OrgState, result: StatusAnswer | ZcrmError, at: float, latency_s: float
    ) -> None:
        """The answer of a call that was in flight when its org ended: one row, no follow-up."""
        if isinstance(result, StatusAnswer):
            self.record(_status_snapshot(job, o.creds.dc, result, at))
        else:
            o.stats.errors += 1
            self.record(_error_snapshot(job, o.creds.dc, result, at, latency_s=latency_s))
        self._finish(job)

    def _on_status(self, job: Job, ans: StatusAnswer, at: float) -> None:
        o, track = self.orgs[job.org], self._schedule.tracks[job]
        st = ans.status
        try:
            snap = _status_snapshot(job, o.creds.dc, ans, at)
        except ZcrmError as exc:  # a status no row can hold (built outside parse_status)
            self._on_error(job, exc, at, ans.latency_s)
            return
        self._check_quality(job, track.last, st)
        self.record(snap)
        track.attempt = 0
        self._converted[job] = st.converted_count or 0
        if self.bar is not None:
            self.bar.set_postfix(leads_converted=sum(self._converted.values()), refresh=False)
        next_at, moves = self._schedule.answer(job, st, at)
        if next_at is None:  # final
            self._finish(job, at)
            self._bring_forward(moves)
            return
        give_up_s = self.policy.give_up_unchanged_s
        if give_up_s is not None and track.unchanged_s(at) >= give_up_s:
            self._give_up_unchanged(job, st, at, track.unchanged_s(at))
            return
        self._push(job, next_at)
        self._bring_forward(moves)
        if st.status == JobState.UNKNOWN:
            after = "never given up" if give_up_s is None else f"given up after {give_up_s:g} s"
            self._warn(
                job,
                "unknown",
                f"status word {st.raw_status!r} is not one this package knows; polled every "
                f"{self.policy.delay_s:g} s, {after}",
            )
        if track.moved_at is not None and at - track.moved_at >= self.policy.stalled_after_s:
            self._warn(job, "stalled", f"counts have not moved for {at - track.moved_at:.0f} s")

    def _give_up_unchanged(self, job: Job, st: JobStatus, at: float, unchanged_s: float) -> None:
        """One ``error`` row GIVEN_UP_UNCHANGED for a job that stopped changing; no more polls."""
        o = self.orgs[job.org]
        total, converted, pending, failed = st.counts
        exc = ZcrmError(
            f"job {job.job_id}: given up after {unchanged_s:.0f} s without a change "
            f"(PollPolicy.give_up_unchanged_s = {self.policy.give_up_unchanged_s:g}); it last "
            f"said {st.raw_status!r} ({st.status}), total {total}, converted {converted}, "
            f"not converted {pending}, failed {failed}",
            code=GIVEN_UP_UNCHANGED,
        )
        o.stats.errors += 1
        self.record(_error_snapshot(job, o.creds.dc, exc, at))
        self._warn_error_once(o, exc)
        self._finish(job, at)

    def _on_error(self, job: Job, exc: ZcrmError, at: float, latency_s: float = 0.0) -> None:
        o, track = self.orgs[job.org], self._schedule.tracks[job]
        if isinstance(exc, TokenThrottledError):  # no API call is spent while throttled
            self._back_off_org(o, at, 60.0, why="token creation throttled by Zoho (Access Denied)")
            self._push(job, o.backoff_until)
            return
        if isinstance(exc, AccountsUnreachableError):
            self._on_accounts_unreachable(o, job, exc, at)
            return
        if isinstance(exc, RateLimitError):
            o.stats.rate_limited += 1
            self._back_off_org(o, at, exc.retry_after_s)
        if _is_transient(exc) and track.attempt < self.policy.max_retries:
            track.attempt += 1
            o.stats.retries += 1
            delay = self.policy.retry_delay_s(track.attempt, self._jitter.draws(("retry", job)))
            self._push(job, max(at + delay, o.backoff_until))
            return
        track.attempt = 0
        o.stats.errors += 1
        self.record(_error_snapshot(job, o.creds.dc, exc, at, latency_s=latency_s))
        if isinstance(exc, _ENDS_ORG):
            self._fail_org(o, exc, at)  # logs the error once
            return
        self._warn_error_once(o, exc)
        if isinstance(exc, ApiError) and not _is_transient(exc):  # unknown id, other 4xx
            track.not_found += 1
            limit = self.policy.not_found_confirmations
            self._retry_or_give_up(job, at, track.not_found, limit, self.policy.min_interval_s)
        else:  # transient fault after its retries, garbage body, unexpected error
            track.errors += 1
            limit = self.policy.give_up_after_errors
            self._retry_or_give_up(job, at, track.errors, limit, self.policy.delay_s)

    def _on_accounts_unreachable(
        self, o: OrgState, job: Job, exc: AccountsUnreachableError, at: float
    ) -> None:
        """No token because the accounts server gave no answer: every job would ask again,
        so the org is held and tries one call at a time after each backoff; after as many
        failed tries as one job may make, ``(max_retries + 1) * give_up_after_errors``, the
        org ends with an error row for each of its jobs. Each failed try is an error row."""
        o.unreachable += 1
        o.stats.errors += 1
        self.record(_error_snapshot(job, o.creds.dc, exc, at))  # each try is seen
        if o.unreachable >= (self.policy.max_retries + 1) * self.policy.give_up_after_errors:
            self._finish(job)
            self._fail_org(o, exc, at)
            return
        delay = o.back_off(at, self.policy, self._jitter.draws(("org", o.name)), None)
        if o.unreachable == 1:
            log.warning("org %s: %s; holding the org, one try at a time (next in %.0f s)",
                        o.name, exc, delay)  # fmt: skip
        self._push(job, o.backoff_until)

    def _retry_or_give_up(
        self, job: Job, at: float, count: int, limit: int, delay_s: float
    ) -> None:
        if count >= limit:
            self._finish(job, at)
        else:
            self._push(job, at + delay_s)

    def _finish(self, job: Job, at: float | None = None) -> None:
        """``job`` is not polled again; the jobs behind it in its org's queue may move up."""
        if job not in self._pending:
            return
        self._pending.discard(job)
        if self.bar is not None:
            self.bar.update(1)
        if not self.orgs[job.org].dead:
            self._bring_forward(self._schedule.gone(job, self.clock() if at is None else at))

    # -- orgs ---------------------------------------------------------------------------

    def _back_off_org(
        self, o: OrgState, at: float, retry_after_s: float | None, why: str = "rate limited (429)"
    ) -> None:
        delay = o.back_off(at, self.policy, self._jitter.draws(("org", o.name)), retry_after_s)
        log.warning("org %s %s: backing off %.1f s", o.name, why, delay)

    def _warn_error_once(self, o: OrgState, exc: ZcrmError) -> None:
        if o.first_error(exc.code):
            log.warning(
                "org %s: %s (further %s errors are in the snapshots)", o.name, exc, exc.code
            )

    def _fail_org(self, o: OrgState, exc: ZcrmError, at: float) -> None:
        """An auth or configuration failure ends the org: each of its queued jobs gets one
        error row (no call); the calls in flight come back to :meth:`_record_late`."""
        queued = o.end(exc.code, str(exc))
        log.error("org %s: %s; its other jobs are recorded as errors", o.name, exc)
        note = f"not polled: org {o.name} failed ({exc.code}): {exc}"
        for other in queued:
            self.record(_error_snapshot(other, o.creds.dc, exc, at, message=note))
            self._finish(other)
        for job in self._pending_of(o.name):
            self._finish(job)

    def _give_up_org_budget(self, o: OrgState) -> None:
        log.warning(
            "org %s used its budget of %s calls; stopping its polls", o.name, self.policy.budget
        )
        o.end("BUDGET_EXHAUSTED")
        self._pending.difference_update(self._pending_of(o.name))

    def _pending_of(self, org: str) -> list[Job]:
        return [j for j in self._pending if j.org == org]

    # -- data quality -------------------------------------------------------------------

    def _check_quality(self, job: Job, prev: JobStatus | None, st: JobStatus) -> None:
        for kind, text in quality_problems(prev, st):
            self._warn(job, kind, f"{text}; kept as received")

    def _warn(self, job: Job, kind: str, text: str) -> None:
        """One DataQualityWarning per job and kind of problem (no flood on every poll)."""
        if (job, kind) not in self._warned:
            self._warned.add((job, kind))
            warnings.warn(f"job {job.job_id} ({job.org}): {text}", DataQualityWarning, stacklevel=3)


def _run_new_loop(main) -> str:
    """Run the coroutine ``main`` on a new event loop in this thread, then close the loop
    (its other tasks cancelled; a name lookup still running is not waited for)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _run_beside(make_main: Callable, stop: threading.Event) -> str:
    """Run ``make_main()`` on a new event loop in a thread of its own and wait for it: this
    thread already runs an event loop (a notebook kernel's), which must not be nested.
    A KeyboardInterrupt while waiting sets ``stop`` and waits for the run to end (its last
    snapshots recorded) before it is raised again."""
    out: dict = {}
    done = threading.Event()  # not Thread.join: on 3.11 an interrupted join() marks a
    # running thread as stopped, and every later join returns at once

    def target() -> None:
        try:
            out["reason"] = _run_new_loop(make_main())
        except BaseException as exc:  # given to the caller below
            out["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="zcrm-poll-loop", daemon=True)
    thread.start()
    try:
        while not done.wait(_SLICE_S):
            pass
    except BaseException:
        stop.set()
        done.wait(10 * _SLICE_S)  # the run ends within about a second
        raise
    if "error" in out:
        raise out["error"]
    return out["reason"]


async def _status(o: OrgState, job_id: str) -> StatusAnswer:
    """``job_id``'s status call of org ``o`` on the running loop; what may block (a token
    request, a client without the coroutine) runs on the org's thread pool."""
    loop = asyncio.get_running_loop()

    def blocking(fn: Callable, *args):
        return loop.run_in_executor(o.pool, fn, *args)

    get_async = getattr(o.client, "get_status_async", None)
    if get_async is None:  # a client of its own (tests): its blocking call
        return await blocking(o.client.get_status, job_id)
    return await get_async(job_id, blocking)


async def _aclose(client) -> None:
    """Close the client's connections on the loop before it ends."""
    aio = getattr(client, "aio", None)
    if aio is not None:
        await aio.aclose()


def _wake(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


def _status_snapshot(job: Job, dc: str, ans: StatusAnswer, at: float) -> Snapshot:
    """The row of a status answer."""
    return Snapshot.from_status(
        ans.status,
        polled_at=at,
        org=job.org,
        dc=dc,
        http_status=ans.http_status,
        latency_s=ans.latency_s,
    )


def _error_snapshot(
    job: Job, dc: str, exc: ZcrmError, at: float, *, latency_s: float = 0.0, message: str = ""
) -> Snapshot:
    """The ``error`` row of a poll that got no status (or of a job its org never polled)."""
    return Snapshot(
        polled_at=at,
        org=job.org,
        dc=dc,
        job_id=job.job_id,
        status=JobState.ERROR,
        http_status=exc.http_status,
        error_code=exc.code,
        error_message=message or str(exc),
        latency_s=latency_s,
    )
