"""Figure-level overview and the report bundle (CSVs, PNGs, README) of a snapshot frame.

:func:`make_report` builds a 2x2 overview :class:`~matplotlib.figure.Figure` directly (not
through pyplot, so nothing accumulates in pyplot's figure manager and no backend is
needed); :func:`export_report` writes the snapshots, the three summaries and the figures to
a folder. CSVs meant for spreadsheets have formula-looking text neutralised (OWASP "CSV
Injection"): see :func:`neutralize_formulas`, which lives in :mod:`zcrm_notebook.snapshots.csvfile`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.summary import (
    GROUP_COLUMNS,
    JOB_COLUMNS,
    summarize_dcs,
    summarize_jobs,
    summarize_orgs,
)
from ..convert.outcomes import (
    LEAD_OUTCOME_DOCS,
    LEAD_OUTCOME_DTYPES,
    coerce_outcomes,
    latest_attempts,
    write_lead_outcomes_csv,
)
from ..errors import ConfigError
from ..snapshots.csvfile import neutralize_formulas
from ..snapshots.frame import SNAPSHOT_DTYPES, coerce_snapshots
from ..snapshots.schema import COLUMN_DOCS
from .failure_rate import plot_failure_rate
from .lead_outcomes import plot_lead_outcomes
from .outcomes import plot_outcomes
from .progress import plot_progress
from .style import zone
from .tablefiles import FORMATS, check_formats, table_names, write_tables
from .text import JOB_TOTALS, UNIT, jobs_text, lead_counts_text, not_final_text, plural
from .timeline import plot_status_timeline

__all__ = ["make_report", "export_report", "check_export_dir", "neutralize_formulas", "FIGURES"]

log = logging.getLogger(__name__)

#: First line of a bundle's README.md: how :func:`export_report` knows a folder holds
#: only a previous report of ours (which it may replace).
BUNDLE_MARKER = "<!-- zcrm_notebook report bundle: export_report replaces this folder's files -->"
#: Entries of an export folder that are neither ours nor the user's files.
_IGNORED = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", ".ipynb_checkpoints"})

#: Figure file stem -> (plot function, keyword arguments, figure size in inches).
FIGURES: dict[str, tuple[Callable[..., Axes], dict[str, Any], tuple[float, float]]] = {
    "progress": (plot_progress, {}, (10, 6)),
    "failure_rate": (plot_failure_rate, {}, (10, 6)),
    "outcomes": (plot_outcomes, {}, (10, 7)),
    "status_timeline": (plot_status_timeline, {}, (11, 8)),
}
#: The figures that count leads per job: labelled as job totals beside lead outcomes.
_COUNTING = frozenset({"progress", "failure_rate", "outcomes"})
#: The figures drawn per group (``by``: data center or org).
_GROUPED = frozenset({"progress", "failure_rate"})
#: What ``by`` may be, and how the README names it.
GROUPINGS = {"dc": "data center", "org": "org"}


def _check_by(by: object) -> str:
    if not isinstance(by, str) or by not in GROUPINGS:
        raise ConfigError(f"by={by!r}: expected one of {', '.join(map(repr, GROUPINGS))}")
    return str(by)


def _draw(
    stem: str, df: pd.DataFrame, ax: Axes, tz: str | tzinfo, job_totals: bool, by: str = "dc"
) -> Axes:
    """Figure ``stem`` of :data:`FIGURES` on ``ax``, per ``by`` when it draws groups, its
    counts labelled as job totals when ``job_totals`` (and it counts leads)."""
    func, kwargs, _ = FIGURES[stem]
    extra: dict[str, object] = {"job_totals": True} if job_totals and stem in _COUNTING else {}
    if stem in _GROUPED:
        extra["by"] = by
    return func(df, ax=ax, tz=tz, **(kwargs | extra))


def _duration(seconds: float) -> str:
    """Short human duration: ``48 s``, ``12 min 5 s``, ``3 h 05 min``, ``2 d 3 h``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _polled_range(df: pd.DataFrame, info: tzinfo, name: str) -> str:
    """The "polled <first> to <last> (<zone>), <duration>" part of the headline: seconds
    shown for runs under an hour, the date written once when both ends are on the same
    local day, "polled once, <time>" for a single poll time."""
    first, last = (df["polled_at"].agg(f).tz_convert(info) for f in ("min", "max"))
    span = (last - first).total_seconds()
    clock = "%H:%M:%S" if span < 3600 else "%H:%M"
    start = first.strftime(f"%Y-%m-%d {clock}")
    if span == 0:
        return f"polled once, {start} ({name})"
    same_day = first.date() == last.date()
    end = last.strftime(clock if same_day else f"%Y-%m-%d {clock}")
    return f"polled {start} to {end} ({name}), {_duration(span)}"


