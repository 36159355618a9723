"""Per-org state of a run: counters, the queue of due calls, and the org's limits.

Each org polls through its own :class:`~zcrm_notebook.client.ZohoClient` (its status
GETs on the poll loop's event loop) and thread pool (token requests, and the conversion
loop's calls), at most its calls in flight (``PollPolicy.max_in_flight``, default 5,
``docs/zoho-api.md``). Its limits are kept here: the cap, a backoff of the whole org
(a 429, a throttled token endpoint), the call budget of the run, and the end of the org
(an auth or config failure, or the budget used up). Only bookkeeping: the poller's
poll loop's thread owns every :class:`OrgState` and decides when to call, log and record;
nothing here makes an HTTP call, sleeps or imports pandas at module level. The conversion
loop (:mod:`zcrm_notebook.convert.calls`) queues its POSTs and reads in the same
:class:`OrgState`: same cap, same backoff.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..auth.credentials import OrgCredentials
from ..client import ZohoClient
from ..errors import AccountsUnreachableError, ApiError, ZcrmError
from ..redact import clean_text
from .jitter import Uniform
from .policy import PollPolicy

T = TypeVar("T")

__all__ = ["OrgStats", "OrgState", "org_stats_frame"]


@dataclass
class OrgStats:
    """Counters of one org for one run (see :meth:`zcrm_notebook.poll.Poller.org_stats`)."""

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
    failed_message: str | None = None
    answered: int = 0
    last_error: str | None = None

    @property
    def credits_used(self) -> int:
        """Estimated API credits used: one per call the CRM API answered (Zoho does not
        document the cost of the status GET); a call that never reached it (no token, no
        connection) costs none."""
        return self.answered


@dataclass
class OrgState(Generic[T]):
    """One org of a run: its client, pool, queue of due calls (items ``T``: a poll's
    :class:`~zcrm_notebook.inputs.jobs.Job`), calls in flight and limits."""

    creds: OrgCredentials
    client: ZohoClient
    pool: ThreadPoolExecutor
    cap: int
    stats: OrgStats
    queue: list = field(default_factory=list)  # heap of (due, seq, item); stale seqs skipped
    queued: dict = field(default_factory=dict)  # item -> (due, seq) of its one live entry
    in_flight: int = 0
    backoff_until: float = 0.0
    backoff_level: int = 0
    dead: bool = False
    unreachable: int = 0  # token requests in a row that got no answer (one call at a time)
    error_codes_seen: set[str] = field(default_factory=set)

    @classmethod
    def open(
        cls, creds: OrgCredentials, policy: PollPolicy, clock: Callable[[], float]
    ) -> OrgState:
        """The org's client and a thread pool of its cap of calls in flight."""
        cap = policy.cap(creds.org)
        client = ZohoClient(creds, timeout_s=policy.timeout_s, pool_size=cap, clock=clock)
        pool = ThreadPoolExecutor(max_workers=cap, thread_name_prefix=f"zcrm-{creds.org}")
        return cls(creds, client, pool, cap, OrgStats(creds.org, creds.dc))

    @property
    def name(self) -> str:
        return self.creds.org

    def close(self) -> None:
        """End the org's calls: those in flight are aborted (their workers return at
        once), those not started are dropped; close the client. Never waits."""
        self.client.abort()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    # -- the queue of due polls ---------------------------------------------------------

    def push(self, due: float, seq: int, item: T) -> None:
        """Queue ``item``'s call at ``due``; an earlier entry of the item becomes stale."""
        self.queued[item] = (due, seq)
        heapq.heappush(self.queue, (due, seq, item))

    def due_of(self, item: T) -> float | None:
        """When ``item``'s queued call is due; None when it is not queued (in flight, done)."""
        entry = self.queued.get(item)
        return None if entry is None else entry[0]

    def _top(self) -> tuple | None:
        """The live entry due first (stale entries, left by a moved call, are dropped)."""
        while self.queue:
            due, seq, item = self.queue[0]
            if self.queued.get(item, (None, None))[1] == seq:
                return self.queue[0]
            heapq.heappop(self.queue)
        return None

    def paused(self, now: float) -> bool:
        """Backing off, or ended: no call may start now."""
        return now < self.backoff_until or self.dead

    def has_due(self, now: float) -> bool:
        """A poll is due and a call slot is free."""
        cap = 1 if self.unreachable else self.cap
        if self.in_flight >= cap:
            return False
        top = self._top()
        return top is not None and top[0] <= now

    def take(self) -> T:
        """The next due item, counted as one call in flight and one request."""
        self._top()
        _, _, item = heapq.heappop(self.queue)
        del self.queued[item]
        self.in_flight += 1
        self.stats.requests += 1
        return item

    def settle(self, result: Any) -> None:
        """A call came back (an answer or a :class:`ZcrmError`); an answer ends the org's
        backoff streak and brings its ``credits_remaining``."""
        self.in_flight -= 1
        if isinstance(result, ZcrmError):  # also those retried before any row is recorded
            self.stats.last_error = clean_text(f"{result.code}: {result}", 200)
        if not isinstance(result, ZcrmError) or isinstance(result, ApiError):
            self.stats.answered += 1
        if not isinstance(result, AccountsUnreachableError):
            self.unreachable = 0  # a token came, or the accounts server answered
        if not isinstance(result, ZcrmError):
            self.backoff_level = 0
            credits = getattr(result, "credits_remaining", None)
            if credits is not None:
                self.stats.credits_remaining = credits

    def next_wake(self, budget: int | None) -> float | None:
        """When the org's next call may start; None if it has none left to make."""
        top = self._top()
        if top is None or self.dead or self.over_budget(budget):
            return None
        return max(top[0], self.backoff_until)

    # -- limits -------------------------------------------------------------------------

    def over_budget(self, budget: int | None) -> bool:
        return budget is not None and self.stats.requests >= budget

    def back_off(
        self, at: float, policy: PollPolicy, rng: Uniform, retry_after_s: float | None
    ) -> float:
        """Hold the whole org; the n-th backoff in a row waits longer. Returns the delay s."""
        self.backoff_level += 1
        delay = policy.retry_delay_s(self.backoff_level, rng, retry_after_s)
        self.backoff_until = max(self.backoff_until, at + delay)
        return delay

    def first_error(self, code: str) -> bool:
        """True the first time the org sees an error ``code`` in this run."""
        if code in self.error_codes_seen:
            return False
        self.error_codes_seen.add(code)
        return True

    def end(self, reason: str | None, message: str | None = None) -> list[T]:
        """End the org for the run (``failed_reason``, ``failed_message``); returns its
        queued jobs, due first."""
        self.dead = True
        self.stats.failed_reason, self.stats.failed_message = reason, message
        live = sorted((due, seq, item) for item, (due, seq) in self.queued.items())
        self.queue.clear()
        self.queued.clear()
        return [item for _, _, item in live]

    def stats_row(self) -> dict:
        self.stats.token_requests = self.client.tokens.requests
        return {**self.stats.__dict__, "credits_used": self.stats.credits_used}


def org_stats_frame(orgs: Iterable[OrgState]):
    """Per-org counters as a DataFrame (see :meth:`zcrm_notebook.poll.Poller.org_stats`)."""
    import pandas as pd

    cols = list(OrgStats.__dataclass_fields__) + ["credits_used"]
    return pd.DataFrame([o.stats_row() for o in orgs], columns=cols).astype(
        {
            "credits_remaining": "Int64",
            "failed_reason": "string",
            "failed_message": "string",
            "last_error": "string",
            "org": "string",
            "dc": "string",
        }
    )
