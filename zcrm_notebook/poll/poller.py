"""The polling engine: many job ids, several orgs and data centers, within Zoho's limits.

:class:`Poller` is one poll run: it takes the jobs and orgs (checked at once), opens the
store and resumes from it, then runs the poll loop until every job is finished, the
deadline passes, the budget is used up or the run is stopped (:meth:`Poller.stop`, Ctrl-C,
SIGTERM), keeping every snapshot. Its parts, each in its own module:

- :mod:`zcrm_notebook.poll.loop`: which job is due, the calls on its own event loop,
  and what each answer means (snapshot, next poll, retries with backoff, giving up);
- :mod:`zcrm_notebook.poll.orgstate`: per-org state and limits (calls in flight, backoff, budget,
  failure) and the per-org counters (:class:`OrgStats`);
- :mod:`zcrm_notebook.poll.resume`: opening the store and the jobs a previous run finished.

Time comes from an injected ``clock``/``sleep`` so tests never sleep for real.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..auth.credentials import OrgCredentials
from ..inputs.jobs import clean_jobs
from ..inputs.orgs import load_orgs
from ..redact import clean_text
from ..snapshots.schema import Snapshot
from ..snapshots.store import Store, open_store
from .loop import PollLoop
from .orgstate import OrgState, OrgStats, org_stats_frame
from .policy import PollPolicy
from .resume import finished_jobs

__all__ = ["Poller", "OrgStats", "poll_jobs", "PollPolicy"]

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


class Poller:
    """Poll a batch of mass-convert jobs until each is finished, or until stopped.

    Parameters
    ----------
    jobs : list, dict, DataFrame or CSV path
        See :func:`zcrm_notebook.inputs.jobs.clean_jobs`.
    orgs : mapping org -> OrgCredentials, optional
        Defaults to :func:`zcrm_notebook.inputs.orgs.load_orgs` of ``config``.
    config : path, optional
        TOML file of orgs (used when ``orgs`` is not given).
    org : str, optional
        Org of a plain list of ids.
    policy : PollPolicy, optional
    store : SnapshotStore or path, optional
        SQLite journal: the snapshots that came back are committed in one transaction
        before the loop sends its next calls (a run killed with ``kill -9`` loses at most
        the answers of the calls in flight and those received since the loop last sent
        calls, one loop iteration; they are polled again on resume); a store that already
        holds snapshots resumes (history kept, finished jobs skipped). If the store fails
        (a full disk: any ``OSError`` or ``sqlite3.Error``), journaling stops with one
        warning, the run goes on keeping every snapshot in memory, and
        :attr:`store_error` says why.
    clock, sleep : callables, default ``time.time`` and an interruptible wait
        Injected time (seconds since the epoch) for tests and the simulator.
    progress : bool, default False
        Show a tqdm.auto bar (job ids done: final, or given up as unknown; leads converted).
    on_snapshot : callable, optional
        Called with each new Snapshot on the poll loop's thread (e.g. a dashboard queue).

    Raises
    ------
    ConfigError, JobInputError
        At construction, for bad orgs or job ids; nothing has been called yet.
    """

    #: Log a WARNING when Ctrl-C (or SIGTERM) ends the run; the command line, which
    #: prints its own final line saying so, sets it False on its poller.
    log_interrupt: bool = True

    def __init__(
        self,
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
        self.store, self._owns_store = open_store(store), not isinstance(store, Store)
        self.history: list[Snapshot] = self.store.read() if self.store is not None else []
        self.snapshots: list[Snapshot] = []
        self._unsaved: list[Snapshot] = []  # recorded, committed by the next _flush
        self.stopped_reason: str | None = None
        #: Why the store stopped journaling (one line), None while it works.
        self.store_error: str | None = None
        self._orgs: dict[str, OrgState] = {}

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
        from ..snapshots.frame import to_frame

        return to_frame(self.all_snapshots)

    def org_stats(self):
        """Per-org counters of this run as a DataFrame.

        Returns
        -------
        pandas.DataFrame
            One row per org: ``org, dc, jobs, requests, retries, rate_limited, errors,
            credits_used, credits_remaining, token_requests, failed_reason,
            failed_message, answered, last_error`` (why the org ended, one line; NA when
            it did not; ``errors``: ``error`` rows, polls that got no status after their
            retries (an unknown job id is asked ``not_found_confirmations`` times);
            ``answered``: calls the CRM API answered, the basis of
            ``credits_used``; ``last_error``: code and text of the org's last failed call,
            retried ones too, NA when none failed).
        """
        return org_stats_frame(self._orgs.values())

    def run(self):
        """Poll until every job is finished, the deadline passes, or :meth:`stop`.

        A ``KeyboardInterrupt`` (Ctrl-C, notebook interrupt) ends the run cleanly:
        ``stopped_reason`` becomes ``"interrupted"`` and everything collected is returned.

        Returns
        -------
        pandas.DataFrame
            The snapshot frame (:mod:`zcrm_notebook.snapshots.frame`): the store's history followed
            by this run's snapshots, one row per poll.
        """
        self.run_snapshots()
        return self.frame()

    def run_snapshots(self) -> list[Snapshot]:
        """As :meth:`run`, returning Snapshot records instead of a DataFrame."""
        bar = self._progress_bar()
        try:
            with self._sigint_stops():
                reason = self._start(bar).run()
                stopped_by_signal = reason == "stopped" and self._interrupted
                self.stopped_reason = "interrupted" if stopped_by_signal else reason
        except KeyboardInterrupt:
            self.stopped_reason, self.stop_signal = "interrupted", signal.SIGINT
        finally:
            self._shutdown(bar)
        if self.stopped_reason == "interrupted" and self.log_interrupt:
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

    def _start(self, bar) -> PollLoop:
        """Open the orgs; every job not finished in the store is due now."""
        finished = finished_jobs(self.history, self.policy.not_found_confirmations)
        start = self.clock()
        for creds in self.orgs_config.values():
            self._orgs[creds.org] = OrgState.open(creds, self.policy, self.clock)
        loop = PollLoop(
            self._orgs,
            self.policy,
            self._record,
            flush=self._flush,
            clock=self.clock,
            sleep=self._sleep,
            stop=self._stop,
            bar=bar,
        )
        for job in self.jobs:
            self._orgs[job.org].stats.jobs += 1
            if job not in finished:
                loop.add(job, start)
        if finished & set(self.jobs):
            log.info(
                "resuming: %d jobs already finished in the store", len(finished & set(self.jobs))
            )
        return loop

    def _shutdown(self, bar) -> None:
        for o in self._orgs.values():
            o.close()
        if self.store is not None and self._owns_store:
            try:
                self.store.close()  # checkpoints the WAL into the file
            except (OSError, sqlite3.Error) as exc:
                self._store_failed(exc)
        if bar is not None:
            bar.close()

    def _progress_bar(self):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=len(self.jobs), unit="id", desc="job ids done")

    def _record(self, snap: Snapshot) -> None:
        """Keep a snapshot: this run's list, the store's next commit, then ``on_snapshot``."""
        self.snapshots.append(snap)
        if self.store is not None and self.store_error is None:
            self._unsaved.append(snap)  # logged as kept once committed
        else:
            log.debug("snapshot %s %s %s (kept)", snap.org, snap.job_id, snap.status)
        if self.on_snapshot is not None:
            self.on_snapshot(snap)

    def _flush(self) -> None:
        """Commit the snapshots recorded since the last flush, in one transaction (the loop
        calls it before sending the next calls, and at the end of the run)."""
        if not self._unsaved:
            return
        batch, self._unsaved = self._unsaved, []
        if self.store is not None and self.store_error is None:
            try:
                self.store.extend(batch)
            except (OSError, sqlite3.Error) as exc:  # a full disk: keep polling, in memory
                self._store_failed(exc)
                return
            if log.isEnabledFor(logging.DEBUG):
                for snap in batch:
                    log.debug("snapshot %s %s %s (kept)", snap.org, snap.job_id, snap.status)

    def _store_failed(self, exc: BaseException) -> None:
        """Stop journaling: say so once, in one line (the snapshots stay in memory)."""
        if self.store_error is not None:
            log.debug("store: %s", exc)
            return
        where = getattr(self.store, "path", None) or type(self.store).__name__
        self.store_error = f"store {str(where)!r} failed ({clean_text(str(exc), 120)})"
        log.warning(
            "%s: journaling stopped; every snapshot is kept in memory (%d so far)",
            self.store_error,
            len(self.snapshots),
        )


def poll_jobs(
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
) -> pd.DataFrame:
    """Poll a batch of mass-convert jobs to the end and return the snapshot DataFrame.

    Shorthand for ``Poller(jobs, orgs, ...).run()`` (:class:`Poller`). Source of the
    status call: Zoho CRM API "Get Status of Mass Convert Lead"
    (https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-status.html).

    Parameters
    ----------
    jobs : list, dict, DataFrame or CSV path
        Job ids: a list (one org), ``{org: [ids]}``, or a table with ``job_id`` and
        ``org`` or ``dc`` columns (:func:`zcrm_notebook.inputs.jobs.clean_jobs`).
    orgs : mapping of str to OrgCredentials, optional
        The orgs by label; default :func:`zcrm_notebook.inputs.orgs.load_orgs` of
        ``config`` (else the token store and the ``ZOHO_*`` environment).
    config : str or PathLike, optional
        TOML file with one ``[orgs.<name>]`` table per org.
    org : str, optional
        The org of a plain list of ids.
    policy : PollPolicy, optional
        Intervals (seconds), calls in flight, retries, deadline; default ``PollPolicy()``.
    store : path, SnapshotStore or MemoryStore, optional
        Journal: every snapshot is committed as it arrives; a store with snapshots
        resumes (history kept, finished jobs not polled again).
    clock : callable, default time.time
        ``() -> float`` seconds since the epoch (the simulator's clock in tests).
    sleep : callable, optional
        ``(seconds) -> None``; default a wait that :meth:`Poller.stop` interrupts.
    progress : bool, default False
        Show a tqdm.auto bar (job ids done: final, or given up as unknown; leads converted).
    on_snapshot : callable, optional
        Called with each new :class:`~zcrm_notebook.snapshots.schema.Snapshot` on the
        poll loop's thread.

    Returns
    -------
    pandas.DataFrame
        One row per poll with the columns of
        :data:`zcrm_notebook.snapshots.schema.SNAPSHOT_COLUMNS`.

    Raises
    ------
    ConfigError, JobInputError
        Before any call, for bad orgs or job ids. Faults during the run never raise: they
        become ``error`` rows.
    """
    return Poller(
        jobs,
        orgs,
        config=config,
        org=org,
        policy=policy,
        store=store,
        clock=clock,
        sleep=sleep,
        progress=progress,
        on_snapshot=on_snapshot,
    ).run()