def _headline(df: pd.DataFrame, tz: str | tzinfo, leads: pd.DataFrame | None = None) -> str:
    """Summary for the overview title: one line of job counts; with a conversion's
    ``leads``, a first line counting each lead once and the job counts as job totals; then,
    for a partial run, a line "Partial run: 2 jobs not final when the run ended"."""
    dcs = summarize_dcs(df)
    if dcs.empty:
        jobs = "Mass convert: no snapshots yet"
        return jobs if leads is None else f"Mass convert: {lead_counts_text(leads)}\n{jobs}"
    total, failed = int(dcs["leads_total"].sum()), int(dcs["leads_failed"].sum())
    info, name = zone(tz)
    processed = int(dcs["leads_converted"].sum()) + failed
    pct = f" ({100 * failed / processed:.1f}% of processed)" if processed else ""
    jobs = (
        f"{jobs_text(dcs['n_jobs'].sum(), dcs['n_error'].sum())} in "
        f"{plural(len(dcs), 'data center')}, "
        f"{plural(total, UNIT if leads is None else f'{UNIT} attempt')}, "
        f"{int(dcs['leads_converted'].sum()):,} converted, "
        f"{failed:,} failed{pct}, {int(dcs['leads_pending'].sum()):,} pending"
    )
    polled = _polled_range(df, info, name)
    partial = not_final_text(summarize_jobs(df))
    partial = f"\nPartial run: {partial}" if partial else ""
    if leads is None:
        return f"Mass convert: {jobs}; {polled}{partial}"
    return f"Mass convert: {lead_counts_text(leads)}; {polled}\n{JOB_TOTALS}: {jobs}{partial}"


def make_report(
    df: pd.DataFrame,
    *,
    tz: str | tzinfo = "UTC",
    leads: pd.DataFrame | None = None,
    by: str = "dc",
) -> Figure:
    """Overview figure: progress and failure rate per DC (or org), outcomes per job, status
    timeline.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame. Not modified.
    tz : str or tzinfo, default "UTC"
        Zone of the time axes and the title's time range (IANA name).
    leads : pandas.DataFrame, optional
        The lead outcome table of the conversion that made the jobs (one row per lead and
        attempt; see :mod:`zcrm_notebook.convert.outcomes`). The title then first counts
        each lead once (its latest attempt), and the counts of the jobs (a retried lead is
        in each of its jobs) are labelled as job totals, "lead attempts", in the title and
        the plots.
    by : {"dc", "org"}, default "dc"
        Group of the progress and failure-rate plots: data center or org.

    Returns
    -------
    matplotlib.figure.Figure
        A 2x2 grid (constrained layout, 16 x 11 in): ``plot_progress`` (top left),
        ``plot_failure_rate`` (top right), ``plot_outcomes`` (bottom left),
        ``plot_status_timeline`` (bottom right), with a summary as suptitle (one line,
        or two with ``leads``; and "Partial run: 2 jobs not final when the run ended"
        when some job is neither completed nor failed).
        Not registered with pyplot: display it in Jupyter as the cell's value or save it
        with ``fig.savefig``.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        For an unknown ``tz`` or ``by``, a frame lacking snapshot columns or ``leads`` that
        is no lead outcome table.
    """
    zone(tz)
    by = _check_by(by)
    once = None if leads is None else latest_attempts(coerce_outcomes(leads))
    fig = Figure(figsize=(16, 11), layout="constrained")
    axes = dict(
        zip(["progress", "failure_rate", "outcomes", "status_timeline"], fig.subplots(2, 2).flat)
    )
    # the plots with texts at the end of bars last: they fit them in the layout of the others
    for stem in ["progress", "status_timeline", "outcomes", "failure_rate"]:
        _draw(stem, df, axes[stem], tz, once is not None, by)
    headline = _headline(df, tz, once)
    # a long first line (a job id with no status, a multi-day run) would be cut at both
    # edges of the figure in the large size: 16 in hold about 190 characters of it
    long = max(map(len, headline.splitlines())) > _HEADLINE_LARGE_CHARS
    fig.suptitle(headline, fontsize="medium" if long else "large")
    return fig


