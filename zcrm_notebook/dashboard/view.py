"""What the dashboard shows, as plain values and HTML (private; see
:mod:`zcrm_notebook.dashboard.widget`).

Pure functions of the snapshot frame and its summaries: the jobs that need attention, the
per-group progress, the status counts and the small HTML snippets; and of a conversion's
lead outcome table: the leads not converted, with their job. No widgets, no pyplot.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from ..analysis.summary import summarize_dcs, summarize_orgs
from ..convert.outcomes import latest_attempts
from ..viz.style import ALERT_COLOR, STATUS_COLORS, group_colors
from ..viz.text import (
    ATTEMPTS,
    JOB_TOTALS,
    UNIT,
    UNITS,
    jobs_text,
    lead_counts_text,
    plural,
    status_word,
)

if TYPE_CHECKING:
    from ..poll.background import Watch

__all__ = [
    "ATTENTION_COLUMNS",
    "ATTENTION_HEADERS",
    "attention_jobs",
    "attention_html",
    "warnings_html",
    "leads_text",
    "status_chips",
    "group_rows",
    "bar_colors",
    "ended_text",
    "status_counts",
    "NOT_CONVERTED_COLUMNS",
    "not_converted_leads",
    "latest_attempts",
    "lead_counts_text",
    "JOB_TOTALS",
    "ATTEMPTS",
    "not_converted_html",
]

_FINAL = ("completed", "failed")
ATTENTION_COLUMNS = ["job_id", "org", "dc", "status", "progress", "failed_count", "reason"]
#: The header words of the attention table.
ATTENTION_HEADERS = {
    "job_id": "job id",
    "org": "org",
    "dc": "data center",
    "status": "status",
    "progress": "processed",
    "failed_count": f"failed {UNITS}",
    "reason": "why",
}
_NUMERIC = {"progress", "failed_count"}


def attention_jobs(jobs: pd.DataFrame, *, max_rows: int = 10, slowest: int = 3) -> pd.DataFrame:
    """The jobs that need a look, most urgent first.

    Parameters
    ----------
    jobs : pandas.DataFrame
        :func:`~zcrm_notebook.analysis.summary.summarize_jobs` output. Not modified.
    max_rows : int, default 10
        Rows kept.
    slowest : int, default 3
        Running jobs (``in_progress``, not already listed) with the lowest progress rate
        (share of the job processed per minute while watched; unknown rates last) shown
        as "slowest": at most this many and at most half of the running jobs, so that
        "slowest" always means slower than others. A queued job (``scheduled``) is
        waiting, not slow: never listed.

    Returns
    -------
    pandas.DataFrame
        One row per job, RangeIndex: ``job_id, org, dc`` (string), ``status`` (category),
        ``progress`` (float64, 0..1), ``failed_count`` (Int64, leads) and ``reason``
        (string), in this order of urgency: ``"job failed"``, ``"no status (<error
        code>)"``, ``"stalled"``, ``"slowest"``, ``"<n> leads failed (<p>% of
        processed)"`` (a job with failed leads; within a reason, highest failure rate
        first). ``attrs["more"]``:
        the jobs that need a look beyond ``max_rows``.
    """
    st = jobs["status"].astype(str)
    failed = jobs["failed_count"].fillna(0).astype("int64")
    unfinished = ~st.isin(_FINAL + ("error",))
    rules = [
        (st == "failed", lambda r: "job failed"),
        (st == "error", lambda r: f"no status ({r.last_error_code})"),
        (jobs["stalled"] & unfinished, lambda r: "stalled"),
        (None, lambda r: "slowest"),
        (failed > 0, lambda r: f"{plural(int(r.failed_count), UNIT)} failed ({_share(r)})"),
    ]
    picked: list[tuple[int, str]] = []
    seen: set = set()
    for mask, why in rules:
        if mask is None:  # the slowest running jobs not listed yet
            running = st == "in_progress"
            part = jobs[running & ~jobs.index.isin(seen)]
            rate = part["leads_per_min"] / part["total_count"].astype("Float64").astype(float)
            part = part.assign(_rate=rate).sort_values(["_rate", "progress", "job_id"])
            part = part.iloc[: min(slowest, int(running.sum()) // 2)]
        else:
            part = jobs[mask & ~jobs.index.isin(seen)]
            part = part.sort_values(["failure_rate", "job_id"], ascending=[False, True])
        picked += [(i, why(r)) for i, r in zip(part.index, part.itertuples())]
        seen |= set(part.index)
    more, picked = max(0, len(picked) - max_rows), picked[:max_rows]
    out = jobs.loc[[i for i, _ in picked], ATTENTION_COLUMNS[:-1]].reset_index(drop=True)
    out["reason"] = pd.array([why for _, why in picked], dtype="string")
    out.attrs["more"] = more  # jobs that need a look beyond max_rows
    return out


def _share(row) -> str:
    """``"33.3% of processed"``: the failure rate the failed-leads rows are ordered by."""
    return f"{float(row.failure_rate):.1%} of processed"


def _chip(status: str) -> str:
    """A square in the status's colour, then its words (escaped)."""
    colour = STATUS_COLORS.get(status, "#999")
    return f'<span style="color:{colour}">&#9632;</span> {html.escape(status_word(status))}'


