"""``zcrm-notebook convert``: convert the leads of a CSV, and say what became of each one.

Plans the mass conversions (jobs of at most 50 leads per org), keeps them in the store's
ledger before sending, schedules, watches the jobs, reads the leads back and writes
``DIR/leads.csv`` (one row per lead: its outcome, the contact / account / deal it became),
``DIR/snapshots.csv`` and the report (``DIR/report/``). Run the same command again (with
``--store``) and it resumes: nothing is scheduled twice; without ``--store`` a rerun sends
every lead again, and the leads the first run converted come back ``already_converted``.
Exit codes: 0 every lead accounted for (or the deadline stopped watching), 1 an error,
chunks left open, or no job answered (every lead ``unknown`` or ``not_scheduled``: no lead
got into a job), 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError
from .common import (
    COUNT,
    EXIT_ERROR,
    POSITIVE,
    add_policy_args,
    check_in_file,
    check_out_dir,
    check_out_file,
    logging_above_bar,
    policy_from_args,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``convert`` command to ``subparsers``; returns its parser."""
    p = subparsers.add_parser(
        "convert",
        parents=parents,
        help="convert the leads of a CSV (mass convert) and report each lead's outcome",
        description="Convert leads with Zoho's mass convert: plan, schedule, watch, read "
        "back, report. Running it again with the same leads and store resumes. Exit 1 on an "
        "error, chunks left open, or when no job answered (every lead unknown or not "
        "scheduled).",
    )
    p.add_argument(
        "leads",
        help="CSV with a lead_id column and an org (or dc) column; optional per-lead "
        "columns assign_to, deal_name, deal_stage, closing_date, pipeline",
    )
    p.add_argument(
        "--out",
        required=True,
        help="folder for leads.csv, snapshots.csv, report/ (created if missing; its parent "
        "folder must exist)",
    )
    p.add_argument("--config", help="TOML of orgs (default: token store, ZOHO_* env)")
    p.add_argument("--org", help="org of every lead when the CSV has no org column")
    p.add_argument(
        "--store",
        help="SQLite file of the ledger and the snapshots: a rerun resumes from it "
        "(strongly advised: without it nothing can be resumed)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and send nothing")
    deal = p.add_argument_group("deal created with each conversion (all three, or none)")
    deal.add_argument("--deal-name", metavar="TEXT", help="Deal_Name of the deals")
    deal.add_argument("--deal-stage", metavar="TEXT", help="Stage of the deals")
    deal.add_argument("--closing-date", metavar="YYYY-MM-DD", help="Closing_Date of the deals")
    deal.add_argument("--pipeline", metavar="TEXT", help="Pipeline (orgs with pipelines)")
    p.add_argument("--assign-to", metavar="ID", help="user id the converted records go to")
    p.add_argument(
        "--retry-not-converted",
        type=COUNT,
        nargs="?",
        const=1,
        default=0,
        metavar="ROUNDS",
        help="after the run, schedule the leads not converted again (attempt + 1), ROUNDS "
        "rounds in all (1). The same command run again resumes those rounds and sends "
        "nothing twice; to retry once more, give a higher ROUNDS (e.g. 2)",
    )
    p.add_argument(
        "--diagnose",
        type=COUNT,
        metavar="CREDITS",
        help="spend up to CREDITS API credits (5 a lead) asking the single-lead convert why "
        "leads were not converted; it CONVERTS a lead when it can",
    )
    p.add_argument(
        "--max-credits",
        type=COUNT,
        metavar="N",
        help="refuse (before any POST) a plan whose estimated API credits exceed N; retry "
        "rounds are made only while the estimates stay within N",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="schedule leads that are in an open job of the store anyway",
    )
    p.add_argument(
        "--settle",
        type=POSITIVE,
        metavar="S",
        help="seconds to wait after a POST whose answer was lost before its unconverted "
        "leads are scheduled again (1800)",
    )
    add_policy_args(p)
    p.set_defaults(run=run)
    return p


def _options(args: argparse.Namespace):
    from ..convert.options import ConvertOptions

    keys = {
        "Deal_Name": args.deal_name,
        "Stage": args.deal_stage,
        "Closing_Date": args.closing_date,
        "Pipeline": args.pipeline,
    }
    deal = {k: v for k, v in keys.items() if v}
    return ConvertOptions(deal=deal or None, assign_to=args.assign_to)


