"""``zcrm-notebook poll``: poll the job ids of a CSV against real Zoho (or the simulator's
config), write the snapshot CSV, print the tables."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..errors import ConfigError
from .common import (
    add_policy_args,
    check_in_file,
    check_out_file,
    finish_run,
    logging_above_bar,
    policy_from_args,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``poll`` command to ``subparsers``; returns its parser."""
    p = subparsers.add_parser("poll", parents=parents, help="poll the job ids of a CSV")
    p.add_argument("jobs", help="CSV with a job_id column and an org (or dc) column")
    p.add_argument("--out", required=True, help="snapshot CSV to write (its folder must exist)")
    p.add_argument("--config", help="TOML of orgs (default: token store, ZOHO_* env)")
    p.add_argument("--org", help="org of every job when the CSV has no org column")
    p.add_argument("--store", help="SQLite journal: commit every snapshot, resume later")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out file (refused without it, unless the run resumes "
        "an existing --store: the CSV is then written again from all of the store)",
    )
    add_policy_args(p)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Poll the jobs of a CSV against real Zoho (or the simulator's config)."""
    from ..poll import Poller

    check_in_file(args.jobs, "jobs")
    out = check_out_file(args.out, not_same_as=args.jobs)
    resuming = bool(args.store) and os.path.exists(args.store)  # the CSV is rewritten whole
    if out.exists() and not (args.overwrite or resuming):  # an earlier run's: never lost silently
        raise ConfigError(
            f"--out {args.out!r} exists (this run's snapshots would replace it); "
            "choose another name, or pass --overwrite"
        )
    if args.store:
        check_out_file(args.store, "--store", not_same_as=args.jobs, example="run.sqlite")
    poller = Poller(
        args.jobs,
        config=args.config,
        org=args.org,
        policy=policy_from_args(args),
        store=args.store,
        progress=not args.no_progress,
    )
    poller.log_interrupt = False  # finish_run prints the one line saying so
    with logging_above_bar(poller.progress):
        df = poller.run()
    code = finish_run(poller, df, out, store=args.store)
    if poller.stopped_reason == "interrupted":
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """Exit at once after Ctrl-C/SIGTERM: every snapshot is committed and the CSV written;
    do not wait (up to the call timeout) for worker threads still inside an HTTP call."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)
