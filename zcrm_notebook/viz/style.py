"""How the figures look: colours, time axes, tick labels, notes and legends.

Fixed colour tables (per status, lead outcome, data center), time-zone handling and the
clock-time axis, percent ticks, and the small Axes helpers the plots share (labels,
"no data yet" notes, texts at the end of bars). Local styling only: nothing here reads or
writes matplotlib's global rcParams. The data the plots draw is prepared in
:mod:`zcrm_notebook.viz.plotdata`.
"""

from __future__ import annotations

import warnings
import zlib
from collections import Counter
from datetime import tzinfo
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

from ..errors import ConfigError
from .text import UNIT

#: Colour of each job status (snapshot categories), by meaning: grey waiting, blue
#: running, green done, red failed; a status we do not know gets purple and no status at
#: all (an ``error`` row) black. No data-center colour (:data:`DC_COLORS`) comes near any
#: of them, so a status is never read as a data center: each pair is at least 0.32 apart
#: in RGB (Euclidean distance of 0..1 components).
STATUS_COLORS: dict[str, str] = {
    "scheduled": "#b8c2cc",
    "in_progress": "#4c78a8",
    "completed": "#54a24b",
    "failed": "#e45756",
    "unknown": "#b279a2",
    "error": "#000000",
}
#: Colour of each lead outcome in stacked bars.
OUTCOME_COLORS: dict[str, str] = {
    "converted": STATUS_COLORS["completed"],
    "failed": STATUS_COLORS["failed"],
    "pending": "#d9d9d9",
}
#: Colour of text that reports a failure (failed leads, an error message).
ALERT_COLOR = "#c0392b"
#: Colour of each lead outcome of a conversion: converted green (converted earlier, not by
#: this run: pale green), not converted red (the job statuses' colours), pending light, the
#: outcomes that are no verdict neutral greys.
LEAD_OUTCOME_COLORS: dict[str, str] = {
    "converted": STATUS_COLORS["completed"],
    "already_converted": "#a9d6a4",  # converted, but not by this run: a paler green
    "not_converted": STATUS_COLORS["failed"],
    "pending": OUTCOME_COLORS["pending"],
    "not_scheduled": "#8c8c8c",
    "unknown": "#b5b5b5",
    "deleted": "#5f5f5f",
}
#: Colour of each Zoho data-center code; other codes get :func:`dc_color`'s fallback.
#: A qualitative palette (Okabe-Ito's orange, yellow and sky blue among them) with no red,
#: green, grey, mid blue, mauve or black: those are the job statuses' colours
#: (:data:`STATUS_COLORS`), and a data center drawn in one would read as a status (failed,
#: converted, running...).
DC_COLORS: dict[str, str] = {
    "us": "#0d0887",
    "eu": "#e69f00",
    "in": "#f0027f",
    "au": "#8844ee",  # violet, far from eu's orange (a mustard was alike in a legend)
    "jp": "#f0e442",
    "cn": "#56b4e9",
    "ca": "#8c510a",
    "sa": "#882255",
    "uk": "#17becf",
}
#: Colours of other codes and of orgs past the palette: each at least as far from every
#: status colour as the data centers' (several were near the running blue or "unknown").
_FALLBACK = [
    "#1a80ff",
    "#ff00ff",
    "#ffcc80",
    "#6600b2",
    "#ff66e6",
    "#0033ff",
    "#ffe600",
    "#b200cc",
    "#ff33b2",
    "#4c00ff",
    "#cc33ff",
    "#0000cc",
]
OTHER_COLOR = "#9e9e9e"
#: Colour of the dashboard's "all" progress bar (processed = converted + failed): a neutral
#: dark grey, like the plot's dashed "all" line; never green, which means converted.
ALL_COLOR = "#444444"
BY_LABEL = {"dc": "data center", "org": "org", "job": "job"}


def dc_color(code: str) -> str:
    """Colour of a data-center code.

    Parameters
    ----------
    code : str
        Data-center code (``us``, ``eu``...) or a custom one.

    Returns
    -------
    str
        Hex colour: ``DC_COLORS[code]`` for the nine Zoho codes, else one of 12 fallback
        colours picked by a CRC32 of the code (the same in every run and process).
    """
    if code in DC_COLORS:
        return DC_COLORS[code]
    return _FALLBACK[zlib.crc32(str(code).encode()) % len(_FALLBACK)]


def org_dcs(df: pd.DataFrame) -> dict[str, str]:
    """Org label -> its data center, for the orgs of the frame with a single data center."""
    if not {"org", "dc"} <= set(df.columns) or df.empty:
        return {}
    pairs = df[["org", "dc"]].dropna().drop_duplicates().astype(str)
    single = pairs[~pairs["org"].duplicated(keep=False)]
    return dict(zip(single["org"], single["dc"]))


