"""``zcrm-notebook`` command line (argparse).

Commands: ``demo`` (simulator end to end), ``simulate`` (serve the simulator), ``poll``
(real use), ``report`` (tables and figures from a CSV or store), ``auth`` (grant exchange,
web flow, status, revoke; see :mod:`zcrm_notebook.auth_cli`).
Errors print one line on stderr and exit non-zero; Ctrl-C exits 130 keeping every snapshot.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import __version__
from .auth_cli import add_auth_parser, cmd_auth
from .errors import ZcrmError

log = logging.getLogger(__name__)

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--min-interval", type=float, metavar="S", help="shortest poll gap (s)")
    p.add_argument("--max-interval", type=float, metavar="S", help="longest poll gap (s)")
    p.add_argument("--max-in-flight", type=int, metavar="N", help="calls in flight per org (5)")
    p.add_argument("--deadline", type=float, metavar="S", help="stop watching after S seconds")
    p.add_argument("--budget", type=int, metavar="N", help="max status calls per org")
    p.add_argument("--timeout", type=float, metavar="S", help="timeout of each call (10 s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _policy(args: argparse.Namespace, **defaults):
    from .policy import PollPolicy

    given = {
        "min_interval_s": args.min_interval,
        "max_interval_s": args.max_interval,
        "max_in_flight": args.max_in_flight,
        "deadline_s": args.deadline,
        "budget": args.budget,
        "timeout_s": args.timeout,
    }
    return PollPolicy(**{**defaults, **{k: v for k, v in given.items() if v is not None}})


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``zcrm-notebook``."""
    parser = argparse.ArgumentParser(
        prog="zcrm-notebook",
        description="Watch Zoho CRM mass-convert-lead jobs: poll, record, report.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="poll the built-in simulator's jobs end to end")
    demo.add_argument("--out", default="zcrm-demo", help="output folder (default zcrm-demo)")
    demo.add_argument("--jobs", type=int, default=36, help="number of simulated jobs (36)")
    demo.add_argument("--speed", type=float, default=30.0, help="simulated seconds per second")
    demo.add_argument("--seed", type=int, default=7)
    _policy_args(demo)

    sim = sub.add_parser("simulate", help="serve the Zoho simulator on 127.0.0.1")
    sim.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    sim.add_argument("--write-config", metavar="FILE", default="zcrm-sim.toml",
                     help="TOML config for `poll` (default zcrm-sim.toml)")  # fmt: skip
    sim.add_argument("--jobs-csv", metavar="FILE", default=None,
                     help="jobs CSV for `poll` (default: jobs.csv beside the config)")  # fmt: skip
    sim.add_argument("--jobs", type=int, default=36)
    sim.add_argument("--speed", type=float, default=10.0, help="simulated seconds per second")
    sim.add_argument("--seed", type=int, default=7)

    poll = sub.add_parser("poll", help="poll the job ids of a CSV (job_id, org or dc)")
    poll.add_argument("jobs", help="CSV with a job_id column and an org (or dc) column")
    poll.add_argument("--out", required=True, help="snapshot CSV to write")
    poll.add_argument("--config", help="TOML of orgs (default: ZOHO_* environment)")
    poll.add_argument("--org", help="org of every job when the CSV has no org column")
    poll.add_argument("--store", help="SQLite journal: commit every snapshot, resume later")
    _policy_args(poll)

    report = sub.add_parser("report", help="tables and figures from snapshots")
    report.add_argument("source", help="snapshot CSV or SQLite store")
    report.add_argument("--out", required=True, help="output folder")
    report.add_argument("--tz", default="UTC", help="time zone of the figures (UTC)")
    add_auth_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    handler = {
        "demo": cmd_demo, "simulate": cmd_simulate, "poll": cmd_poll, "report": cmd_report,
        "auth": cmd_auth,
    }  # fmt: skip
    try:
        return handler[args.command](args)
    except ZcrmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR


def _print_jobs_table(df) -> None:
    from .summary import summarize_jobs

    jobs = summarize_jobs(df)
    cols = {"org": "org", "dc": "dc", "job_id": "job id", "status": "status",
            "converted_count": "converted", "failed_count": "failed", "total_count": "total",
            "last_error_code": "error"}  # fmt: skip
    table = jobs[list(cols)].rename(columns=cols).astype(object)
    print(table.where(table.notna(), "-").to_string(index=False))


def _print_stats(poller) -> None:
    stats = poller.org_stats()
    cols = ["org", "dc", "jobs", "requests", "retries", "rate_limited", "errors", "credits_used",
            "token_requests"]  # fmt: skip
    print(stats[cols].to_string(index=False))


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the simulator's default scenario through the real client and poller."""
    from .poll import Poller
    from .simulator import SimClock, default_scenario

    out = Path(args.out)
    clock = SimClock(speed=args.speed)
    with default_scenario(n_jobs=args.jobs, seed=args.seed, clock=clock) as sim:
        config = out / "simulator.toml"
        out.mkdir(parents=True, exist_ok=True)
        sim.write_config(config)
        sim.write_jobs_csv(out / "jobs.csv")
        poller = Poller(
            out / "jobs.csv", config=str(config), policy=_policy(args, seed=args.seed),
            clock=clock.time, sleep=clock.sleep, progress=not args.no_progress,
        )  # fmt: skip
        df = poller.run()
    return _finish_run(poller, df, out / "snapshots.csv", report_dir=out / "report")


def _finish_run(poller, df, csv_path: Path, report_dir: Path | None = None, store=None) -> int:
    from .export import write_snapshots_csv

    write_snapshots_csv(df, csv_path)
    _print_jobs_table(df)
    print()
    _print_stats(poller)
    print(f"\n{len(df)} snapshots of {df['job_id'].nunique()} jobs -> {csv_path}")
    if report_dir is not None:
        from .report import export_report

        files = export_report(df, report_dir)
        print(f"report ({len(files)} files) -> {report_dir}")
    if poller.stopped_reason == "interrupted":
        hint = f" --store {store}" if store else " (add --store FILE to resume next time)"
        print(f"interrupted: snapshots kept; run the same command again to resume{hint}",
              file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED
    if poller.stopped_reason in ("deadline", "stopped", "budget"):
        print(f"stopped watching ({poller.stopped_reason}); unfinished jobs are not failed",
              file=sys.stderr)  # fmt: skip
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Serve the simulator in the foreground; write a config and jobs CSV for ``poll``."""
    import threading

    from .simulator import SimClock, default_scenario

    config = Path(args.write_config)
    jobs_csv = Path(args.jobs_csv) if args.jobs_csv else config.with_name("jobs.csv")
    clock = SimClock(speed=args.speed)
    with default_scenario(n_jobs=args.jobs, seed=args.seed, clock=clock, port=args.port) as sim:
        config.parent.mkdir(parents=True, exist_ok=True)
        sim.write_config(config)
        sim.write_jobs_csv(jobs_csv)
        print(f"Zoho simulator on {sim.base_url} (jobs run x{args.speed:g} faster)")
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
    from .poll import Poller

    poller = Poller(
        args.jobs, config=args.config, org=args.org, policy=_policy(args),
        store=args.store, progress=not args.no_progress,
    )  # fmt: skip
    df = poller.run()
    code = _finish_run(poller, df, Path(args.out), store=args.store)
    if code == EXIT_INTERRUPTED:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """Exit at once after Ctrl-C: every snapshot is already committed and the CSV written;
    do not wait (up to the call timeout) for worker threads still inside an HTTP call."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report bundle (CSVs, PNGs, README) from a CSV or a store."""
    from .report import export_report

    df = load_snapshots(args.source)
    files = export_report(df, Path(args.out), tz=args.tz)
    for name, path in files.items():
        print(f"{name:>16}  {path}")
    return 0


def load_snapshots(source: str):
    """A snapshot frame from a CSV or an SQLite store (by content, not extension)."""
    path = Path(source)
    if not path.exists():
        from .errors import ConfigError

        raise ConfigError(f"{source!r} does not exist")
    with open(path, "rb") as fh:
        is_sqlite = fh.read(16) == b"SQLite format 3\x00"
    if is_sqlite:
        from .store import read_store

        return read_store(path)
    from .export import read_snapshots

    return read_snapshots(path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
