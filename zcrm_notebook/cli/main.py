"""``zcrm-notebook`` command line (argparse): the parser and the entry point.

Commands: ``demo`` (simulator end to end), ``simulate`` (serve the simulator), ``poll``
(real use), ``report`` (tables and figures from a CSV or store), ``auth`` (grant exchange,
web flow, status, revoke; :mod:`zcrm_notebook.auth_cli`). The command bodies live in
:mod:`zcrm_notebook.commands`. Errors print one line on stderr and exit 1 (usage errors:
2); Ctrl-C exits 130 and SIGTERM 143, keeping every snapshot.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import warnings

from .. import __version__
from ..errors import ZcrmError
from .auth import add_auth_parser, cmd_auth

EXIT_ERROR = 1


def _number(kind: type, *, low: float, high: float = math.inf, name: str = "a number"):
    def parse(text: str):
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


def _verbosity() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="more logging (-v info, -vv debug; secrets are masked)")  # fmt: skip
    return common


def _policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--min-interval", type=POSITIVE, metavar="S", help="shortest poll gap (5 s)")
    p.add_argument("--max-interval", type=POSITIVE, metavar="S", help="longest poll gap (20 s)")
    p.add_argument("--max-in-flight", type=COUNT, metavar="N", help="calls in flight per org (5)")
    p.add_argument("--deadline", type=POSITIVE, metavar="S", help="stop watching after S seconds")
    p.add_argument("--budget", type=COUNT, metavar="N", help="max status calls per org")
    p.add_argument("--timeout", type=POSITIVE, metavar="S", help="timeout of each call (10 s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``zcrm-notebook``."""
    parser = argparse.ArgumentParser(
        prog="zcrm-notebook",
        description="Watch Zoho CRM mass-convert-lead jobs: poll, record, report.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-v info, -vv debug; secrets are masked)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_verbosity()]

    demo = sub.add_parser("demo", parents=common, help="poll the simulator's jobs end to end")
    demo.add_argument("--out", default="zcrm-demo", help="output folder (default zcrm-demo)")
    demo.add_argument("--jobs", type=COUNT, default=36, help="simulated jobs (36, + 1 unknown)")
    demo.add_argument("--speed", type=SPEED, default=30.0, help="simulated seconds per second")
    demo.add_argument("--seed", type=int, default=7, help="scenario seed (7)")
    _policy_args(demo)

    sim = sub.add_parser("simulate", parents=common, help="serve the Zoho simulator on 127.0.0.1")
    sim.add_argument("--port", type=PORT, default=0, help="port (default: a free one)")
    sim.add_argument("--write-config", metavar="FILE", default="zcrm-sim.toml",
                     help="TOML config for `poll` (default zcrm-sim.toml)")  # fmt: skip
    sim.add_argument("--jobs-csv", metavar="FILE", default=None,
                     help="jobs CSV for `poll` (default: jobs.csv beside the config)")  # fmt: skip
    sim.add_argument("--jobs", type=COUNT, default=36, help="simulated jobs (36, + 1 unknown)")
    sim.add_argument("--speed", type=SPEED, default=10.0, help="simulated seconds per second")
    sim.add_argument("--seed", type=int, default=7, help="scenario seed (7)")

    poll = sub.add_parser("poll", parents=common, help="poll the job ids of a CSV")
    poll.add_argument("jobs", help="CSV with a job_id column and an org (or dc) column")
    poll.add_argument("--out", required=True, help="snapshot CSV to write")
    poll.add_argument("--config", help="TOML of orgs (default: token store, ZOHO_* env)")
    poll.add_argument("--org", help="org of every job when the CSV has no org column")
    poll.add_argument("--store", help="SQLite journal: commit every snapshot, resume later")
    _policy_args(poll)

    report = sub.add_parser("report", parents=common, help="tables and figures from snapshots")
    report.add_argument("source", help="snapshot CSV or SQLite store")
    report.add_argument("--out", required=True, help="output folder")
    report.add_argument("--tz", default="UTC", help="time zone of the figures (UTC)")
    add_auth_parser(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    from . import commands

    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    handler = {
        "demo": commands.cmd_demo, "simulate": commands.cmd_simulate,
        "poll": commands.cmd_poll, "report": commands.cmd_report, "auth": cmd_auth,
    }  # fmt: skip
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return handler[args.command](args)
        except ZcrmError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return commands.EXIT_INTERRUPTED
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
            return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