def attention_html(table: pd.DataFrame, *, polled: bool = True) -> str:
    """HTML table of :func:`attention_jobs` (every value escaped): header words
    (:data:`ATTENTION_HEADERS`), padded cells, numbers right-aligned. An empty table says
    "No job needs attention." once something was polled (``polled``), else that nothing
    was polled yet (not an all-clear)."""
    if table.empty and not polled:
        return "<p><i>Nothing polled yet: jobs that need a look will be listed here.</i></p>"
    if table.empty:
        return "<p><i>No job needs attention.</i></p>"
    rows = []
    for r in table.itertuples(index=False):
        cells = [
            html.escape(str(r.job_id)),
            html.escape(str(r.org)),
            html.escape(str(r.dc)),
            _chip(str(r.status)),
            "" if pd.isna(r.progress) else f"{r.progress:.0%}",
            "" if pd.isna(r.failed_count) else f"{r.failed_count:,}",
            html.escape(str(r.reason)),
        ]
        tds = [f'<td style="{_cell_style(c)}">{v}</td>' for c, v in zip(ATTENTION_COLUMNS, cells)]
        rows.append("<tr>" + "".join(tds) + "</tr>")
    head = "".join(
        f'<th style="{_cell_style(c)};border-bottom:1px solid #bbb">{ATTENTION_HEADERS[c]}</th>'
        for c in ATTENTION_COLUMNS
    )
    more = int(table.attrs.get("more", 0))
    need = "needs" if more == 1 else "need"
    tail = f"<p>... and {plural(more, 'more job')} that {need} a look</p>" if more else ""
    return (
        '<table class="zcrm-attention-table" style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{tail}"
    )


def _lead_cell_style(column: str) -> str:
    """Cells of the not-converted table: one line each, but Zoho's reason may wrap."""
    style = _cell_style(column)
    return (
        style.replace("white-space:nowrap", "white-space:normal") if column == "reason" else style
    )


def _cell_style(column: str) -> str:
    align = "right" if column in _NUMERIC else "left"
    return f"padding:2px 12px 2px 0;text-align:{align};white-space:nowrap"


def warnings_html(caught: list, limit: int = 5) -> str:
    """The poll thread's warnings (:attr:`Watch.warnings`): how many, and the last ones."""
    if not caught:
        return ""
    items = "".join(f"<li>{html.escape(str(w.message))}</li>" for w in caught[-limit:])
    head = f"<b>{plural(len(caught), 'warning')} from the poll</b> (latest last):"
    return f"<p>{head}</p><ul>{items}</ul>"