def _column_lines(columns: dict[str, tuple[str, str]]) -> list[str]:
    return [f"| `{name}` | {dtype} | {meaning} |" for name, (dtype, meaning) in columns.items()]


def _formats_lines(formats: tuple) -> list[str]:
    """What the README says about the table files of each format written."""
    what = {
        "csv": "times ISO-8601 UTC (`Z`), an empty cell is a missing value or an empty text "
        "(`flags` of a job without flags)",
        "xlsx": "one sheet per table; times in UTC (Excel stores no time zone), an empty "
        "cell is a missing value or an empty text",
        "parquet": "the exact dtypes (`pandas.read_parquet` gives the tables back)",
    }
    lines = ["", "## Table files", ""]
    for fmt in formats:
        files = ", ".join(f"`{n}`" for n in table_names(TABLES, (fmt,)).values())
        lines.append(f"- {files}: {what[fmt]}.")
    return lines


def _job_totals_lines(summed: bool) -> list[str]:
    """What the lead counts of a table of a bundle with lead outcomes are (``summed``:
    over the jobs of a group)."""
    how = "Its lead counts are" if summed else "Summed over jobs, its lead counts are"
    return [
        "",
        f"{how} {JOB_TOTALS}: {UNIT} attempts, which can exceed",
        "the leads of `leads.csv` (each lead once, at its latest attempt).",
    ]


def _partial_lines(partial: str) -> list[str]:
    """What the README says first of a run whose snapshots end before every job is final
    (``partial``: :func:`~zcrm_notebook.viz.text.not_final_text`, or ``""``)."""
    if not partial:
        return []
    return [
        "",
        f"**Partial run: {partial}.** Their leads not processed are pending (not failed);",
        "their counts and status are those of their last answer.",
    ]


