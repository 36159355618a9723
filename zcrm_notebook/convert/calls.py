"""The calls of the conversion loop, run within each org's limits: the POSTs, the reads, the
single converts.

:class:`CallRunner` runs :class:`Task` s on the orgs' thread pools with the poll engine's
per-org state (:class:`~zcrm_notebook.poll.orgstate.OrgState`: the cap of calls in flight,
the backoff of the whole org after a 429, the end of an org), on an injected clock. Every
answer comes back to the calling thread, which decides (with
:func:`~zcrm_notebook.api.conversion.action_of`, ``docs/zoho-api.md``'s error table):
``retry`` is sent again after a backoff (at most the policy's ``max_retries``), ``end_org``
ends the org (its queued tasks are not sent), ``end_run`` ends every org, anything else is
the task's final error. A task's ``before`` runs on the calling thread just before its call
is handed to a worker (the ledger commits ``sending`` there); it may cancel the task.
Workers only make the call. Calls and credits are counted per org and kind.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from ..api.conversion import action_of
from ..api.endpoints import CONVERT_RECORD, GET_RECORDS, MASS_CONVERT_SCHEDULE, Endpoint
from ..auth.credentials import OrgCredentials
from ..client import CallAnswer, ZohoClient
from ..errors import RateLimitError, TokenThrottledError, TransportError, ZcrmError
from ..poll.jitter import Jitter
from ..poll.orgstate import OrgState
from ..poll.policy import PollPolicy
from .plan import CREDITS

__all__ = ["Task", "CallRunner", "KIND_ENDPOINTS"]

log = logging.getLogger(__name__)

#: Kind of call -> its endpoint descriptor.
KIND_ENDPOINTS: dict[str, Endpoint] = {
    "post": MASS_CONVERT_SCHEDULE,
    "records": GET_RECORDS,
    "convert": CONVERT_RECORD,
}
_SLICE_S = 0.5  # longest single wait, so a stop acts within about a second


@dataclass(eq=False)
class Task:
    """One call to make: of ``org``, of ``kind`` (``post``, ``records``, ``convert``).

    Attributes
    ----------
    org, kind : str
    call : callable
        ``call(client) -> CallAnswer``, run in a worker.
    key : object
        What the call is about, for the caller (a chunk id, lead ids).
    before : callable, optional
        Run on the calling thread right before each attempt is sent; False cancels the task.
    attempt : int
        Retries made so far.
    """

    org: str
    kind: str
    call: Callable[[ZohoClient], CallAnswer]
    key: Any = None
    before: Callable[[], bool] | None = None
    attempt: int = 0


OnAnswer = Callable[[Task, CallAnswer], None]
OnError = Callable[[Task, ZcrmError, str, bool], None]


@dataclass
class CallRunner:
    """Runs tasks per org within the org's cap and backoff (see the module docstring).

    Parameters
    ----------
    orgs : mapping org -> OrgCredentials
    policy : PollPolicy
        ``max_in_flight`` (per org), ``timeout_s``, ``max_retries``, ``retry_base_s``,
        ``retry_max_s``, ``jitter``, ``seed``.
    clock, sleep : callables
        Injected time (seconds since the epoch) and wait.
    stop : threading.Event
        Set to end the run between two answers.

    Attributes
    ----------
    calls : Counter
        ``(org, kind) -> calls sent``.
    ended : dict of str to ZcrmError
        Orgs ended in this run, and why.
    end_run : ZcrmError or None
        The answer that ended the whole run (a request the package should never send).
    """

    orgs: Mapping[str, OrgCredentials]
    policy: PollPolicy
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], object] = time.sleep
    stop: threading.Event = field(default_factory=threading.Event)
    calls: Counter = field(default_factory=Counter)
    ended: dict[str, ZcrmError] = field(default_factory=dict)
    end_run: ZcrmError | None = None

    def __post_init__(self) -> None:
        self._states: dict[str, OrgState[Task]] = {}
        self._jitter = Jitter(self.policy.seed)
        self._seq = itertools.count()

    def credits(self) -> Counter:
        """``(org, kind) -> API credits used`` (``plan.CREDITS`` per call)."""
        return Counter({k: n * CREDITS[k[1]] for k, n in self.calls.items()})

    def close(self) -> None:
        """Close the orgs' clients and pools."""
        for o in self._states.values():
            o.close()
        self._states.clear()

    def _state(self, org: str) -> OrgState[Task]:
        if org not in self._states:
            self._states[org] = OrgState.open(self.orgs[org], self.policy, self.clock)
        return self._states[org]

    def run(self, tasks: Iterable[Task], on_answer: OnAnswer, on_error: OnError) -> list[Task]:
        """Run ``tasks`` until each has an answer or a final error (or the run stops).

        ``on_answer(task, answer)`` and ``on_error(task, error, action, sent)`` are called on
        this thread; ``sent`` is False for a task that was never sent (its org ended, the
        run ended) or whose request never left (a refused connection).

        Returns
        -------
        list of Task
            The tasks not sent because the run was stopped (nothing was called for them);
            the calls already in flight when it stopped are waited for and handled.
        """
        now = self.clock()
        pending = 0
        for task in tasks:
            o = self._state(task.org)
            if o.dead or self.end_run is not None:
                self._not_sent(task, self.ended.get(task.org) or self.end_run, on_error)
                continue
            o.push(now, next(self._seq), task)
            pending += 1
        outstanding: dict[Future, Task] = {}
        while (pending and not self.stop.is_set()) or outstanding:
            now = self.clock()
            if not self.stop.is_set():  # once stopped, only the calls in flight come back
                pending -= self._dispatch(now, outstanding, on_error)
            if outstanding:
                done, _ = wait(list(outstanding), timeout=_SLICE_S, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = outstanding.pop(fut)
                    pending -= self._handle(task, fut.result(), on_answer, on_error)
            elif pending:
                wakes = [o.next_wake(None) for o in self._states.values()]
                wake = min((w for w in wakes if w is not None), default=None)
                if wake is None:
                    break
                self.sleep(min(max(0.0, wake - now), _SLICE_S))
        return self._left()

    def _left(self) -> list[Task]:
        left = []
        for o in self._states.values():
            while o.queue:
                left.append(o.queue.pop()[2])
        return left

    def _dispatch(self, now: float, outstanding: dict, on_error: OnError) -> int:
        """Hand due tasks to the org pools; returns how many were cancelled."""
        cancelled = 0
        for o in self._states.values():
            if o.paused(now):
                continue
            while o.has_due(now):
                task = o.take()
                if task.before is not None and task.before() is False:
                    o.in_flight -= 1
                    o.stats.requests -= 1
                    cancelled += 1
                    continue
                self.calls[(task.org, task.kind)] += 1
                outstanding[o.pool.submit(self._call, o.client, task)] = task
        return cancelled

    def _call(self, client: ZohoClient, task: Task) -> tuple:
        """Worker: one call -> (answer or error, arrival time). Never raises."""
        try:
            result: CallAnswer | ZcrmError = task.call(client)
        except ZcrmError as exc:
            result = exc
        except Exception as exc:  # a bug or an unexpected library error
            log.exception("unexpected error in a %s call of org %s", task.kind, task.org)
            result = ZcrmError(f"{task.kind}: unexpected {type(exc).__name__}", code="BUG")
        return result, self.clock()

    def _handle(self, task: Task, outcome: tuple, on_answer: OnAnswer, on_error: OnError) -> int:
        """One call came back; returns how many tasks are over (0 when it is sent again)."""
        result, at = outcome
        o = self._states[task.org]
        o.settle(result)
        if not isinstance(result, ZcrmError):
            on_answer(task, result)
            return 1
        action = "end_org" if result.code == "BUG" else action_of(KIND_ENDPOINTS[task.kind], result)
        if action == "retry" and not o.dead and task.attempt < self.policy.max_retries:
            task.attempt += 1
            o.stats.retries += 1
            delay = self._back_off(o, result, at, task)
            o.push(max(at + delay, o.backoff_until), next(self._seq), task)
            return 0
        sent = not (isinstance(result, TransportError) and not result.sent)
        on_error(task, result, action, sent)
        if action == "end_org":
            return 1 + self._end(o, result, on_error)
        if action == "end_run":
            self.end_run = result
            return 1 + sum(self._end(other, result, on_error) for other in self._states.values())
        return 1

    def _back_off(self, o: OrgState, exc: ZcrmError, at: float, task: Task) -> float:
        """The delay before sending again; a 429 or a throttled token holds the whole org."""
        if isinstance(exc, TokenThrottledError):
            o.back_off(at, self.policy, self._jitter.draws(("org", o.name)), 60.0)
        elif isinstance(exc, RateLimitError):
            o.stats.rate_limited += 1
            o.back_off(at, self.policy, self._jitter.draws(("org", o.name)), exc.retry_after_s)
        draws = self._jitter.draws(("retry", task.org, task.kind, str(task.key)))
        return self.policy.retry_delay_s(task.attempt, draws)

    def _end(self, o: OrgState, exc: ZcrmError, on_error: OnError) -> int:
        """End an org: its queued tasks are not sent. Returns how many."""
        if o.dead:
            return 0
        queued = o.end(exc.code, str(exc))
        self.ended[o.name] = exc
        log.error("org %s: %s; its other conversion calls are not sent", o.name, exc)
        for task in queued:
            on_error(task, exc, "end_org", False)
        return len(queued)

    def _not_sent(self, task: Task, exc: ZcrmError | None, on_error: OnError) -> None:
        why = exc or ZcrmError("the org ended", code="ORG_ENDED")
        on_error(task, why, "end_org", False)