def leads_text(processed: int, total: int, failed: int, units: str = UNITS) -> str:
    """``"412 / 500 leads processed (82%), 3 failed (0.7% of processed)"`` as HTML
    (``units``: what is counted, e.g. ``"lead attempts"`` for the job totals of a conversion
    with retries, then named in the failed count too: ``"56 failed lead attempts"``, not to
    be read as leads not converted). The failed share is of the processed leads: pending
    ones are not counted as successes.

    The percent is rounded down, so "100%" means every lead is processed (909 of 911 is
    "99%"). The failed phrase is one ``white-space:nowrap`` piece: a narrow output moves it
    to the next line whole."""
    if total <= 0:
        return f"waiting for {UNIT} counts"
    text = f"{processed:,} / {total:,} {units} processed ({100 * processed // total}%)"
    if failed:
        share = f"{failed / processed:.1%} of processed"
        what = "failed" if units == UNITS else f"failed {units}"
        style = f"color:{ALERT_COLOR};white-space:nowrap"  # one piece: wraps before, not in
        text += f", <b style='{style}'>{failed:,} {what} ({share})</b>"
    return text


def status_chips(counts: Mapping[str, int]) -> str:
    """Jobs by status as coloured chips (statuses with 0 jobs left out)."""
    chips = [
        f'<span style="margin-right:1em">{_chip(s)}: <b>{n:,}</b></span>'
        for s, n in counts.items()
        if n
    ]
    return "jobs: " + ("".join(chips) or "none yet")


_NOWRAP = "<span style='white-space:nowrap'>{}</span>"


def group_rows(
    view: pd.DataFrame, by: str, keys: list[str], units: str = UNITS
) -> dict[str, tuple[float, str]]:
    """Per group: (fraction of its leads processed, HTML text) for the progress bars.

    Parameters
    ----------
    view : pandas.DataFrame
        Snapshot frame.
    by : {"dc", "org"}
    keys : list of str
        Groups wanted; one without snapshots gets ``(0.0, "no answer yet")``.
    units : str, default "leads"
        What the counts are called (see :func:`leads_text`).
    """
    table = (summarize_dcs if by == "dc" else summarize_orgs)(view).set_index(by)
    out = {}
    for key in keys:
        if key not in table.index:
            out[key] = (0.0, "no answer yet")
            continue
        r = table.loc[key]
        total, failed = int(r.leads_total), int(r.leads_failed)
        done = int(r.leads_converted) + failed
        if r.n_error == r.n_jobs:  # no job of the group ever got a status: nothing to wait for
            text = f"no status for its {plural(int(r.n_jobs), 'job id')}"
        else:
            jobs = jobs_text(r.n_jobs, r.n_error)  # one piece: "9 jobs (+1 with no status)"
            text = f"{leads_text(done, total, failed, units)}; {_NOWRAP.format(jobs)}"
        out[key] = (done / total if total else 0.0, text)
    return out


def bar_colors(by: str, keys: list[str], dc_of: Mapping[str, str] | None = None) -> dict[str, str]:
    """The colours :mod:`zcrm_notebook.viz` gives the groups ``keys`` (sorted order);
    ``dc_of`` maps org -> data center (:func:`~zcrm_notebook.viz.style.org_dcs`), so an
    org with its own data center gets that data center's colour."""
    keys = sorted(keys)
    return dict(zip(keys, group_colors(by, keys, dict(dc_of or {}))))


def ended_text(handle: Watch) -> str:
    """Status-line text of a poll that has ended."""
    reason = handle.stopped_reason
    if reason == "finished":
        return "finished: every job is final"
    text = f"ended: {reason}"
    if reason in ("stopped", "deadline", "budget", "interrupted"):
        text += " (stopped watching; unfinished jobs are not failed)"
    if handle.error is not None:
        text += f": {handle.error}"
    return text


def status_counts(jobs: pd.DataFrame, expected: pd.DataFrame) -> dict[str, int]:
    """Jobs by latest status, plus ``"not polled"``: rows of ``expected`` (org, job_id)
    without any snapshot yet."""
    counts = jobs["status"].astype(str).value_counts()
    out = {s: int(counts.get(s, 0)) for s in STATUS_COLORS}
    seen = set(zip(jobs["org"], jobs["job_id"]))
    out["not polled"] = sum((o, j) not in seen for o, j in zip(expected["org"], expected["job_id"]))
    return out