def _readme(
    paths: dict[str, Path],
    spreadsheet_safe: bool,
    tz_name: str,
    formats: tuple,
    by: str = "dc",
    partial: str = "",
) -> str:
    """Markdown description of every file of the bundle (its first line is the marker
    :func:`export_report` recognises a previous bundle by); ``partial``: the jobs not
    final when the run ended (:func:`~zcrm_notebook.viz.text.not_final_text`)."""
    group = GROUPINGS[by]
    header = ["| column | dtype | meaning (units) |", "|---|---|---|"]
    snap = {c: (str(SNAPSHOT_DTYPES[c]), m) for c, m in COLUMN_DOCS.items()}
    lines = [
        BUNDLE_MARKER,
        "",
        "# Mass convert report",
        "",
        "Written by `zcrm_notebook.export_report`. The tables below come as "
        + ", ".join(formats)
        + f"; figures label their time axes in {tz_name}.",
        *_partial_lines(partial),
    ]
    if spreadsheet_safe:
        lines += [
            "Text cells of CSVs and workbooks that began with `=`, `+`, `-`, `@`, tab or CR",
            "start with `'` so a spreadsheet shows them as text (numbers are unchanged).",
        ]
    lines += _formats_lines(formats)
    per_job = _job_totals_lines(False) if "leads" in paths else []
    summed = _job_totals_lines(True) if "leads" in paths else []
    lines += [
        "",
        "## snapshots",
        "",
        "One row per poll of one job.",
        *per_job,
        "",
        *header,
        *_column_lines(snap),
        "",
        "## jobs",
        "",
        "One row per (org, dc, job_id) (`zcrm_notebook.summarize_jobs`).",
        *per_job,
        "",
        *header,
        *_column_lines(JOB_COLUMNS),
        "",
        "## dcs and orgs",
        "",
        "One row per data center (`dc`) / org label (`org`), then:",
        *summed,
        "",
        *header,
        *_column_lines(GROUP_COLUMNS),
        "",
    ]
    if "leads" in paths:
        outcomes = {c: (str(LEAD_OUTCOME_DTYPES[c]), m) for c, m in LEAD_OUTCOME_DOCS.items()}
        lines += [
            "## leads.csv",
            "",
            "One row per lead of the conversion: what became of it "
            "(`zcrm_notebook.read_lead_outcomes` reads it back; always CSV).",
            "Two names look alike: the outcome `not_converted` here is final, while a job's",
            "`not_converted_count` (Zoho's Not_Converted_Count) counts its leads not converted",
            "*yet* (pending; 0 once the job ends, its leads that were not converted are then",
            "in `failed_count`). A lead `already_converted` was converted before its job was",
            "made (on Zoho's clock): not by this conversion, and not in its job's",
            "`converted_count`.",
            "",
            *header,
            *_column_lines(outcomes),
            "",
        ]
    lines += ["## Figures (PNG)", ""]
    figures = [
        ("overview", "the four plots below on one page, with a one-line summary"),
        ("progress", f"percent of leads processed (converted + failed) over time per {group}"),
        ("failure_rate", f"pooled lead failure rate per {group} with 95 % Wilson interval"),
        ("outcomes", "converted / failed / pending leads of the largest jobs, rest folded"),
        ("status_timeline", "when the longest-running jobs were scheduled / in progress"),
        ("lead_outcomes", f"what became of the conversion's leads, per {group}"),
    ]
    lines += [f"- `{paths[k].name}`: {text}" for k, text in figures if k in paths]
    return "\n".join(lines) + "\n"


def _lead_files(
    leads: pd.DataFrame,
    paths: dict[str, Path],
    spreadsheet_safe: bool,
    tz: str | tzinfo,
    by: str = "dc",
) -> None:
    """``leads.csv`` and ``lead_outcomes.png`` (per ``by``) of a bundle."""
    write_lead_outcomes_csv(leads, paths["leads"], spreadsheet_safe=spreadsheet_safe)
    fig = Figure(figsize=(10, 5), layout="constrained")
    plot_lead_outcomes(latest_attempts(leads), by=by, ax=fig.add_subplot(), tz=tz)
    fig.savefig(paths["lead_outcomes"], dpi=100)


TABLES = ("snapshots", "jobs", "dcs", "orgs")
#: Longest headline line of the overview drawn in the "large" font (else "medium").
_HEADLINE_LARGE_CHARS = 170


def _bundle_names(formats: tuple = FORMATS, leads: bool = True) -> dict[str, str]:
    """Key -> file name of every file of a report bundle with tables in ``formats`` (and
    the lead outcome files when ``leads``)."""
    names = table_names(TABLES, formats)
    names |= {key: f"{key}.png" for key in ("overview", *FIGURES)}
    if leads:
        names |= {"leads": "leads.csv", "lead_outcomes": "lead_outcomes.png"}
    return names | {"readme": "README.md"}


def _remove_stale(out: Path, keep: dict[str, str]) -> None:
    """Remove the files of a previous bundle in ``out`` that this export does not write
    (a previous Excel workbook when exporting CSV only, lead files when no leads)."""
    if not _is_our_bundle(out):
        return
    for name in set(_bundle_names().values()) - set(keep.values()):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()