def group_colors(by: str, names: list, dc_of: dict[str, str] | None = None) -> list[str]:
    """Colours of the groups ``names``; "other (...)" groups are grey.

    Data centers get :func:`dc_color`. An org gets the colour of its data center when
    ``dc_of`` (org -> data center, see :func:`org_dcs`) maps it and no other org shown
    has that data center, so ``au-org`` is drawn like ``au``; the other orgs, and jobs,
    get the data-center palette in the given order, skipping the colours of the data centers
    of the orgs shown (two orgs in ``eu`` are neither orange).
    """
    names = [str(n) for n in names]
    if by == "dc":
        out = [dc_color(n) for n in names]
    else:
        dc_of = dc_of or {}
        shown: list[str | None] = [dc_of.get(n) if by == "org" else None for n in names]
        counts = Counter(shown)  # counted once: 20,000 orgs, not 20,000 x 20,000 steps
        out = [dc_color(d) if d is not None and counts[d] == 1 else "" for d in shown]
        taken = {dc_color(d) for d in shown if d is not None}  # no org looks like another DC
        palette = [*DC_COLORS.values(), *_FALLBACK]
        free = [c for c in palette if c not in taken] or palette
        i = 0
        for k, c in enumerate(out):
            if not c:
                out[k], i = free[i % len(free)], i + 1
    return [OTHER_COLOR if n.startswith("other (") else c for n, c in zip(names, out)]


def percent_ticks() -> FuncFormatter:
    """Tick labels of an axis in percent: ``0%``, ``20%``, ``0.5%`` (never ``20.0%``), so a
    narrow failure-rate axis (0 to 1 %) does not read as a 0..1 fraction."""
    return FuncFormatter(lambda value, _pos: f"{value:.6g}%")