#: Columns of the not-converted leads view.
NOT_CONVERTED_COLUMNS = [
    "org",
    "dc",
    "lead_id",
    "job_id",
    "attempt",
    "outcome",
    "error_code",
    "reason",
    "reason_attempt",
]
_CONVERTED = ("converted", "already_converted")  # Zoho has the lead converted
#: The columns the HTML table shows (``reason_attempt`` marks the code cell instead).
_SHOWN = NOT_CONVERTED_COLUMNS[:-1]


def not_converted_leads(leads: pd.DataFrame, *, max_rows: int = 10) -> tuple[pd.DataFrame, int]:
    """The leads of a conversion that are not converted, the most telling first.

    Parameters
    ----------
    leads : pandas.DataFrame
        A lead outcome table (:mod:`zcrm_notebook.convert.outcomes`). Not modified.
    max_rows : int, default 10
        Rows kept.

    Returns
    -------
    table : pandas.DataFrame
        At most ``max_rows`` rows, RangeIndex, :data:`NOT_CONVERTED_COLUMNS`: leads whose
        outcome is not ``converted`` (nor ``already_converted``: converted earlier), by
        outcome (not converted, pending, not scheduled, unknown, deleted), then those with
        a reason first, then org and lead id.
        ``reason_attempt`` (Int64): the attempt that learnt ``error_code`` and ``reason``
        (missing in a table written before that column existed).
    rest : int
        Leads not converted beyond ``max_rows``.
    """
    picked = leads[~leads["outcome"].astype(str).isin(_CONVERTED)]
    if "reason_attempt" not in picked.columns:
        picked = picked.assign(reason_attempt=pd.array([pd.NA] * len(picked), dtype="Int64"))
    order = picked.assign(_why=picked["reason"].isna()).sort_values(
        ["outcome", "_why", "org", "lead_id"]
    )
    table = order[NOT_CONVERTED_COLUMNS].iloc[:max_rows].reset_index(drop=True)
    return table, max(0, len(order) - max_rows)


def not_converted_html(table: pd.DataFrame, rest: int) -> str:
    """HTML table of :func:`not_converted_leads` (every value escaped), and the count of
    the rest. A code and reason learnt by an earlier attempt of the lead (its
    ``reason_attempt``) say so first in the code cell: ``attempt 1: DUPLICATE_DATA``."""
    if table.empty:
        return "<p><i>Every lead is converted.</i></p>"
    rows = []
    for r in table.itertuples(index=False):
        cells = ["" if pd.isna(v) else str(v).replace("_", " ") if k == "outcome" else str(v)
                 for k, v in zip(_SHOWN, (getattr(r, k) for k in _SHOWN))]  # fmt: skip
        code = _SHOWN.index("error_code")
        cells[code] = _earlier(getattr(r, "reason_attempt", None), r.attempt) + cells[code]
        tds = (f"<td style='{_lead_cell_style(k)}'>{html.escape(c)}</td>"
               for k, c in zip(_SHOWN, cells))  # fmt: skip
        rows.append("<tr>" + "".join(tds) + "</tr>")
    head = "".join(f"<th style='{_lead_cell_style(c)}'>{c.replace('_', ' ')}</th>" for c in _SHOWN)
    more = f"<p>... and {plural(rest, 'more lead')} not converted</p>" if rest else ""
    if table["reason"].isna().any():
        more += (
            "<p>No code or reason: Zoho was not asked why about that lead (the diagnosis is "
            "opt-in and stops at its credit budget, 5 credits a lead: "
            "<code>diagnose_not_converted</code>, or <code>--diagnose</code>).</p>"
        )
    return (
        '<table class="zcrm-leads-table" style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
    )


def _earlier(reason_attempt: object, attempt: object) -> str:
    """``"attempt 1: "`` when the row's code and reason were learnt by another (earlier)
    attempt of the lead than the row's own, else ``""``."""
    if reason_attempt is None or attempt is None or pd.isna(reason_attempt) or pd.isna(attempt):
        return ""
    learnt, own = int(str(reason_attempt)), int(str(attempt))
    return "" if learnt == own else f"attempt {learnt}: "