def run(args: argparse.Namespace) -> int:
    """Convert the leads of a CSV; write the outcome table, the snapshots and the report."""
    from ..convert.plan import ConversionPlan

    check_in_file(args.leads, "leads")
    out = check_out_dir(args.out, create=False)  # made when there is something to write
    if args.store:
        check_out_file(args.store, "--store", not_same_as=args.leads, example="run.sqlite")
    if Path(args.leads).resolve().parent == out.resolve() and Path(args.leads).name in _FILES:
        raise ConfigError(f"--out {args.out!r} would overwrite the leads file; choose another")
    if not args.store and not args.dry_run:
        print(
            "note: no --store: nothing is journaled, so running this again sends every lead "
            "again (give --store run.sqlite to make a rerun resume)",
            file=sys.stderr,
        )
    with logging_above_bar(not args.no_progress and not args.dry_run):
        result = _convert(args)
    if isinstance(result, ConversionPlan):  # --dry-run
        print(result.describe())
        print("\ndry run: nothing was sent")
        return 0
    return _finish(result, out, args.store)


def _convert(args: argparse.Namespace):
    """:func:`~zcrm_notebook.convert.loop.convert_leads` with the options of ``args``."""
    from ..convert.loop import SETTLE_S, convert_leads

    return convert_leads(
        args.leads,
        config=args.config,
        org=args.org,
        options=_options(args),
        store=args.store,
        dry_run=args.dry_run,
        force=args.force,
        max_credits=args.max_credits,
        retry_not_converted=args.retry_not_converted,
        diagnose_credits=args.diagnose or 0,
        settle_s=args.settle or SETTLE_S,
        policy=policy_from_args(args),
        deadline_s=args.deadline,
        progress=not args.no_progress,
        source=str(args.leads),
    )


_FILES = ("leads.csv", "snapshots.csv")
_NO_JOB = {"unknown", "not_scheduled"}  # outcomes of leads that got into no job


def _finish(result, out: Path, store: str | None) -> int:
    """Write the files (first), print the summary; the exit code of the run."""
    from ..convert.outcomes import write_lead_outcomes_csv
    from ..snapshots.csvfile import write_snapshots_csv
    from ..viz.report import export_report

    out = check_out_dir(str(out))
    write_lead_outcomes_csv(result.leads, out / "leads.csv")
    write_snapshots_csv(result.snapshots, out / "snapshots.csv")
    export_report(result.snapshots, out / "report", leads=result.leads)
    _print_table(result)
    print(f"\n{result.summary()}")
    print(f"lead outcomes -> {out / 'leads.csv'}; snapshots, report -> {out}")
    for note in result.notes:
        if note not in result.warned:  # a warning was printed when it happened
            print(f"note: {note}", file=sys.stderr)
    earlier = int((result.leads["outcome"].astype(str) == "already_converted").sum())
    if earlier and not store:
        print(
            f"note: {earlier:,} of these leads were converted already, before this run sent "
            "them (outcome already_converted): this run did not convert them. Without --store "
            "a rerun sends every lead again; give --store run.sqlite to make a rerun resume",
            file=sys.stderr,
        )
    reason = result.stopped_reason
    if result.signal is not None:
        how = "run the same command again to resume" if store else "add --store to resume"
        print(f"interrupted: {how}", file=sys.stderr)
        return 128 + int(result.signal)
    if reason in ("end_run", "incomplete"):
        print(f"error: the run ended {reason}; see the notes above", file=sys.stderr)
        return EXIT_ERROR
    if set(result.leads["outcome"].astype(str)) <= _NO_JOB:
        print(
            "error: no job answered: every lead is unknown or not scheduled (leads.csv's "
            "error_code and reason say why); run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if reason == "deadline":
        print("stopped at the deadline: run the same command again to resume", file=sys.stderr)
    return 0


def _print_table(result) -> None:
    """Leads per org and outcome (the outcomes with leads only)."""
    table = result.leads.groupby(["org", "outcome"], observed=True).size().unstack(fill_value=0)
    table.columns = [str(c).replace("_", " ") for c in table.columns]
    print(table.to_string())
