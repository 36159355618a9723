"""What the commands share: exit codes, option types, policy options, output paths, and
how a run's outcome is printed.

Outputs are checked before any call (a wrong ``--out`` never costs a run); after a run the
snapshot CSV is written first, then the tables are printed. The exit code says how the run
went: 0 all answered, 1 an org failed or no job answered, 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..redact import shown
from ..viz.text import jobs_text, plural

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "POSITIVE",
    "COUNT",
    "PORT",
    "SPEED",
    "verbosity",
    "add_policy_args",
    "policy_from_args",
    "check_out_file",
    "check_out_dir",
    "check_out_folder",
    "finish_run",
    "logging_above_bar",
]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 128 + signal.SIGINT


def _number(
    kind: type, *, low: float, high: float = math.inf, name: str = "a number"
) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {name}") from None
        if not (low <= value <= high):  # NaN fails too
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; expected {name}")
        return value

    return parse


POSITIVE = _number(float, low=1e-9, name="a positive number of seconds")
COUNT = _number(int, low=1, name="a whole number >= 1")
PORT = _number(int, low=0, high=65535, name="a port 0-65535 (0: any free port)")
SPEED = _number(float, low=1e-3, high=1e6, name="a speed factor > 0 (e.g. 30)")


def verbosity() -> argparse.ArgumentParser:
    """A parent parser with ``-v`` / ``--verbose``, for options after the command.

    They count in ``verbose_after`` (the sub-command's own namespace would otherwise
    replace the count given before the command): the level is the sum of both.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        dest="verbose_after",
        default=0,
        help="more logging (-v info, -vv debug; secrets are masked)",
    )
    return common