def _is_our_bundle(folder: Path) -> bool:
    """True if ``folder/README.md`` starts with :data:`BUNDLE_MARKER`."""
    try:
        with open(folder / "README.md", encoding="utf-8", errors="replace") as fh:
            return fh.readline().strip() == BUNDLE_MARKER
    except OSError:
        return False


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_export_dir(out_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """The folder :func:`export_report` may write into (created if missing).

    A folder is safe when it is new, empty, or holds only a previous report bundle (its
    ``README.md`` starts with :data:`BUNDLE_MARKER`) and no other file: re-exporting then
    replaces that bundle. Other files are refused unless ``overwrite``; files named like
    the bundle's are refused in any folder that is not a previous bundle.

    Parameters
    ----------
    out_dir : str or PathLike
        The folder; ``~`` is expanded.
    overwrite : bool, default False
        Write into a folder holding other files anyway; those files are left alone. A
        file named like one of the bundle's (``README.md``, ``jobs.csv``, ...) is replaced
        only when the folder holds a previous bundle, never otherwise.

    Returns
    -------
    pathlib.Path
        The folder, which exists.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        For an empty name, a path that is an existing file, a folder that cannot be
        created, a folder that is not a previous bundle but holds files named like the
        bundle's (even with ``overwrite``), or (unless ``overwrite``) a folder holding
        other files: the message names the folder and those files.
    """
    if not str(out_dir).strip():
        raise ConfigError("no export folder given: type a folder name")
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"export folder {str(out)!r} is a file; give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"export folder {str(out)!r} cannot be created: {exc.strerror or exc}"
        ) from None
    try:
        present = sorted(p.name for p in out.iterdir() if p.name not in _IGNORED)
    except OSError as exc:
        raise ConfigError(f"export folder {str(out)!r} cannot be read: {exc.strerror}") from None
    ours = set(_bundle_names().values())
    if _is_our_bundle(out):
        present = [name for name in present if name not in ours]
    clash = [name for name in present if name in ours]
    other = [name for name in present if name not in ours]
    if clash:  # never replaced, overwrite or not: the bundle did not write them
        raise ConfigError(
            f"export folder {str(out)!r} holds {_listing(clash)}, not written by "
            "export_report, which exporting would replace; choose a new or empty folder"
        )
    if other and not overwrite:
        raise ConfigError(
            f"export folder {str(out)!r} is not empty and not a previous report: it holds "
            f"{_listing(other)}; choose a new or empty folder, or pass overwrite=True"
        )
    return out


