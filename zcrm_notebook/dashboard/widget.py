"""The live ipywidgets dashboard: progress bars, status counts, jobs to look at, one figure,
and the leads a conversion did not convert.

Threading model (the pitfalls it avoids: output written from threads lands in the wrong
cell or nowhere, a blocking poll loop makes buttons dead, redrawn pyplot figures leak):

- polling runs in one background thread (:func:`zcrm_notebook.poll.background.watch`); it never
  touches a widget, an Output area or a figure;
- one consumer, :meth:`Dashboard.refresh`, copies the snapshots so far and updates widget
  values; it runs on the kernel's main thread, from an asyncio task on the kernel's event
  loop (every ``refresh_s`` seconds while polling) or from a button handler;
- there is exactly one :class:`matplotlib.figure.Figure` (not pyplot): its two Axes are
  cleared and redrawn in place and rendered to PNG bytes shown by an ``ipywidgets.Image``.

Without a running event loop (a script, a test), nothing refreshes by itself: call
:meth:`Dashboard.refresh`.
"""

from __future__ import annotations

import html
import logging
import time
from pathlib import Path

try:
    import ipywidgets as W
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the dashboard needs ipywidgets: pip install 'zcrm-notebook[notebook]'"
    ) from exc

import pandas as pd

from ..analysis.summary import summarize_jobs
from ..convert.ledger import load_lead_outcomes
from ..convert.outcomes import coerce_outcomes
from ..errors import ConfigError, ZcrmError
from ..poll.background import Watch
from ..redact import clean_text
from ..snapshots.load import load_snapshots
from ..viz.report import GROUPINGS, export_report
from ..viz.style import ALERT_COLOR, ALL_COLOR, org_dcs, zone
from ..viz.text import UNITS, not_final_text, plural
from .comm_status import publish_idle_after_concurrent_comms
from .core import DashboardCore, FigureImage
from .view import (
    ATTEMPTS,
    JOB_TOTALS,
    attention_html,
    attention_jobs,
    bar_colors,
    ended_text,
    group_rows,
    latest_attempts,
    lead_counts_text,
    leads_text,
    not_converted_html,
    not_converted_leads,
    status_chips,
    status_counts,
    warnings_html,
)

__all__ = ["Dashboard", "attention_jobs"]

log = logging.getLogger(__name__)
#: Every bar keeps its width (flex 0 0 auto): a long label beside it wraps instead of narrowing
#: it, which drew a 100 % bar shorter than the others (user trial 8, the us row).
_BAR = {"width": "420px", "flex": "0 0 auto"}
#: The overall bar's label beside a conversion's leads: it sums the jobs' lead attempts.
_TOTALS_LABEL = "job totals"
#: Lowest poll interval the slider offers (seconds), unless the policy given asks lower.
MIN_SLIDER_INTERVAL_S = 2.0
_CODE_HINT = "or pass overwrite=True"
_BUTTON_HINT = "or type one in the box (dash.export(overwrite=True) in a cell writes there anyway)"
_INTERVAL_TIP = (
    "seconds: the shortest gap between two polls of a job, and the longest a finish may "
    "go unseen (PollPolicy.max_delay_s); lower values cost more API credits and reach "
    "Zoho's rate limits sooner"
)


def _phrases_html(text: str) -> str:
    """HTML of a status line: each phrase (the parts between ``" · "``) escaped in a
    ``white-space:nowrap`` span, so a narrow output breaks the line between phrases only,
    never inside one ("... not wall" / "time"); a phrase longer than
    :data:`_NOWRAP_MAX` characters (an error's text) may wrap. The text is cleaned first
    (:func:`~zcrm_notebook.redact.clean_text`: control and bidi characters, secrets)."""
    spans = (
        f"<span style='white-space:nowrap'>{html.escape(phrase)}</span>"
        if len(phrase) <= _NOWRAP_MAX
        else f"<span>{html.escape(phrase)}</span>"
        for phrase in clean_text(text, limit=_STATUS_MAX).split(" · ")
    )
    return " · ".join(spans)


_NOWRAP_MAX = 60  # characters of a phrase kept on one line
_STATUS_MAX = 1000  # characters of the status line


