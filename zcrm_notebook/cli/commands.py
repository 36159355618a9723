"""Bodies of the ``zcrm-notebook`` commands (the parser is in :mod:`zcrm_notebook.cli`).

Outputs are checked before any call (a wrong ``--out`` never costs a run); after a run the
snapshot CSV is written first, then the tables are printed. The exit code says how the run
went: 0 all answered, 1 an org failed or no job answered, 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from ..errors import ConfigError

log = logging.getLogger(__name__)

EXIT_ERROR = 1
EXIT_INTERRUPTED = 128 + signal.SIGINT


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _policy(args: argparse.Namespace, **defaults):
    from ..poll.policy import PollPolicy

    given = {
        "min_interval_s": args.min_interval, "max_interval_s": args.max_interval,
        "max_in_flight": args.max_in_flight, "deadline_s": args.deadline,
        "budget": args.budget, "timeout_s": args.timeout,
    }  # fmt: skip
    return PollPolicy(**{**defaults, **{k: v for k, v in given.items() if v is not None}})


def check_out_file(value: str, option: str = "--out", *, not_same_as: str | None = None) -> Path:
    """A writable file path for ``option`` (its folder is created), checked before polling.

    Raises
    ------
    ConfigError
        The path is a folder, ends with a separator, is the input file, or cannot be written.
    """
    path = Path(value)
    if value.endswith(("/", os.sep)) or path.is_dir():
        raise ConfigError(f"{option} {value!r} is a folder; give a file, e.g. {path / 'x.csv'}")
    if not_same_as is not None and Path(not_same_as).resolve() == path.resolve():
        raise ConfigError(f"{option} {value!r} is the input file; choose another name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, "a", encoding="utf-8"):
                pass
        elif not os.access(path.parent, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise ConfigError(f"{option} {value!r} cannot be written: {exc.strerror}") from None
    return path


def check_out_dir(value: str, option: str = "--out") -> Path:
    """A folder for ``option`` (created if missing).

    Raises
    ------
    ConfigError
        The path exists and is not a folder, or cannot be created.
    """
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {value!r} is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option} {value!r} cannot be created: {exc.strerror}") from None
    return path


def _print_jobs_table(df) -> None:
    from ..analysis.summary import summarize_jobs

    jobs = summarize_jobs(df)
    cols = {"org": "org", "dc": "dc", "job_id": "job id", "status": "status",
            "converted_count": "converted", "failed_count": "failed", "total_count": "total",
            "last_error_code": "error"}  # fmt: skip
    table = jobs[list(cols)].rename(columns=cols).astype(object)
    print(table.where(table.notna(), "-").to_string(index=False))


def _print_stats(poller) -> None:
    stats = poller.org_stats()
    stats = stats[stats["jobs"] > 0]
    cols = ["org", "dc", "jobs", "requests", "retries", "rate_limited", "errors", "credits_used",
            "token_requests"]  # fmt: skip
    print(stats[cols].to_string(index=False))


def _outcome(poller, df, csv_path: Path, store: str | None) -> int:
    """Say how the run ended, on stderr; return the exit code."""
    kept = f"{_plural(len(df), 'snapshot')} in {csv_path}" + (f" and {store}" if store else "")
    if poller.stopped_reason == "interrupted":
        how = ("run the same command again to resume" if store
               else "next time add --store FILE to be able to resume")  # fmt: skip
        print(f"interrupted: {kept}; {how}", file=sys.stderr)
        return 128 + (poller.stop_signal or signal.SIGINT)
    if poller.stopped_reason in ("deadline", "stopped", "budget"):
        print(f"stopped watching ({poller.stopped_reason}); unfinished jobs are not failed",
              file=sys.stderr)  # fmt: skip
    failed = poller.org_stats().dropna(subset=["failed_reason"])
    failed = failed[failed["failed_reason"] != "BUDGET_EXHAUSTED"]
    for row in failed.itertuples():
        print(f"error: org {row.org} ({row.dc}) failed: {row.failed_reason}; see error_message "
              f"in {csv_path}", file=sys.stderr)  # fmt: skip
    answered = (df["status"] != "error").any() if len(df) else False
    if len(failed) or (len(poller.jobs) and not answered):
        if not answered:
            print("error: no job answered with a status; see the error column", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _finish_run(poller, df, csv_path: Path, report_dir: Path | None = None, store=None) -> int:
    from ..snapshots.csvfile import write_snapshots_csv

    write_snapshots_csv(df, csv_path)
    _print_jobs_table(df)
    print()
    _print_stats(poller)
    n_jobs = df["job_id"].nunique()
    print(f"\n{_plural(len(df), 'snapshot')} of {_plural(n_jobs, 'job')} -> {csv_path}")
    if report_dir is not None:
        from ..viz.report import export_report

        files = export_report(df, report_dir)
        print(f"report ({_plural(len(files), 'file')}) -> {report_dir}")
    return _outcome(poller, df, csv_path, store)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the simulator's default scenario through the real client and poller."""
    from ..poll.poller import Poller
    from ..simulator import SimClock, default_scenario

    out = check_out_dir(args.out)
    policy = _policy(args, seed=args.seed)
    clock = SimClock(speed=args.speed)
    with default_scenario(n_jobs=args.jobs, seed=args.seed, clock=clock) as sim:
        config = out / "simulator.toml"
        sim.write_config(config)
        sim.write_jobs_csv(out / "jobs.csv")
        poller = Poller(
            out / "jobs.csv", config=str(config), policy=policy,
            clock=clock.time, sleep=clock.sleep, progress=not args.no_progress,
        )  # fmt: skip
        df = poller.run()
    return _finish_run(poller, df, out / "snapshots.csv", report_dir=out / "report")


def cmd_simulate(args: argparse.Namespace) -> int:
    """Serve the simulator in the foreground; write a config and jobs CSV for ``poll``."""
    import threading

    from ..simulator import SimClock, default_scenario

    config = check_out_file(args.write_config, "--write-config")
    jobs_csv = args.jobs_csv or str(config.with_name("jobs.csv"))
    jobs_csv = check_out_file(jobs_csv, "--jobs-csv")
    clock = SimClock(speed=args.speed)
    with default_scenario(n_jobs=args.jobs, seed=args.seed, clock=clock, port=args.port) as sim:
        sim.write_config(config)
        sim.write_jobs_csv(jobs_csv)
        print(f"Zoho simulator on {sim.base_url} (simulated time runs x{args.speed:g})")
        print(f"config: {config}\njobs:   {jobs_csv}")
        print(f"try:    zcrm-notebook poll {jobs_csv} --config {config} --out snapshots.csv")
        print("Ctrl-C to stop", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("simulator stopped")
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    """Poll the jobs of a CSV against real Zoho (or the simulator's config)."""
    from ..poll.poller import Poller

    out = check_out_file(args.out, not_same_as=args.jobs)
    if args.store:
        check_out_file(args.store, "--store", not_same_as=args.jobs)
    poller = Poller(
        args.jobs, config=args.config, org=args.org, policy=_policy(args),
        store=args.store, progress=not args.no_progress,
    )  # fmt: skip
    df = poller.run()
    code = _finish_run(poller, df, out, store=args.store)
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


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report bundle (CSVs, PNGs, README) from a CSV or a store."""
    from ..snapshots.load import load_snapshots
    from ..viz.report import export_report

    df = load_snapshots(args.source)
    files = export_report(df, check_out_dir(args.out), tz=args.tz)
    for name, path in files.items():
        print(f"{name:>16}  {path}")
    return 0
