"""The dashboard without its widgets (private; see :mod:`zcrm_notebook.dashboard.widget`).

:class:`DashboardCore` holds the jobs, the store shared by successive runs, the background
poll (:func:`~zcrm_notebook.poll.background.watch`) and the refresh task on the kernel's event loop;
:class:`FigureImage` is the dashboard's one matplotlib Figure rendered to PNG bytes. What
the widgets show is computed in :mod:`zcrm_notebook.dashboard.view`. Nothing here imports
ipywidgets or pyplot.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from dataclasses import replace

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import ZcrmError
from ..inputs.jobs import clean_jobs
from ..inputs.orgs import load_orgs
from ..poll.background import Watch, watch
from ..poll.policy import PollPolicy
from ..snapshots.frame import FrameCache
from ..snapshots.memory import MemoryStore
from ..snapshots.store import Store, open_store
from ..viz.failure_rate import plot_failure_rate
from ..viz.progress import plot_progress

__all__ = ["DashboardCore", "FigureImage", "as_store"]

log = logging.getLogger(__name__)


class FigureImage:
    """One Figure with two Axes (progress, failure rate), redrawn in place to PNG bytes.

    Not registered with pyplot, so nothing accumulates in pyplot's figure manager. The
    constrained layout is computed when the view changes and then kept (cheaper redraws),
    unless new tick labels (a failure-rate axis that grew) would reach past the figure.

    Parameters
    ----------
    figsize : tuple of float, default (11, 3.6)
        Inches.
    dpi : float, default 80

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    redraws : int
        Number of renders so far.
    """

    def __init__(self, figsize=(11.0, 3.6), dpi: float = 80.0) -> None:
        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        self._canvas = FigureCanvasAgg(self.figure)
        self.ax_progress, self.ax_failure = self.figure.subplots(1, 2, width_ratios=(3, 2))
        self.redraws = 0
        self.drawn_at = float("-inf")
        self._layout_key: tuple | None = None

    def render(
        self,
        view: pd.DataFrame,
        *,
        by: str,
        tz,
        layout_key: tuple,
        job_totals: bool = False,
        ended: bool = False,
    ) -> bytes:
        """Clear both Axes, draw :func:`plot_progress` and :func:`plot_failure_rate` again.

        Parameters
        ----------
        view : pandas.DataFrame
            Snapshot frame to draw. Not modified.
        by : {"dc", "org"}
        tz : str or tzinfo
            Zone of the time axis.
        layout_key : tuple
            What the layout depends on (grouping, filter, groups shown); the constrained
            layout is recomputed only when it changes.
        job_totals : bool, default False
            Label the counts as job totals (a conversion's leads are shown beside them).
        ended : bool, default False
            The run has ended (no poll running): no "yet" in the failure-rate notes.

        Returns
        -------
        bytes
            The figure as PNG.
        """
        relayout = layout_key != self._layout_key
        self.figure.set_layout_engine("constrained" if relayout else "none")
        self.ax_progress.clear()
        self.ax_failure.clear()
        plot_progress(view, by=by, ax=self.ax_progress, tz=tz, job_totals=job_totals)
        plot_failure_rate(
            view, by=by, ax=self.ax_failure, tz=tz, job_totals=job_totals, ended=ended
        )
        if not relayout and not self._fits():  # new tick labels reach past the kept layout
            self.figure.set_layout_engine("constrained")
        buf = io.BytesIO()
        self._canvas.print_png(buf)
        self._layout_key = layout_key
        self.redraws += 1
        self.drawn_at = time.monotonic()
        return buf.getvalue()

    def _fits(self) -> bool:
        """Whether every Axes with its tick labels, titles and legend lies inside the
        figure (measured without drawing)."""
        renderer = self._canvas.get_renderer()
        box = self.figure.bbox
        for ax in (self.ax_progress, self.ax_failure):
            tight = ax.get_tightbbox(renderer)
            if tight is not None and not (
                box.x0 <= tight.x0 and tight.x1 <= box.x1 and box.y0 <= tight.y0
                and tight.y1 <= box.y1
            ):  # fmt: skip
                return False
        return True


def as_store(store: object) -> Store:
    """The journal shared by a dashboard's runs: in memory unless a store is given."""
    if store is None:
        return MemoryStore()
    opened = open_store(store, exclusive=False)
    assert opened is not None
    return opened


class DashboardCore:
    """Jobs, store, background poll and refresh task of a dashboard (no widgets).

    Subclasses implement :meth:`refresh` (under ``_refresh_lock``: one at a time). Parameters as for
    :class:`zcrm_notebook.dashboard.widget.Dashboard`; ``frame`` makes a read-only dashboard over a
    snapshot DataFrame.

    Attributes
    ----------
    stop_wait_s : float, default 2.0
        Real seconds a start waits for a poll that is still stopping.
    """

    stop_wait_s = 2.0

    def __init__(
        self, jobs, orgs, *, config, org, policy, store, clock, sleep, refresh_s, frame
    ) -> None:
        self.policy = policy or PollPolicy()
        self.clock, self.sleep, self.refresh_s = clock, sleep, float(refresh_s)
        self.handle: Watch | None = None
        self._static = frame
        self._orgs: dict = {}
        self._jobs: dict[str, list[str]] = {}
        keys: dict[str, list[str]] = {"org": [], "dc": [], "job_id": []}
        if frame is None:
            self._orgs = dict(orgs) if orgs is not None else load_orgs(config)
            for job in clean_jobs(jobs, self._orgs, org=org):
                self._jobs.setdefault(job.org, []).append(job.job_id)
                keys["org"].append(job.org)
                keys["dc"].append(self._orgs[job.org].dc)
                keys["job_id"].append(job.job_id)
        self._job_keys = pd.DataFrame(keys, dtype="string")
        self._store = as_store(store) if frame is None else None
        self._own_store = self._store is not None and self._store is not store
        self._cache = FrameCache()
        self._task: asyncio.Task | None = None
        # the kernel's loop (the dashboard is made in a cell): the ticker always runs there,
        # also when a button's handler runs on another thread (JupyterLab can hand widget
        # messages to a kernel subshell, a thread with its own loop)
        self._loop = _running_loop()
        self._refresh_lock = threading.RLock()  # one refresh at a time, whatever the thread
        self._stopping = False

    def refresh(self, force: bool = False) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def browsing(self) -> bool:
        """True for a dashboard over a past run (no polling)."""
        return self._static is not None

    @property
    def running(self) -> bool:
        """True while a background poll runs."""
        return self.handle is not None and not self.handle.done

    @property
    def snapshots(self) -> pd.DataFrame:
        """The snapshot DataFrame at this moment (a copy; every job, whatever is shown)."""
        if self._static is not None:
            return self._static.copy()
        if self.handle is not None:
            return self.handle.snapshots
        assert self._store is not None  # only a browsing dashboard has no store
        return self._cache.frame(self._store.read())

    def _start_watch(self, min_interval_s: float, max_interval_s: float) -> Watch | None:
        if self.browsing:
            return None
        if self.running and self._stopping:
            self._wait_stopped()
        if self.running:
            return None
        policy = replace(
            self.policy,
            min_interval_s=min_interval_s,
            max_interval_s=None,
            max_delay_s=max_interval_s,  # the slider's upper end: the delay bound
        )
        self._stopping = False
        self.handle = watch(
            self._jobs,
            self._orgs,
            policy=policy,
            store=self._store,
            clock=self.clock,
            sleep=self.sleep,
        )
        return self.handle

    def _wait_stopped(self) -> None:
        """Wait up to :attr:`stop_wait_s` for a poll asked to stop (Stop then Start)."""
        assert self.handle is not None
        try:
            self.handle.wait(self.stop_wait_s)
        except Exception:  # the poll ended with an error: shown in the status line already
            pass
        if not self.handle.done:
            raise ZcrmError(
                f"the previous poll is still stopping after {self.stop_wait_s:g} s "
                "(a call to Zoho may be slow to return); start again in a moment"
            )

    def _stop_watch(self) -> None:
        if self.handle is not None and not self.handle.done:
            self._stopping = True
            self.handle.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the poll ends (see :meth:`Watch.wait`), then refresh.

        In a notebook prefer ``await dashboard.wait_async()``: a blocking wait holds the
        kernel, so the dashboard is not redrawn meanwhile.

        Parameters
        ----------
        timeout : float, optional
            Real seconds to wait at most; None waits for the end.

        Returns
        -------
        bool
            True if the poll has ended (or was never started), False on timeout.

        Raises
        ------
        BaseException
            The exception that ended the poll thread, if any.
        """
        ended = self.handle is None or self.handle.wait(timeout)
        self.refresh(force=ended)
        return ended

    async def wait_async(self, timeout: float | None = None) -> bool:
        """Wait for the poll to end without blocking the kernel: ``await`` it in a cell.

        Interrupting the kernel stops the waiting, not the poll: one line says so
        (instead of a ``CancelledError`` traceback) and the result is False.

        Parameters
        ----------
        timeout : float, optional
            Real seconds to wait at most; None waits for the end.

        Returns
        -------
        bool
            True if the poll has ended (or was never started), False on timeout or
            interrupt.

        Raises
        ------
        BaseException
            The exception that ended the poll thread, if any.
        """
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while self.running:
                if end is not None and time.monotonic() >= end:
                    return False
                await asyncio.sleep(0.1)
        except (asyncio.CancelledError, KeyboardInterrupt) as exc:
            uncancel = getattr(asyncio.current_task(), "uncancel", None)  # Python >= 3.11
            if isinstance(exc, asyncio.CancelledError) and uncancel is not None:
                uncancel()  # handled here: the cell ends normally
            print("interrupted: stopped waiting; the poll goes on (dash.stop() stops it)")
            return False
        return self.wait(0)

    def _ensure_ticker(self) -> None:
        """Refresh from an asyncio task on the kernel's event loop (the one running when the
        dashboard was made, else the caller's); without a loop (a script, a test) call
        :meth:`refresh` yourself. Safe from any thread: the task is made, and its end
        decided, on that loop's thread only, so a Start during the last tick of the run
        before always leaves one ticker running."""
        loop = self._loop or _running_loop()
        if loop is None or loop.is_closed():
            return
        if loop is _running_loop():
            self._spawn_ticker()
            return
        try:
            loop.call_soon_threadsafe(self._spawn_ticker)
        except RuntimeError:  # the loop closed meanwhile (kernel shutting down)
            pass

    def _spawn_ticker(self) -> None:
        """On the ticker's loop: a new ticker unless one is still ticking."""
        if self._task is not None and not self._task.done():
            return  # its next tick sees the new poll running and goes on
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            running = self.running
            try:
                self.refresh(force=not running)  # a last full refresh once the poll ended
            except Exception:
                log.exception("dashboard refresh failed")
            if not running:
                return
            await asyncio.sleep(self.refresh_s)

    def _cancel_ticker(self) -> None:
        task = self._task
        if task is None:
            return
        loop = task.get_loop()
        if loop is _running_loop():
            task.cancel()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    def _close_store(self) -> None:
        """Close a store file the dashboard opened itself, once its poll has ended."""
        if not self._own_store or self._store is None:
            return
        if self.handle is not None:
            try:
                self.handle.wait(5.0)
            except Exception:  # the poll's error was shown already; close anyway
                pass
        self._store.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