class Dashboard(DashboardCore):
    """Live dashboard of a batch of mass-convert jobs (display it as a cell's last value).

    Parameters
    ----------
    jobs : list, dict, DataFrame or CSV path
        As for :class:`~zcrm_notebook.poll.Poller`; checked at once.
    orgs : mapping org -> OrgCredentials, optional
        Default: :func:`~zcrm_notebook.inputs.orgs.load_orgs` of ``config`` (the TOML file, else
        the token store and the ``ZOHO_*`` environment).
    config, org : optional
        As for :class:`~zcrm_notebook.poll.Poller`.
    policy : PollPolicy, optional
        Base policy; the interval slider sets ``min_interval_s``/``max_delay_s``
        (seconds; the slider starts at 2 s, or lower if the policy's minimum is lower).
    store : path, SnapshotStore or MemoryStore, optional
        Journal shared by every Start of this dashboard: a restart resumes (history kept,
        finished jobs skipped). Default: in memory.
    clock, sleep : callables, optional
        Injected time, as for :class:`~zcrm_notebook.poll.Poller` (simulator, tests). The
        status line gives its times (poll start, last answer) by this clock, and says so
        when it is not ``time.time`` (e.g. the simulator's accelerated clock).
    tz : str, default "UTC"
        Time zone of times shown, of the figure and of exported figures.
    refresh_s : float, default 1.0
        Seconds between refreshes while polling (real time).
    figure_every_s : float, default 2.0
        Shortest real time between two redraws of the figure (the bars follow every
        refresh); a change of grouping or filter, the first answers after a Start, or the
        end of the poll, redraws at once.
        The caption under the figure (``figure_caption``) gives the time of the last answer
        it shows, and says when the bars above are newer.
    export_dir : str, default "zcrm-report"
        Initial folder of the Export box (new, empty, or holding a previous report).
    group_by : {"dc", "org"}, default "dc"
        Bars and figure per data center or per org.
    title : str, default "Zoho CRM mass convert"
    leads : pandas.DataFrame, optional
        The lead outcome table of a conversion (``ConversionResult.leads``): the dashboard
        then lists the leads not converted, with their job (:meth:`show_leads`), and
        exports them with the report.

    Raises
    ------
    ConfigError, JobInputError
        For bad orgs, job ids or ``tz`` (nothing is polled).

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole dashboard. Parts: ``status``, ``start_button``, ``stop_button``,
        ``interval``, ``group_by``, ``filter``, ``overall``, ``overall_text``,
        ``counts_html``, ``group_box``, ``image``, ``figure_caption``, ``attention_html``,
        ``leads_html`` (shown with ``leads``), ``export_dir``, ``export_button``,
        ``export_out`` (the last export's files or error, next to the button; "exporting..."
        while it writes). Browsing a
        past run hides Start, Stop and the interval slider.
    figure : matplotlib.figure.Figure
        The only figure; redrawn in place.
    handle : Watch or None
        The current (or last) background poll.
    attention : pandas.DataFrame
        The jobs-to-look-at table last shown (:func:`attention_jobs`).
    status_counts : dict of str to int
        Jobs by latest status last shown (``"not polled"`` for jobs without an answer).
    """

    def __init__(
        self,
        jobs=None,
        orgs=None,
        *,
        config=None,
        org=None,
        policy=None,
        store=None,
        clock=time.time,
        sleep=None,
        tz="UTC",
        refresh_s=1.0,
        figure_every_s=2.0,
        export_dir="zcrm-report",
        group_by="dc",
        title="Zoho CRM mass convert",
        leads=None,
        _frame=None,
    ) -> None:
        self.tz, self.tz_name = tz, zone(tz)[1]
        super().__init__(
            jobs,
            orgs,
            config=config,
            org=org,
            policy=policy,
            store=store,
            clock=clock,
            sleep=sleep,
            refresh_s=refresh_s,
            frame=_frame,
        )
        self.figure_every_s = float(figure_every_s)
        self._started_on_clock = 0.0
        self._first_started_on_clock: float | None = None  # a Stop, then Start keeps it
        self._last_key: tuple | None = None
        self._drawn_view: tuple | None = None
        self._figure_stale = True
        self._drawn_up_to: pd.Timestamp | None = None
        self._new_poll_from: int | None = None  # snapshots before the last Start, until drawn
        self._rows: dict[tuple[str, str], tuple] = {}
        self._shown: list[str] = []
        self.attention = pd.DataFrame()
        self.status_counts: dict[str, int] = {}
        self._fig = FigureImage()
        self.figure = self._fig.figure
        self.leads: pd.DataFrame | None = None
        self._build(title, export_dir, group_by)
        # a change made while a cell awaits (wait_async) must not hold the widget's next ones
        publish_idle_after_concurrent_comms(_kernel())
        if leads is not None:
            self.show_leads(leads)
        self.refresh(force=True)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, **kwargs) -> Dashboard:
        """Browse a past run: a dashboard over a snapshot DataFrame (Start is disabled).

        Parameters
        ----------
        df : pandas.DataFrame
            Snapshot frame. Not modified.
        **kwargs
            ``tz``, ``export_dir``, ``group_by``, ``title``, ``figure_every_s``,
            ``leads`` (a conversion's lead outcome table).
        """
        return cls(_frame=df.copy(), **kwargs)

    @classmethod
    def from_store(cls, path, **kwargs) -> Dashboard:
        """Browse the snapshots of a SQLite store file (a past run).

        To resume polling from a store instead, use ``Dashboard(jobs, ..., store=path)``.

        A store of ``zcrm-notebook convert`` (or ``convert_leads``) also brings its lead
        outcomes: the leads not converted are listed.

        Raises
        ------
        ConfigError
            If the path does not exist, is a folder, or is not a snapshot store.
        """
        df = load_snapshots(path, "store")  # checks the path first
        leads = load_lead_outcomes(path)
        kwargs.setdefault("leads", leads if len(leads) else None)
        return cls.from_frame(df, **kwargs)

    @classmethod
    def from_csv(cls, path, **kwargs) -> Dashboard:
        """Browse the snapshots of a snapshot CSV file (a past run).

        Raises
        ------
        ConfigError
            If the path does not exist, is a folder, or is not a snapshot CSV.
        """
        return cls.from_frame(load_snapshots(path, "csv"), **kwargs)

    def _build(self, title: str, export_dir: str, group_by: str) -> None:
        lo, hi = self.policy.min_interval_s, self.policy.delay_s
        floor = min(MIN_SLIDER_INTERVAL_S, lo)  # a policy set in code may go lower
        h3 = f"<h3 style='margin:0 1em 0 0;white-space:nowrap'>{html.escape(title)}</h3>"
        self.title = W.HTML(h3)
        # beside the title while it fits, below it in a narrow output (the HBox wraps)
        self.status = W.HTML("", layout=W.Layout(flex="1 1 20em")).add_class("zcrm-status")
        # red and green mean failed and converted: the buttons and bars use neither
        self.start_button = W.Button(description="Start", icon="play", button_style="primary")
        self.stop_button = W.Button(description="Stop", icon="stop", button_style="")
        self.interval = W.FloatRangeSlider(
            value=(lo, hi),
            min=floor,
            max=max(60.0, 3 * hi),
            step=0.5,
            description="gap, delay (s)",
            style={"description_width": "initial"},
            continuous_update=False,
            layout=W.Layout(width="420px"),
            tooltip=_INTERVAL_TIP,
        )
        self.group_by = W.ToggleButtons(
            options=["dc", "org"], value=group_by, style={"button_width": "4em"}
        )
        self.filter = W.Dropdown(options=[("all", "")], value="", description="show")
        self.overall = W.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            description=f"all {UNITS}",
            bar_style="",
            style={"bar_color": ALL_COLOR},
            layout=_BAR,
        )
        self.overall_text = W.HTML("").add_class("zcrm-overall-text")
        self.counts_html = W.HTML("").add_class("zcrm-counts")
        self.group_box = W.VBox([]).add_class("zcrm-groups")
        self.image = W.Image(format="png", layout=W.Layout(width="100%", max_width="1100px"))
        self.figure_caption = W.HTML("").add_class("zcrm-figure-caption")
        self.attention_html = W.HTML("").add_class("zcrm-attention")
        self.leads_html = W.HTML("").add_class("zcrm-leads")
        self.leads_box = W.VBox([W.HTML("<b>Leads not converted</b>"), self.leads_html])
        self.leads_box.layout.display = "none"  # until show_leads
        self.export_dir = W.Text(value=str(export_dir), description="folder")
        self.export_button = W.Button(
            description="Export",
            icon="download",
            tooltip="write the report bundle of what is shown to the folder (an empty or new "
            "folder, or one holding a previous report)",
        )
        self.export_out = W.HTML("").add_class("zcrm-export")
        self.overall.add_class("zcrm-overall")
        self._wire()
        controls = [self.start_button, self.stop_button, self.interval]
        if self.browsing:  # a past run: nothing to start, stop or pace
            for w in controls:
                w.layout.display = "none"
        self.widget = W.VBox(
            [
                W.HBox([self.title, self.status], layout=W.Layout(flex_flow="row wrap")),
                W.HBox(controls),
                W.HBox([W.Label("group by"), self.group_by, self.filter]),
                W.HBox([self.overall, self.overall_text]),
                self.counts_html,
                self.group_box,
                self.image,
                self.figure_caption,
                W.HTML("<b>Jobs that need attention</b>"),
                self.attention_html,
                self.leads_box,
                W.HBox([self.export_dir, self.export_button]),
                self.export_out,
            ]
        ).add_class("zcrm-dashboard")
        self._update_filter_options()

    def _wire(self) -> None:
        """Button and selector callbacks (they run on the kernel's main thread)."""
        self.start_button.on_click(lambda _: self._guard(self.start))
        self.stop_button.on_click(lambda _: self._guard(self.stop))
        self.export_button.on_click(lambda _: self._on_export())
        self.group_by.observe(lambda _: self._guard(self._on_group_by), names="value")
        self.filter.observe(lambda _: self._guard(self.refresh), names="value")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        mode = "browse" if self.browsing else ("running" if self.running else "idle")
        return f"<Dashboard {mode}: {plural(len(self.snapshots), 'snapshot')}>"

    @property
    def group_bars(self) -> dict[str, W.FloatProgress]:
        """Shown group -> its progress bar (fraction of the group's leads processed); empty
        when one group is shown (the top bar is then that group's)."""
        by = self.group_by.value
        return {key: self._rows[(by, key)][1] for key in self._shown}

    def view(self) -> pd.DataFrame:
        """The snapshots shown (and exported): :attr:`snapshots` with the filter applied."""
        return self._filtered(self.snapshots)

    def _filtered(self, df: pd.DataFrame) -> pd.DataFrame:
        if not self.filter.value:
            return df
        return df[df[self.group_by.value] == self.filter.value].reset_index(drop=True)

    # -- actions ----------------------------------------------------------------------

    def _guard(self, func) -> None:
        """Run a widget callback; show its error in the status line instead of losing it."""
        try:
            func()
        except Exception as exc:
            log.exception("dashboard action failed")
            why = html.escape(clean_text(str(exc)))  # any exception: no control/bidi chars
            self.status.value = f"<span style='color:{ALERT_COLOR}'>error: {why}</span>"

    def start(self) -> Watch | None:
        """Start polling in the background (no-op while running or when browsing).

        The interval slider gives ``min_interval_s``/``max_delay_s``; the dashboard's
        store makes a second Start resume (finished jobs are not polled again). While the
        kernel's event loop runs, the dashboard refreshes itself every ``refresh_s``.
        Right after :meth:`stop` (``dash.stop(); dash.start()`` in one cell) it first
        waits up to ``stop_wait_s`` (2 s) real seconds for the stopping poll to end.

        Returns
        -------
        Watch or None
            The new background poll (:func:`~zcrm_notebook.poll.background.watch`), or None while a
            poll runs (not stopping) or when browsing.

        Raises
        ------
        ConfigError
            For interval bounds the policy refuses.
        ZcrmError
            If the previous poll is still stopping after ``stop_wait_s``.
        """
        lo, hi = self.interval.value
        before = len(self.snapshots)
        handle = self._start_watch(float(lo), float(hi))
        if handle is not None:
            self._started_on_clock = float(self.clock())  # the clock of the answers' times
            if self._first_started_on_clock is None:
                self._first_started_on_clock = self._started_on_clock
            self._new_poll_from = before  # its first answers redraw the figure at once
            self.export_out.value = ""  # an export of before this Start no longer matches
            self.refresh()
            self._ensure_ticker()
        return handle

    def show_leads(self, leads: pd.DataFrame, *, max_rows: int = 10) -> None:
        """List the leads a conversion did not convert, with their job (the most telling
        first, at most ``max_rows``, with the count of the rest); exported with the report.

        Parameters
        ----------
        leads : pandas.DataFrame
            A lead outcome table (``ConversionResult.leads``). Not modified.
        max_rows : int, default 10

        Raises
        ------
        ConfigError
            ``leads`` is not a lead outcome table.
        """
        self.leads = latest_attempts(coerce_outcomes(leads))
        table, rest = not_converted_leads(self.leads, max_rows=max_rows)
        head = (
            f"<p>{html.escape(lead_counts_text(self.leads))}</p>"
            f"<p>The bars above count {ATTEMPTS}: {JOB_TOTALS}.</p>"
        )
        self.leads_html.value = head + not_converted_html(table, rest)
        self.leads_box.layout.display = None
        self.overall.description = _TOTALS_LABEL
        if self._last_key is not None:  # shown already: relabel the job totals now
            self._last_key = None
            self.refresh()

    def stop(self) -> None:
        """Ask the background poll to stop; it ends within about a second (snapshots kept)."""
        self._stop_watch()
        self._update_status(None)

    def export(self, out_dir=None, *, overwrite: bool = False) -> dict[str, Path]:
        """Write the report bundle of :meth:`view` and list its files next to the button.

        The bundle follows the view: its snapshots and tables are those the filter
        shows, its figures are grouped as the bars (``group_by``: per data center or org).

        The folder must be new, empty or hold only a previous report (replaced); see
        :func:`~zcrm_notebook.viz.report.export_report`.

        Parameters
        ----------
        out_dir : str or PathLike, optional
            Default: the folder typed in the Export box (spaces around it ignored).
        overwrite : bool, default False
            Write into a folder holding other files too (files of the bundle's names
            are replaced).

        Returns
        -------
        dict of str to pathlib.Path
            As :func:`~zcrm_notebook.viz.report.export_report`.

        Raises
        ------
        ConfigError
            Nothing to export (no snapshots shown), an empty folder name, a folder that
            is a file, cannot be written or holds other files (the button shows the
            message next to it).
        """
        # the figures take seconds: say so until the message below replaces it (an empty
        # message meanwhile read as a lost one, the files appearing already)
        self.export_out.value = "exporting..."
        try:
            return self._export(out_dir, overwrite)
        except BaseException:
            self.export_out.value = ""  # the caller (or the button) says what went wrong
            raise

    def _export(self, out_dir, overwrite: bool) -> dict[str, Path]:
        raw = out_dir if out_dir is not None else self.export_dir.value
        if isinstance(raw, str):
            raw = raw.strip()
        df = self.view()
        if df.empty:
            shown = f" for {self.group_by.value} = {self.filter.value}" if self.filter.value else ""
            raise ConfigError(f"nothing to export: no snapshots yet{shown}")
        by = self.group_by.value  # the bundle's figures are grouped as the dashboard's
        paths = export_report(df, raw, tz=self.tz, overwrite=overwrite, leads=self.leads, by=by)
        out = paths["readme"].parent
        shown = f"{by} = {self.filter.value}, " if self.filter.value else ""
        what = f" ({shown}figures per {GROUPINGS[by]})"
        items = "".join(f"<li><code>{html.escape(p.name)}</code></li>" for p in paths.values())
        self.export_out.value = (
            f"Exported {plural(len(df), 'snapshot')}{html.escape(what)} to "
            f"<code>{html.escape(str(out.resolve()))}</code>:<ul>{items}</ul>"
        )
        return paths

    def _on_export(self) -> None:
        """The Export button: the outcome goes next to the button (never the status line),
        replacing the previous one; errors are one line."""
        try:
            self.export()
        except ZcrmError as exc:  # the button cannot pass overwrite=True: say what can
            self._export_error(str(exc).replace(_CODE_HINT, _BUTTON_HINT))
        except OSError as exc:
            self._export_error(f"cannot write the report: {exc.strerror or exc}")
        except Exception as exc:
            log.exception("export failed")
            self._export_error(f"export failed: {type(exc).__name__}: {exc}")

    def _export_error(self, text: str) -> None:
        line = html.escape(text.splitlines()[0] if text else "unknown error")
        self.export_out.value = f"<span style='color:{ALERT_COLOR}'>not exported: {line}</span>"

    def close(self) -> None:
        """Stop polling and refreshing, close the widgets (and a store file given by path)."""
        self._stop_watch()
        self._cancel_ticker()
        self._close_store()
        for box, _, _ in self._rows.values():
            _close_tree(box)
        _close_tree(self.widget)

    def _on_group_by(self) -> None:
        with self._refresh_lock:
            self._update_filter_options()
            self.refresh()

    def _groups(self, df: pd.DataFrame, by: str) -> list[str]:
        return sorted({str(k) for k in self._job_keys[by]} | {str(k) for k in df[by].dropna()})

    def _update_filter_options(self) -> None:
        groups = self._groups(self.snapshots, self.group_by.value)
        self.filter.options = [("all", "")] + [(g, g) for g in groups]
        self.filter.value = ""

    # -- refresh ----------------------------------------------------------------------

    def refresh(self, force: bool = False) -> bool:
        """Copy the snapshots so far and update the widgets (one refresh at a time: a
        button's handler on another thread waits for the ticker's, and the other way).

        Cheap when nothing changed. The figure is redrawn when the data changed and
        ``figure_every_s`` passed since its last redraw, at once when the grouping or the
        filter changed, when the first answers of a new Start arrive or no poll is running,
        and always when ``force``.

        Parameters
        ----------
        force : bool, default False
            Update everything and redraw the figure even if nothing changed.

        Returns
        -------
        bool
            True if more than the status line was updated.
        """
        with self._refresh_lock:
            return self._refresh(force)

    def _refresh(self, force: bool) -> bool:
        df = self.snapshots
        self._update_buttons()
        self._update_status(df)
        view_key = (self.group_by.value, self.filter.value)
        key = (len(df), view_key, self.running)
        changed = force or key != self._last_key
        if not changed and not self._figure_stale:
            return False
        view = self._filtered(df)
        if changed:
            self._last_key = key
            jobs = summarize_jobs(view, stalled_after_s=self.policy.stalled_after_s)
            self._update_overall(jobs)
            self._update_groups(view)
            self.attention = attention_jobs(jobs)
            caught = self.handle.warnings if self.handle is not None else []
            table = attention_html(self.attention, polled=not view.empty)
            self.attention_html.value = table + warnings_html(caught)
            self._figure_stale = True
        due = time.monotonic() - self._fig.drawn_at >= self.figure_every_s
        # the first answers of a new poll (Stop, then Start) redraw at once, as a new view
        fresh = self._new_poll_from is not None and len(df) > self._new_poll_from
        if force or due or fresh or not self.running or view_key != self._drawn_view:
            self._redraw(view, view_key)
            self._new_poll_from = None if fresh else self._new_poll_from
        else:  # the bars moved on: the caption says the figure is of an earlier moment
            self.figure_caption.value = self._caption(self._drawn_up_to, view)
        return True

    def _update_buttons(self) -> None:
        # every job final: a new Start would poll nothing new (checked at each refresh)
        done = self.handle is not None and self.handle.stopped_reason == "finished"
        done = done and not self.running
        self.start_button.disabled = self.browsing or self.running or done
        self.start_button.tooltip = "every job is final: nothing left to poll" if done else ""
        self.stop_button.disabled = self.browsing or not self.running
        self.interval.disabled = self.browsing or self.running

    def _update_status(self, df: pd.DataFrame | None) -> None:
        if self.browsing:
            state = "browsing a past run"
            if df is not None and len(df):  # a partial run says so where it is read
                partial = not_final_text(summarize_jobs(df))
                state += f" · {partial}" if partial else ""
        elif self.handle is None:
            state = "not started: press Start"
        elif self.running:
            state = "stopping..." if self._stopping else f"polling since {self._since()}"
        else:
            state = ended_text(self.handle)
        last = ""
        if df is not None and len(df):
            t = self._hms(df["polled_at"].max())
            last = f" · {plural(len(df), 'snapshot')}, last answer {t}"
        if self.clock is not time.time and (self.running or last):
            last += " · times by the clock given (clock=), not wall time"
        self.status.value = _phrases_html(state + last)

    def _since(self) -> str:
        """``"00:00:00 UTC"``: the first Start, on the poll's clock, and after a Stop and a
        new Start ``"00:00:00 UTC (restarted 00:05:10)"`` (the snapshots cover both)."""
        first = self._first_started_on_clock
        last = self._started_on_clock
        since = self._hms(pd.Timestamp(last if first is None else first, unit="s", tz="UTC"))
        if first is None or first == last:
            return since
        restarted = self._hms(pd.Timestamp(last, unit="s", tz="UTC")).split(" ")[0]
        return f"{since} (restarted {restarted})"

    def _hms(self, t: pd.Timestamp) -> str:
        """``"12:03:10 UTC"``: a time in the dashboard's zone."""
        return f"{t.tz_convert(zone(self.tz)[0]).strftime('%H:%M:%S')} {self.tz_name}"

    def _update_overall(self, jobs: pd.DataFrame) -> None:
        total = int(jobs["total_count"].fillna(0).sum())
        failed = int(jobs["failed_count"].fillna(0).sum())
        done = int(jobs["converted_count"].fillna(0).sum()) + failed
        self.overall.value = done / total if total else 0.0
        every = f"all {UNITS}" if self.leads is None else _TOTALS_LABEL
        shown = self.filter.value  # under a filter the bar counts that group only
        self.overall.description = str(shown) if shown else every
        self.overall_text.value = leads_text(done, total, failed, self._units())
        self.status_counts = status_counts(jobs, self._filtered(self._job_keys))
        self.counts_html.value = status_chips(self.status_counts)

    def _update_groups(self, view: pd.DataFrame) -> None:
        by = self.group_by.value
        keys = [self.filter.value] if self.filter.value else self._groups(view, by)
        pairs = pd.concat([self._job_keys[["org", "dc"]], view[["org", "dc"]].astype("string")])
        colors = bar_colors(by, self._groups(view, by), org_dcs(pairs))
        for key, (value, text) in group_rows(view, by, keys, self._units()).items():
            if (by, key) not in self._rows:
                bar = W.FloatProgress(value=0.0, min=0.0, max=1.0, description=key, layout=_BAR)
                bar.add_class(f"zcrm-bar-{by}")
                label = W.HTML("")
                self._rows[(by, key)] = (W.HBox([bar, label]), bar, label)
            _, bar, label = self._rows[(by, key)]
            bar.style.bar_color = colors.get(key, "#9e9e9e")
            bar.value, label.value = value, text
        if len(keys) == 1:  # one group: the top bar is that group's bar, drawn once
            text = self._rows[(by, keys[0])][2].value
            if self.overall.description == _TOTALS_LABEL:  # says what it counts: keep it
                text = f"{html.escape(keys[0])}: {text}"
            else:
                self.overall.description = keys[0]
            self.overall_text.value = text
            keys = []
        self._shown = keys
        self.group_box.children = [self._rows[(by, k)][0] for k in keys]

    def _units(self) -> str:
        """What the bars count: leads, or lead attempts while a conversion's leads are
        shown (a retried lead is in each of its jobs)."""
        return UNITS if self.leads is None else ATTEMPTS

    def _redraw(self, view: pd.DataFrame, view_key: tuple) -> None:
        """Redraw the one figure in place and hand its PNG to the Image widget."""
        # the layout is also redone when a poll starts or ends (final tick labels fit)
        totals = self.leads is not None  # the leads are counted once beside: say job totals
        layout_key = (*view_key, tuple(self._shown), len(view) > 0, self.running, totals)
        self.image.value = self._fig.render(
            view,
            by=self.group_by.value,
            tz=self.tz,
            layout_key=layout_key,
            job_totals=totals,
            ended=not self.running,
        )
        self._drawn_view, self._figure_stale = view_key, False
        self._drawn_up_to = view["polled_at"].max() if len(view) else None
        self.figure_caption.value = self._caption(self._drawn_up_to, view)

    def _caption(self, drawn_up_to, view: pd.DataFrame) -> str:
        """The moment the figure shows (its last answer), and whether the bars are newer."""
        if drawn_up_to is None:
            return "<small>figure: no answers yet</small>"
        text = f"figure: answers up to {self._hms(drawn_up_to)}"
        newest = view["polled_at"].max() if len(view) else None
        if newest is not None and newest > drawn_up_to:
            text += (
                f" (redrawn every {self.figure_every_s:g} s: the bars and counts above are "
                f"newer, up to {self._hms(newest)})"
            )
        return f"<small>{html.escape(text)}</small>"


def _kernel():
    """The IPython kernel this runs in, or None (a script, a test)."""
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None)


def _close_tree(widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()