def get_ax(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only when no Axes is given

    return plt.gca()


def zone(tz: str | tzinfo) -> tuple[tzinfo, str]:
    """(tzinfo, display name) of ``tz``; raises ConfigError for an unknown zone."""
    if isinstance(tz, tzinfo):
        return tz, str(getattr(tz, "key", None) or tz)
    try:
        return ZoneInfo(str(tz)), str(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(
            f"unknown time zone {tz!r}; use an IANA name like 'Europe/Paris'"
        ) from None


def date_num(times: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Matplotlib date numbers of UTC instants (absolute: DST never changes spacing)."""
    idx = pd.DatetimeIndex(times).tz_convert("UTC").tz_localize(None)
    return mdates.date2num(idx.to_numpy("datetime64[ns]"))


# ConciseDateFormatter levels: years, months, days, hours, minutes, seconds. Ticks read as
# clock times (HH:MM, or HH:MM:SS when ticks fall between minutes); the date goes to the
# offset (bottom right) once, and into a tick only at midnight of a multi-day run.
_TICK_FORMATS = ["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%H:%M:%S.%f"]
_ZERO_FORMATS = ["", "%Y", "%b %d", "%b %d", "%H:%M", "%H:%M:%S.%f"]
_OFFSET_FORMATS = ["", "%Y", "%Y", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d"]
# most ticks per tick frequency: HH:MM:SS labels are wider, so fewer of them
_MAX_TICKS = dict.fromkeys(
    [mdates.YEARLY, mdates.MONTHLY, mdates.DAILY, mdates.HOURLY, mdates.MINUTELY], 9
) | {mdates.SECONDLY: 7, mdates.MICROSECONDLY: 5}
MIN_TIME_SPAN = pd.Timedelta("1min")  # time axis of a single instant (from it on)
TIME_MARGIN = 0.02  # right margin of a time axis, as a fraction of the data's span


class _ClockLocator(mdates.AutoDateLocator):
    """AutoDateLocator without duplicate ticks: on a spring-forward day the local times
    that do not exist (02:00, 02:30 in Paris) fall on the same instants as 03:00, 03:30,
    which would draw those labels twice.

    Spans of 3 to 4 minutes have too few whole minutes for ``minticks`` and too many
    seconds for 7 second ticks 30 s apart: matplotlib then warns ("unable to pick an
    appropriate interval") and falls back. A 60-second step among the second intervals
    covers them (ticks on whole minutes)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.intervald[mdates.SECONDLY] = [1, 5, 10, 15, 30, 60]

    def __call__(self):
        return np.unique(super().__call__())

    def tick_values(self, vmin, vmax):
        return np.unique(super().tick_values(vmin, vmax))


def time_axis(ax: Axes, tz: str | tzinfo) -> None:
    """Clock-time ticks and labels in ``tz`` on the x axis, labelled ``time (<zone>)``.

    Ticks are placed on round local times (DST changes keep the spacing of real time) and
    read ``HH:MM``, or ``HH:MM:SS`` when they fall between whole minutes; the date is the
    axis offset (``YYYY-MM-DD``, bottom right) and a multi-day run marks midnights by date.
    """
    info, name = zone(tz)
    locator = _ClockLocator(tz=info, minticks=4, maxticks=_MAX_TICKS)
    formatter = mdates.ConciseDateFormatter(
        locator,
        tz=info,
        formats=_TICK_FORMATS,
        zero_formats=_ZERO_FORMATS,
        offset_formats=_OFFSET_FORMATS,
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlabel(f"time ({name})")


def fit_time_axis(ax: Axes, x: np.ndarray) -> None:
    """Make the x view run from the first to the last date number of ``x``, plus a margin
    of 2 % of that span on the right (a marker at the last poll is drawn whole): the time
    axis ends at the data. The view starts at the first poll, so a run that has just begun
    reads forward, never with times before it started; a single instant gets a view
    :data:`MIN_TIME_SPAN` wide from it on (else the axis would span several years)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if not len(x):
        return
    lo, hi = float(x.min()), float(x.max())
    if hi > lo:
        ax.set_xlim(lo, hi + TIME_MARGIN * (hi - lo))
    else:
        ax.set_xlim(lo, lo + MIN_TIME_SPAN / pd.Timedelta("1D"))


def _laid_out_width(ax: Axes) -> float:
    """Width of ``ax`` in pixels: the smaller of its current width and its width once the
    figure's layout engine (constrained layout of the report figures) has placed the
    labels drawn so far (long tick labels make it narrower)."""
    width = ax.get_window_extent().width
    fig = ax.figure
    fig = cast(Figure, getattr(fig, "figure", None) or fig)  # the root of a SubFigure
    engine = fig.get_layout_engine()
    if engine is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "layout not applied" on tiny figures
            engine.execute(fig)
        width = min(width, ax.get_window_extent().width)
    return max(width, 1.0)


def room_for_texts(ax: Axes, ends: np.ndarray, texts: list, pad_pt: float = 4.0) -> float:
    """Right x limit (data units, x axis starting at 0) so that each text, drawn ``pad_pt``
    points right of its ``ends`` value, ends inside the Axes.

    Text widths are measured with the figure's renderer, against the Axes width as laid out
    with what is drawn so far, plus a 4 % margin. Measured twice: the layout of the first
    pass (texts still past the right edge, the x axis not yet widened) can leave the Axes
    narrower than it ends up, which would leave a wide empty band on the right.
    """
    needed = 0.0
    for _ in range(2):
        width = _laid_out_width(ax)
        needed = 0.0
        for end, text in zip(ends, texts):
            frac = (text.get_window_extent().width + pad_pt * ax.figure.dpi / 72) / width
            frac = min(frac + 0.04, 0.7)  # a very narrow Axes gets an axis 3.3x the data
            needed = max(needed, float(end) / (1.0 - frac))
        ax.set_xlim(0, needed)
    return needed


def legend_above(ax: Axes, **kwargs) -> None:
    """Legend in one row between the title and the axes (never over the data)."""
    ax.legend(
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=max(len(kwargs.get("handles") or ax.get_legend_handles_labels()[0]), 1),
        frameon=False,
        fontsize="small",
        borderaxespad=0.1,
        handlelength=1.2,
        columnspacing=1.2,
        **kwargs,
    )
    ax.set_title(ax.get_title(), pad=22)


def legend_right(ax: Axes, **kwargs) -> None:
    """Legend in a column just right of the axes, top aligned (never over the data); a
    constrained layout makes room for it (the report's and the dashboard's figures)."""
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        fontsize="small",
        **kwargs,
    )


def no_data(ax: Axes, what: str) -> Axes:
    """Write "no <what> yet" in the middle of ``ax`` and drop its ticks (an empty time axis
    would otherwise show 1970-01-01)."""
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(NullLocator())
        axis.set_major_formatter(NullFormatter())
        axis.set_minor_locator(NullLocator())
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(
        0.5, 0.5, f"no {what} yet", ha="center", va="center", transform=ax.transAxes, color="0.4"
    )
    return ax


def bar_axes(ax: Axes | None, tz: str | tzinfo, xlabel: str, ylabel: str, title: str) -> Axes:
    """The labelled Axes of a plot without a time axis (``tz`` is still checked)."""
    zone(tz)
    ax = get_ax(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, wrap=True)  # a long title (job totals) wraps inside the figure
    return ax


def note_no_leads(ax: Axes, table: pd.DataFrame, count_columns: list[str]) -> bool:
    """Write "no jobs yet" (no rows) or "no {UNIT} counts yet" (no positive count in
    ``count_columns``) on ``ax`` and return True; False when there is something to draw."""
    if table.empty:
        no_data(ax, "jobs")
    elif not (table[count_columns].fillna(0) > 0).any(axis=None):
        no_data(ax, f"{UNIT} counts")
    else:
        return False
    return True


def end_note(ax: Axes, text: str, xy: tuple[float, float], *, color: str) -> Annotation:
    """A small text just right of a bar's end ``xy``; :func:`room_for_texts` (same 4 pt
    offset) then widens the x axis so that it ends inside the Axes."""
    return ax.annotate(
        text,
        xy,
        xytext=(4, 0),
        textcoords="offset points",
        annotation_clip=False,  # measured before the x limits are set
        in_layout=False,  # placed inside the Axes by room_for_texts
        va="center",
        fontsize="small",
        color=color,
    )