def add_policy_args(p: argparse.ArgumentParser) -> None:
    """The options of :class:`~zcrm_notebook.poll.policy.PollPolicy` a command offers."""
    p.add_argument("--min-interval", type=POSITIVE, metavar="S", help="shortest poll gap (5 s)")
    p.add_argument(
        "--max-delay",
        "--max-interval",
        dest="max_delay",
        type=POSITIVE,
        metavar="S",
        help="how late a finish that cannot be predicted is seen at most (13 s)",
    )
    p.add_argument("--max-in-flight", type=COUNT, metavar="N", help="calls in flight per org (5)")
    p.add_argument("--deadline", type=POSITIVE, metavar="S", help="stop watching after S seconds")
    p.add_argument("--budget", type=COUNT, metavar="N", help="max status calls per org")
    p.add_argument("--timeout", type=POSITIVE, metavar="S", help="timeout of each call (10 s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def logging_above_bar(progress: bool) -> contextlib.AbstractContextManager:
    """Around a run that shows a progress bar: console log lines are printed above the bar
    (tqdm's ``logging_redirect_tqdm``), not on the bar's line; else nothing is changed."""
    if not progress:
        return contextlib.nullcontext()
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm()


def policy_from_args(args: argparse.Namespace, **defaults: Any):
    """The poll policy of the options given (others: ``defaults``, then the policy's)."""
    from ..poll.policy import PollPolicy

    given = {
        "min_interval_s": args.min_interval,
        "max_delay_s": args.max_delay,
        "max_in_flight": args.max_in_flight,
        "deadline_s": args.deadline,
        "budget": args.budget,
        "timeout_s": args.timeout,
    }
    return PollPolicy(**{**defaults, **{k: v for k, v in given.items() if v is not None}})


def _missing_folder(option: str, value: str, folder: Path) -> ConfigError:
    return ConfigError(
        f"{option} {value!r}: the folder {str(folder)!r} does not exist; create it first "
        "(a typo would otherwise make a stray folder tree)"
    )


def check_out_folder(value: str, option: str) -> Path:
    """``value``, whose folder must exist (a file the command may write later).

    Raises
    ------
    ConfigError
        The folder of ``value`` does not exist.
    """
    path = Path(value)
    if not path.absolute().parent.is_dir():
        raise _missing_folder(option, value, path.parent)
    return path


def check_in_file(value: str, what: str) -> None:
    """Refuse a missing input CSV first: without it nothing else (a config, a store) matters,
    and a message about those would hide it."""
    path = Path(value)
    if not path.exists():
        raise ConfigError(f"{what} file {shown(value)} does not exist")
    if path.is_dir():
        raise ConfigError(f"{what} file {shown(value)} is a folder; give a CSV file")


def check_out_file(
    value: str, option: str = "--out", *, not_same_as: str | None = None, example: str = "x.csv"
) -> Path:
    """A writable file path for ``option``, checked before polling: its folder must exist
    (it is never created); ``example``: the file name suggested when a folder is given.

    Raises
    ------
    ConfigError
        The path is a folder, ends with a separator, is the input file, its folder does not
        exist, or it cannot be written.
    """
    path = Path(value)
    if value.endswith(("/", os.sep)) or path.is_dir():
        raise ConfigError(f"{option} {value!r} is a folder; give a file, e.g. {path / example}")
    if not_same_as is not None and Path(not_same_as).resolve() == path.resolve():
        raise ConfigError(f"{option} {value!r} is the input file; choose another name")
    parent = check_out_folder(value, option).absolute().parent
    try:
        if path.exists():
            with open(path, "a", encoding="utf-8"):
                pass
        elif not os.access(parent, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise ConfigError(f"{option} {value!r} cannot be written: {exc.strerror}") from None
    return path


def check_out_dir(value: str, option: str = "--out", *, create: bool = True) -> Path:
    """A folder for ``option``: it may be missing (then it is created, unless ``create`` is
    False: only checked, for a caller that makes it later or never, like a dry run), but its
    parent folder must exist: a whole missing tree is refused (a typo, most likely).

    Raises
    ------
    ConfigError
        The path exists and is not a folder, its parent folder does not exist, or it cannot
        be created.
    """
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {value!r} is a file; give a folder")
    parent = path.absolute().parent
    if not path.exists() and not parent.is_dir():
        raise _missing_folder(option, value, path.parent)
    if not create:
        if not path.exists() and not os.access(parent, os.W_OK):
            raise ConfigError(f"{option} {value!r} cannot be created: Permission denied")
        return path
    try:
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option} {value!r} cannot be created: {exc.strerror}") from None
    return path


def _print_jobs_table(df) -> None:
    from ..analysis.summary import summarize_jobs

    jobs = summarize_jobs(df)
    cols = {
        "org": "org",
        "dc": "dc",
        "job_id": "job id",
        "status": "status",
        "converted_count": "converted",
        "failed_count": "failed",
        "total_count": "total",
        "last_error_code": "error",
    }
    table = jobs[list(cols)].rename(columns=cols).astype(object)
    print(table.where(table.notna(), "-").to_string(index=False))


def _print_stats(poller) -> None:
    stats = poller.org_stats()
    stats = stats[stats["jobs"] > 0]
    cols = ["org", "dc", "jobs", "requests", "retries", "rate_limited", "errors"]
    table = stats[[*cols, "credits_used", "token_requests"]]
    # "errors" are polls that got no status (an unknown id is asked 3 times), and "jobs" the
    # job ids given (one Zoho does not know among them): say so
    names = {"jobs": "job_ids", "errors": "no_status_polls"}
    print(table.rename(columns=names).to_string(index=False))


def _outcome(poller, df, csv_path: Path, store: str | None) -> int:
    """Say how the run ended, on stderr; return the exit code."""
    store_error = poller.store_error
    if store_error:
        why = f"{store_error}: it is incomplete; every snapshot is in {csv_path}"
        print(f"error: {why}", file=sys.stderr)
    kept = f"{plural(len(df), 'snapshot')} in {csv_path}" + (f" and {store}" if store else "")
    if poller.stopped_reason == "interrupted":
        if store:
            how = "run the same command again to resume"
        else:
            how = "next time add --store FILE to be able to resume"
        print(f"interrupted: {kept}; {how}", file=sys.stderr)
        return 128 + (poller.stop_signal or signal.SIGINT)
    if poller.stopped_reason in ("deadline", "stopped", "budget"):
        why = poller.stopped_reason
        print(f"stopped watching ({why}); unfinished jobs are not failed", file=sys.stderr)
    failed = poller.org_stats().dropna(subset=["failed_reason"])
    failed = failed[failed["failed_reason"] != "BUDGET_EXHAUSTED"]
    for row in failed.itertuples():
        why = f": {row.failed_message}" if isinstance(row.failed_message, str) else ""
        print(
            f"error: org {row.org} ({row.dc}) failed: {row.failed_reason}{why}; see "
            f"error_message in {csv_path}",
            file=sys.stderr,
        )
    answered = (df["status"] != "error").any() if len(df) else False
    if store_error or len(failed) or (len(poller.jobs) and not answered):
        if len(df) == 0 and len(poller.jobs):
            print(f"error: no answer arrived; {_last_errors(poller)}", file=sys.stderr)
        elif not answered:
            print("error: no job answered with a status; see the error column", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _last_errors(poller) -> str:
    """The last error of each org, on one line ("still waiting" for an org none failed)."""
    stats = poller.org_stats()
    stats = stats[stats["jobs"] > 0]
    parts = [
        f"{row.org} ({row.dc}): {row.last_error}"
        if isinstance(row.last_error, str)
        else f"{row.org} ({row.dc}): none (its call was still in flight)"
        for row in stats.itertuples()
    ]
    return "last error per org: " + "; ".join(parts)


def _jobs_polled(df) -> str:
    """The jobs polled, "36 jobs (+1 with no status)": an id never given a status is no job."""
    if not len(df):
        return "0 jobs"
    from ..analysis.summary import summarize_jobs

    jobs = summarize_jobs(df)
    return jobs_text(len(jobs), (jobs["status"] == "error").sum())


def finish_run(poller, df, csv_path: Path, report_dir: Path | None = None, store=None) -> int:
    """Write the snapshot CSV (first), print the tables, optionally write the report
    bundle; return the exit code of the run."""
    from ..snapshots.csvfile import write_snapshots_csv

    write_snapshots_csv(df, csv_path)
    if len(df):
        _print_jobs_table(df)
        print()
    _print_stats(poller)
    print(f"\n{plural(len(df), 'snapshot')} of {_jobs_polled(df)} -> {csv_path}")
    if report_dir is not None:
        from ..viz.report import export_report

        files = export_report(df, report_dir)
        print(f"report ({plural(len(files), 'file')}) -> {report_dir}")
    return _outcome(poller, df, csv_path, store)
