"""Poll in the background: :func:`watch` returns at once with a live handle.

``poll_jobs`` blocks its caller until every job is finished. In a notebook you usually
want to start watching a batch and keep working: :func:`watch` runs
:meth:`Poller.run_snapshots <zcrm_notebook.poll.Poller.run_snapshots>` in one background
thread and hands back a :class:`Watch`, whose :attr:`~Watch.snapshots` is the snapshot
DataFrame so far (a copy, safe to read from any thread while the poll goes on).

The handle never touches widgets or figures: only the thread that reads it does (the
dashboard of :mod:`zcrm_notebook.dashboard.widget` reads it from the kernel's event loop). An
exception raised in the poll thread is kept and raised again by :meth:`Watch.wait`;
warnings raised there (``DataQualityWarning``) are kept in :attr:`Watch.warnings` instead of
being printed from the thread, which in Jupyter would land in whatever cell runs then.
A :class:`~zcrm_notebook.snapshots.memory.MemoryStore` keeps the history in memory across
runs, so a stopped watch can be started again without polling finished jobs twice (what a
SQLite store does on disk).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping

from ..auth.credentials import OrgCredentials
from ..snapshots.frame import FrameCache
from ..snapshots.schema import Snapshot
from .policy import PollPolicy
from .poller import Poller

__all__ = ["watch", "Watch"]

log = logging.getLogger(__name__)


_sinks: dict[int, list] = {}  # poll thread id -> its Watch.warnings
_shown_by_default = warnings.showwarning


def _showwarning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` that keeps a poll thread's warnings in its Watch."""
    sink = _sinks.get(threading.get_ident())
    if sink is None:
        _shown_by_default(message, category, filename, lineno, file, line)
    else:
        sink.append(warnings.WarningMessage(message, category, filename, lineno, file, line))


def _keep_thread_warnings() -> None:
    """Install :func:`_showwarning` (other threads' warnings are shown as before)."""
    global _shown_by_default
    if warnings.showwarning is not _showwarning:
        _shown_by_default = warnings.showwarning
        warnings.showwarning = _showwarning


