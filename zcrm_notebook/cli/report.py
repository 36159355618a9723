"""``zcrm-notebook report``: the report bundle (tables as CSV, Excel or Parquet, PNGs,
README) of a snapshot CSV or store."""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from .common import check_in_file, check_out_dir

__all__ = ["add_parser", "run", "TABLE_FORMATS"]

#: The table formats of ``--format`` (those of ``viz.tablefiles.FORMATS``, which is not
#: imported here: it would load pandas with the command line).
TABLE_FORMATS = ("csv", "xlsx", "parquet")


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``report`` command to ``subparsers``; returns its parser."""
    p = subparsers.add_parser("report", parents=parents, help="tables and figures from snapshots")
    p.add_argument("source", help="snapshot CSV or SQLite store")
    p.add_argument(
        "--out",
        required=True,
        help="output folder (created if missing; its parent folder must exist)",
    )
    p.add_argument("--tz", default="UTC", help="time zone of the figures (UTC)")
    p.add_argument(
        "--format",
        action="append",
        choices=TABLE_FORMATS,
        dest="formats",
        help="table files: csv (default), xlsx (one workbook; the excel extra), parquet; "
        "repeat for several",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder that holds other files too; they are left alone (a file "
        "named like the bundle's, such as README.md or jobs.csv, is never replaced unless "
        "a previous report wrote it)",
    )
    p.set_defaults(run=run)
    return p


#: The end of export_report's message on a folder holding other files, and the CLI's words.
_CODE_HINT = "or pass overwrite=True"
_CLI_HINT = "or give --overwrite (writes the report beside those files, leaves them alone)"


def run(args: argparse.Namespace) -> int:
    """Write the report bundle (CSVs, PNGs, README) from a CSV or a store."""
    from ..snapshots.load import load_snapshots
    from ..viz.report import export_report

    check_in_file(args.source, "snapshot")  # first: without it the folder does not matter
    check_out_dir(args.out, create=False)  # before reading: made once there is a table
    df = load_snapshots(args.source)
    formats = tuple(args.formats or ("csv",))
    try:
        files = export_report(
            df, check_out_dir(args.out), tz=args.tz, formats=formats, overwrite=args.overwrite
        )
    except ConfigError as exc:  # the command line has no overwrite=True: say what it has
        raise ConfigError(str(exc).replace(_CODE_HINT, _CLI_HINT)) from None
    for name, path in files.items():
        print(f"{name:>16}  {path}")
    return 0
