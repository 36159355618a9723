"""The job summary as a compact, formatted table for notebooks (a pandas ``Styler``).

:func:`~zcrm_notebook.analysis.summary.summarize_jobs` gives 24 raw columns (fractions
0..1, seconds, flags): right to compute with, too much to read. :func:`style_jobs` shows
the columns a reader looks at first, formatted (percentages, ``h:mm:ss`` durations,
thousands separators, status words beside their colour), while the frame stays raw: the
Styler only formats what it displays. pandas' Styler needs jinja2 (installed with
Jupyter).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ConfigError
from .style import STATUS_COLORS
from .text import UNITS, status_word

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = ["COMPACT_COLUMNS", "style_jobs", "hms"]

#: The columns :func:`style_jobs` shows by default, with their header words.
COMPACT_COLUMNS: dict[str, str] = {
    "job_id": "job id",
    "org": "org",
    "dc": "data center",
    "status": "status",
    "total_count": UNITS,
    "converted_count": "converted",
    "failed_count": "failed",
    "not_converted_count": "pending",
    "progress": "processed",
    "failure_rate": "failure rate",
    "duration_s": "duration",
    "leads_per_min": f"{UNITS} / min",
    "flags": "flags",
}


def hms(seconds: float) -> str:
    """``h:mm:ss`` of a number of seconds (``"0:01:40"``; hours go past 24)."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _thousands(n: Any) -> str:
    return f"{int(n):,}"


#: Column -> how its values read.
_FORMATS: dict[str, Callable[[Any], str]] = {
    "status": status_word,
    "total_count": _thousands,
    "converted_count": _thousands,
    "failed_count": _thousands,
    "not_converted_count": _thousands,
    "progress": "{:.0%}".format,
    "failure_rate": "{:.1%}".format,
    "duration_s": lambda s: hms(s) if math.isfinite(s) else "",
    "leads_per_min": "{:.1f}".format,
}


def _error_codes(styler: Styler, jobs: pd.DataFrame) -> None:
    """A job we got no status for reads ``no status (INVALID_DATA)``, with the code of its
    last error (as the dashboard's jobs that need attention), when the summary has it."""
    if "last_error_code" not in jobs.columns or not jobs.index.is_unique:
        return
    codes = jobs.loc[jobs["status"].astype(str) == "error", "last_error_code"].dropna()
    for label, code in codes.items():
        text = html.escape(f"{status_word('error')} ({code})")  # a server's words: escaped
        styler.format(lambda _, text=text: text, subset=pd.IndexSlice[[label], ["status"]])


def _status_css(status: object) -> str:
    colour = STATUS_COLORS.get(str(status), "#999999")
    return f"border-left: 0.6em solid {colour}; padding-left: 0.4em"


def style_jobs(jobs: pd.DataFrame, *, columns: Sequence[str] | None = None) -> Styler:
    """A compact, formatted view of a job summary for a notebook cell.

    Parameters
    ----------
    jobs : pandas.DataFrame
        :func:`~zcrm_notebook.analysis.summary.summarize_jobs` output. Not modified.
    columns : sequence of str, optional
        Columns to show, in this order; default :data:`COMPACT_COLUMNS`.

    Returns
    -------
    pandas.io.formats.style.Styler
        Over ``jobs[columns]`` (the raw values): headers in words, no index, counts with
        thousands separators, ``progress`` and ``failure_rate`` in percent, ``duration_s``
        as ``h:mm:ss``, ``leads_per_min`` to 0.1 (numbers right-aligned), status words
        (a job we got no status for: ``no status (<its last error code>)``, e.g.
        ``INVALID_DATA`` for a job id Zoho does not know) with a bar of the status's colour
        (:data:`~zcrm_notebook.viz.style.STATUS_COLORS`);
        missing values empty; values stay on one line, headers may wrap between words.
        Display it as a cell's last value, or use ``.to_html()``.

    Raises
    ------
    ConfigError
        A column asked for is not in ``jobs`` (the message names it).
    ImportError
        jinja2 is not installed (pandas' Styler needs it).
    """
    shown = list(COMPACT_COLUMNS if columns is None else columns)
    missing = [c for c in shown if c not in jobs.columns]
    if missing:
        raise ConfigError(
            f"style_jobs: no column {missing} in the table; give summarize_jobs(df) output"
        )
    styler = jobs.loc[:, shown].style
    formats = {c: f for c, f in _FORMATS.items() if c in shown}
    # every value is shown escaped: ids, orgs and codes come from files and servers
    styler.format(None, na_rep="", escape="html")
    styler.format(formats, na_rep="", escape="html")  # type: ignore[arg-type]
    styler.format_index(
        lambda c: html.escape(COMPACT_COLUMNS.get(c, c.replace("_", " "))), axis="columns"
    )
    styler.hide(axis="index")
    numbers = [c for c in shown if c in _FORMATS and c != "status"]
    styler.set_properties(subset=numbers, **{"text-align": "right"})
    if "status" in shown:
        styler.map(_status_css, subset=["status"])
        _error_codes(styler, jobs)
    styler.set_table_styles(  # values on one line; a header of two words may wrap (narrow)
        [
            {"selector": "th, td", "props": "padding: 2px 6px"},
            {"selector": "td", "props": "white-space: nowrap"},
            {"selector": "th", "props": "white-space: normal; vertical-align: bottom"},
        ]
    )
    return styler