class Watch:
    """Handle of a poll running in a background thread (see :func:`watch`).

    Parameters
    ----------
    poller : Poller
        A poller that has not run yet.
    name : str, default "zcrm-watch"
        Name of the background thread.
    stopping : threading.Event, optional
        Set by :meth:`stop`; :func:`watch` makes an injected ``sleep`` end early on it.

    Attributes
    ----------
    poller : Poller
        The poller (``org_stats()``, ``jobs``, ``policy``...).
    started_at : float
        ``time.monotonic()`` when the thread started.
    error : BaseException or None
        The exception that ended the thread, if any (also raised by :meth:`wait`).
    warnings : list of warnings.WarningMessage
        Warnings raised in the poll thread (``DataQualityWarning``: counts going backwards,
        stalled jobs...), kept here instead of being printed from the thread.
    """

    def __init__(
        self, poller: Poller, *, name: str = "zcrm-watch", stopping: threading.Event | None = None
    ) -> None:
        self.poller = poller
        self.error: BaseException | None = None
        self.warnings: list[warnings.WarningMessage] = []
        self._stopping = stopping or threading.Event()
        self._done = threading.Event()
        self._interrupted = False
        self._cache = FrameCache()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.started_at = time.monotonic()
        _keep_thread_warnings()
        self._thread.start()

    def _run(self) -> None:
        _sinks[threading.get_ident()] = self.warnings
        try:
            self.poller.run_snapshots()
        except BaseException as exc:  # kept for wait(); the thread must not die silently
            log.debug("poll thread ended with %s: %s", type(exc).__name__, exc)
            self.error = exc
        finally:
            _sinks.pop(threading.get_ident(), None)
            self._done.set()

    def __repr__(self) -> str:
        state = "done" if self.done else "running"
        return (
            f"<Watch {state}: {len(self.poller.jobs)} job ids, {self.n_snapshots} snapshots, "
            f"stopped_reason={self.stopped_reason!r}>"
        )

    @property
    def done(self) -> bool:
        """True once the poll thread has ended (finished, stopped, deadline or error)."""
        return self._done.is_set()

    @property
    def stopped_reason(self) -> str | None:
        """Why the run ended: ``"finished"``, ``"stopped"``, ``"deadline"``, ``"budget"``,
        ``"interrupted"`` (Ctrl-C during :meth:`wait`), ``"error"`` (see :attr:`error`);
        ``None`` while running."""
        if not self.done:
            return None
        if self.error is not None:
            return "error"
        if self._interrupted:
            return "interrupted"
        return self.poller.stopped_reason

    @property
    def n_snapshots(self) -> int:
        """Number of snapshots so far (store history included)."""
        return len(self.poller.all_snapshots)

    @property
    def snapshots(self):
        """The snapshot DataFrame so far: a new copy on each access, safe while polling.

        Returns
        -------
        pandas.DataFrame
            One row per poll, columns of :data:`zcrm_notebook.snapshots.schema.SNAPSHOT_COLUMNS`:
            the store's history, then this run's snapshots in arrival order.
        """
        # list concatenation is atomic under the GIL: a consistent prefix of the run
        return self._cache.frame(self.poller.all_snapshots)

    def stop(self) -> None:
        """Ask the poll to end (thread-safe, returns at once).

        The thread ends within about a second, also while the poller sleeps through an
        injected ``sleep``; every snapshot is kept. ``stopped_reason`` becomes
        ``"stopped"``.
        """
        self._stopping.set()
        self.poller.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends, or ``timeout`` seconds pass.

        A ``KeyboardInterrupt`` (Ctrl-C, a notebook interrupt) while waiting stops the run,
        like Ctrl-C in :func:`~zcrm_notebook.poll.poll_jobs`, and keeps every snapshot.
        In a notebook with a live dashboard, prefer ``await dashboard.wait_async()``:
        a blocking wait holds the kernel, so the dashboard is not redrawn meanwhile.

        Parameters
        ----------
        timeout : float, optional
            Seconds (real time) to wait at most; ``None`` waits for the end.

        Returns
        -------
        bool
            True if the run has ended, False if ``timeout`` passed first.

        Raises
        ------
        BaseException
            The exception that ended the poll thread, if any (raised on every call).
        """
        try:
            ended = self._done.wait(timeout)
        except KeyboardInterrupt:
            self._interrupted = True
            self.stop()
            ended = self._done.wait(5.0)
        if ended and self.error is not None:
            raise self.error
        return ended


def watch(
    jobs: object,
    orgs: Mapping[str, OrgCredentials] | None = None,
    *,
    config: str | os.PathLike | None = None,
    org: str | None = None,
    policy: PollPolicy | None = None,
    store: object = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] | None = None,
    progress: bool = False,
    on_snapshot: Callable[[Snapshot], None] | None = None,
) -> Watch:
    """Start polling a batch of jobs in a background thread and return at once.

    Parameters
    ----------
    jobs, orgs, config, org, policy, clock
        As for :func:`~zcrm_notebook.poll.poller.poll_jobs` (the jobs, their orgs, the
        TOML config, the org of a plain list, the :class:`PollPolicy`, the clock).
    store : path, SnapshotStore or MemoryStore, optional
        Journal of the snapshots; a :class:`~zcrm_notebook.snapshots.memory.MemoryStore`
        keeps the history in memory, so a stopped watch can start again without polling
        finished jobs twice.
    sleep : callable, optional
        ``(seconds) -> None`` of the injected clock; it is called in slices of 0.5 s so
        that :meth:`Watch.stop` acts within one slice.
    progress : bool, default False
        A text progress bar (in a notebook use the dashboard instead).
    on_snapshot : callable, optional
        Called with each new Snapshot on the poll thread: keep it short, never touch
        widgets from it.

    Returns
    -------
    Watch
        Running handle: ``.snapshots``, ``.stop()``, ``.wait(timeout)``, ``.done``,
        ``.stopped_reason``, ``.warnings`` (the warnings raised on the poll thread, e.g.
        ``DataQualityWarning``), ``.poller``.

    Raises
    ------
    ConfigError, JobInputError
        At once, for bad orgs or job ids (the thread is not started).

    Examples
    --------
    >>> h = watch(["3652397000009835020"], config="orgs.toml", org="acme-eu")  # doctest: +SKIP
    >>> h.snapshots.tail()  # doctest: +SKIP
    >>> h.stop(); h.wait(timeout=5)  # doctest: +SKIP
    """
    stopping = threading.Event()
    poller = Poller(
        jobs,
        orgs,
        config=config,
        org=org,
        policy=policy,
        store=store,
        clock=clock,
        sleep=None if sleep is None else _interruptible(sleep, stopping),
        progress=progress,
        on_snapshot=on_snapshot,
    )
    return Watch(poller, stopping=stopping)


def _interruptible(sleep: Callable[[float], None], stopping: threading.Event, slice_s=0.5):
    """``sleep`` in slices of ``slice_s`` (in the injected clock's seconds) that ends early
    once ``stopping`` is set: Stop acts fast even during a long accelerated-clock sleep."""

    def sliced(dt: float) -> None:
        left = max(0.0, float(dt))
        while left > 0 and not stopping.is_set():
            step = min(left, slice_s)
            sleep(step)
            left -= step

    return sliced
