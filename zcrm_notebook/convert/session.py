"""What one conversion run shares: its orgs, the store and its ledger, the policy, the clock,
the call runner, the deadline and what went wrong.

:class:`Session` opens the snapshot store (holding its run lock) and the ledger in it, and
closes them; :meth:`Session.scope` is the set of chunks a run drives: the open chunks that
hold one of the leads it was given.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..auth.credentials import OrgCredentials
from ..errors import ConfigError, DataQualityWarning
from ..inputs.orgs import load_orgs
from ..poll.policy import PollPolicy
from ..snapshots.store import SnapshotStore
from .calls import CallRunner
from .ledger import Chunk, Ledger

__all__ = ["Session", "open_session", "SETTLE_S", "Key"]

log = logging.getLogger(__name__)

#: Seconds after a POST whose answer was lost before its unconverted leads are planned
#: again (Zoho has no list of jobs and no idempotency key: a lost job can only be waited
#: out; a job of 50 leads usually ends within minutes).
SETTLE_S = 1800.0
Key = tuple[str, str]  # (org, lead id)


@dataclass
class Session:
    """One conversion run's shared state (see the module docstring).

    Attributes
    ----------
    orgs : dict of str to OrgCredentials
    store : SnapshotStore
    ledger : Ledger
    policy : PollPolicy
    clock, sleep : callables
    runner : CallRunner
    settle_s : float
        See :data:`SETTLE_S`.
    deadline : float or None
        Clock time the run stops at (None: no deadline).
    notes : list of str
        What the run says at the end (count mismatches, ended orgs...), in order.
    warned : list of str
        The notes issued as a DataQualityWarning too (shown when they happened).
    """

    orgs: dict[str, OrgCredentials]
    store: SnapshotStore
    ledger: Ledger
    policy: PollPolicy
    clock: Callable[[], float]
    sleep: Callable[[float], object]
    runner: CallRunner
    settle_s: float = SETTLE_S
    deadline: float | None = None
    notes: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    watchers: list = field(default_factory=list)  # running pollers (stopped with the run)
    signal: int | None = None  # the signal that stopped the run, if one did
    held: set[int] = field(default_factory=set)  # intents not to send again in this run

    def scope(self, keys: Iterable[Key]) -> list[Chunk]:
        """The open chunks holding one of the leads ``keys``, in id order."""
        wanted = set(keys)
        return [
            c
            for c in self.ledger.chunks(open_only=True)
            if any((c.org, lead) in wanted for lead in c.lead_ids)
        ]

    def time_left(self) -> float | None:
        """Seconds to the deadline (None: none; never negative)."""
        return None if self.deadline is None else max(0.0, self.deadline - self.clock())

    def over(self) -> bool:
        """Stopped, or past the deadline."""
        left = self.time_left()
        return self.stop.is_set() or (left is not None and left <= 0)

    def note(self, text: str, warn: bool = False) -> None:
        """Keep a line for the end of the run (logged at INFO: the run's caller shows the
        notes); ``warn``: also a DataQualityWarning now (listed in :attr:`warned`)."""
        self.notes.append(text)
        log.info("%s", text)
        if warn:
            self.warned.append(text)
            warnings.warn(text, DataQualityWarning, stacklevel=3)

    def resume(self) -> None:
        """Make the ledger fit to resume: chunks a run left mid-POST, and chunks holding a
        job id that breaks the job-id rule, become ``unknown`` (each bad one noted)."""
        self.ledger.resume_interrupted()
        for chunk_id, why in self.ledger.drop_bad_job_ids():
            self.note(f"chunk {chunk_id}: {why}; taken as a lost answer, its leads read back")

    def request_stop(self) -> None:
        """End the run between two answers (thread-safe)."""
        self.stop.set()
        for poller in list(self.watchers):
            poller.stop()


@contextlib.contextmanager
def open_session(
    store: object,
    orgs: Mapping[str, OrgCredentials] | None = None,
    *,
    config: str | os.PathLike | None = None,
    policy: PollPolicy | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] | None = None,
    settle_s: float = SETTLE_S,
    deadline_s: float | None = None,
) -> Iterator[Session]:
    """A :class:`Session` on ``store`` (a path, opened with its run lock, or an open
    :class:`SnapshotStore`; None: in memory), closed at the end; Ctrl-C and SIGTERM on the
    main thread end the run between two answers.

    Raises
    ------
    ConfigError
        No org configured, another run holds the store, a bad ``settle_s``.
    """
    if not settle_s >= 0:
        raise ConfigError(f"settle_s must be >= 0 seconds, not {settle_s!r}")
    orgs = dict(orgs) if orgs is not None else load_orgs(config)
    owned = not isinstance(store, SnapshotStore)
    opened = store if isinstance(store, SnapshotStore) else _open_store(store)
    stop = threading.Event()
    policy = policy or PollPolicy()
    wait = sleep or (lambda s: stop.wait(s))
    runner = CallRunner(orgs, policy, clock=clock, sleep=wait, stop=stop)
    session = Session(
        orgs, opened, Ledger(opened), policy, clock, wait, runner, float(settle_s), stop=stop
    )
    session.deadline = None if deadline_s is None else clock() + deadline_s
    try:
        with _signals_stop(session):
            yield session
    finally:
        runner.close()
        if owned:
            opened.close()


def _open_store(store: object) -> SnapshotStore:
    if store is None:
        return SnapshotStore(":memory:")
    return SnapshotStore(store, exclusive=True)  # type: ignore[arg-type]


@contextlib.contextmanager
def _signals_stop(session: Session) -> Iterator[None]:
    """On the main thread, Ctrl-C and SIGTERM end the run between two answers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if session.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C
        session.signal = signum
        session.note(f"stopped by {signal.Signals(signum).name}: run the same command to resume")
        session.request_stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