def export_report(
    df: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    tz: str | tzinfo = "UTC",
    spreadsheet_safe: bool = True,
    overwrite: bool = False,
    formats: str | tuple[str, ...] = ("csv",),
    leads: pd.DataFrame | None = None,
    by: str = "dc",
) -> dict[str, Path]:
    """Write the report bundle: snapshot and summary tables, PNG figures, a README (and the
    lead outcomes of a conversion, when given).

    Never replaces a file it did not write: the folder must be new, empty, or hold only a
    previous report bundle (recognised by the first line of its ``README.md``), which is
    then replaced. ``overwrite`` allows other files beside the bundle, never in its place.

    Parameters
    ----------
    df : pandas.DataFrame
        Snapshot frame. Not modified. An empty frame gives a bundle with empty tables.
    out_dir : str or PathLike
        Folder to write into (created if needed, ``~`` expanded); see
        :func:`check_export_dir`.
    tz : str or tzinfo, default "UTC"
        Zone of the figures' time axes (CSV times are always UTC).
    spreadsheet_safe : bool, default True
        Prefix text cells starting with ``=``, ``+``, ``-``, ``@``, tab or CR with ``'``
        in every CSV and workbook (formula injection); numeric columns are never changed.
        ``zcrm_notebook.read_snapshots`` undoes it for ``snapshots.csv``.
    overwrite : bool, default False
        Write into a folder holding other files too; they are left alone. A folder that
        is not a previous bundle but holds a file of a bundle's name (``jobs.csv``,
        ``README.md``...) is refused even then.
    formats : str or tuple of str, default ("csv",)
        Table files to write, any of ``"csv"`` (one file per table), ``"xlsx"`` (one
        workbook ``report.xlsx``, one sheet per table; needs the ``excel`` extra,
        openpyxl) and ``"parquet"`` (one file per table, exact dtypes).
    leads : pandas.DataFrame, optional
        The lead outcome table of a conversion (``ConversionResult.leads``): written as
        ``leads.csv`` (spreadsheet-safe as the others; ``zcrm_notebook.read_lead_outcomes``
        reads it back) with its figure ``lead_outcomes.png``
        (:func:`~zcrm_notebook.viz.lead_outcomes.plot_lead_outcomes` of each lead's latest
        attempt). The overview's title then counts each lead once, and the job-level
        counts (a retried lead is in each of its jobs) are labelled as job totals, "lead
        attempts", in the overview, the figures and the README's table sections.
    by : {"dc", "org"}, default "dc"
        Group of the progress, failure-rate and lead-outcome figures (and of the overview's
        two top plots): data center or org, as a dashboard's "group by" (its Export passes
        it). The tables are the same either way: ``dcs`` and ``orgs`` are both written.

    Returns
    -------
    dict of str to pathlib.Path
        Tables: ``snapshots``, ``jobs``, ``dcs``, ``orgs`` (``.csv``: the snapshot frame
        and :func:`~zcrm_notebook.analysis.summary.summarize_jobs`, ``summarize_dcs``,
        ``summarize_orgs``), ``workbook`` (``report.xlsx``), ``snapshots_parquet``,
        ``jobs_parquet``... (``.parquet``), for the formats written; figures:
        ``overview``, ``progress``, ``failure_rate``, ``outcomes``, ``status_timeline``
        (``.png``, 100 dpi); with ``leads``: ``leads`` (``.csv``) and ``lead_outcomes``
        (``.png``); ``readme`` (``README.md``: columns, dtypes and units).

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        For an unknown ``tz``, ``by`` or format, ``xlsx`` without openpyxl or with a table longer
        than a sheet, a frame lacking snapshot columns, an empty folder name, a folder
        that is a file or cannot be created or written (one line, no errno), or a folder
        holding other files (names the folder and the files; see
        :func:`check_export_dir`).
    """
    _, tz_name = zone(tz)
    by = _check_by(by)
    tables = {  # a bad frame fails before anything is written
        "snapshots": coerce_snapshots(df),
        "jobs": summarize_jobs(df),
        "dcs": summarize_dcs(df),
        "orgs": summarize_orgs(df),
    }
    outcomes = None if leads is None else coerce_outcomes(leads)
    formats = check_formats(formats, tables)
    out = check_export_dir(out_dir, overwrite=overwrite)
    names = _bundle_names(formats, leads=outcomes is not None)
    paths = {key: out / name for key, name in names.items()}
    try:
        _remove_stale(out, names)
        # the README (with the marker) first: an interrupted export is still ours
        partial = not_final_text(tables["jobs"])
        readme = _readme(paths, spreadsheet_safe, tz_name, formats, by, partial)
        paths["readme"].write_text(readme, encoding="utf-8")
        if outcomes is not None:
            _lead_files(outcomes, paths, spreadsheet_safe, tz, by)
        write_tables(tables, out, formats, spreadsheet_safe=spreadsheet_safe)
        make_report(df, tz=tz, leads=outcomes, by=by).savefig(paths["overview"], dpi=100)
        for stem, (_, _, size) in FIGURES.items():
            fig = Figure(figsize=size, layout="constrained")
            _draw(stem, df, fig.add_subplot(), tz, outcomes is not None, by)
            fig.savefig(paths[stem], dpi=100)
    except OSError as exc:
        where = exc.filename or out
        raise ConfigError(
            f"cannot write the report to {str(where)!r}: {exc.strerror or exc}"
        ) from None
    log.info("wrote report bundle of %d files to %s", len(paths), out)
    return paths
