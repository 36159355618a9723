"""``zcrm-notebook`` command line (argparse): the parser and the entry point.

Commands, one module each (its sub-parser and its body together): ``demo`` (simulator end
to end), ``simulate`` (serve the simulator), ``poll`` (real use), ``convert`` (convert the
leads of a CSV and tell each one's fate), ``report`` (tables and figures from a CSV or
store), ``auth`` (grant exchange, web flow, status, revoke). Errors
print one line on stderr and exit 1 (usage errors: 2); Ctrl-C exits 130 and SIGTERM 143,
keeping every snapshot.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
import warnings

from .. import __version__
from ..api.datacenters import describe_data_centers
from ..errors import ZcrmError
from ..redact import redact, shown
from . import auth, convert, demo, poll, report, simulate
from .common import EXIT_ERROR, EXIT_INTERRUPTED, verbosity

__all__ = ["build_parser", "log_level", "main"]

#: The command modules, in the order of the help text.
COMMANDS = (demo, simulate, poll, convert, report, auth)


class _Parser(argparse.ArgumentParser):
    """The top parser: an unknown option of a command is reported by that command's parser
    (its usage) with the closest option it has ("did you mean --config?"), an unknown command
    with the closest command ("did you mean 'convert'?"); exit code 2."""

    commands: dict[str, argparse.ArgumentParser]

    def parse_args(self, args=None, namespace=None):  # noqa: D102
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self.commands.get(getattr(parsed, "command", None) or "", self)
            command.error(unrecognized(command, extras))
        return parsed

    def _check_value(self, action, value):
        # a mistyped command: name it, the closest command and the valid ones on one line
        if isinstance(action, argparse._SubParsersAction) and value not in action.choices:
            raise argparse.ArgumentError(action, unknown_command(value, list(action.choices)))
        super()._check_value(action, value)


def unknown_command(value: str, commands: list[str]) -> str:
    """``"invalid choice: 'conver' (did you mean 'convert'?); commands: demo, ..."``: the
    closest command by :func:`difflib.get_close_matches`, when one is close enough."""
    close = difflib.get_close_matches(value, commands, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return redact(f"invalid choice: {shown(value)}{hint}; commands: {', '.join(commands)}")


def unrecognized(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """The usage error of ``extras``, with the closest option of ``parser`` for each unknown
    option (:func:`difflib.get_close_matches` over its option strings)."""
    options = [o for action in parser._actions for o in action.option_strings]
    hints = []
    for arg in extras:
        if arg.startswith("-"):
            close = difflib.get_close_matches(arg.split("=", 1)[0], options, n=1)
            if close:
                hints.append(f"{arg.split('=', 1)[0]}: did you mean {close[0]}?")
    text = f"unrecognized arguments: {' '.join(extras)}"  # a mistyped --grant-token's code
    return redact("; ".join([text, *hints]))  # is masked, as in every printed error


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``zcrm-notebook``."""
    parser = _Parser(
        prog="zcrm-notebook",
        description="Watch Zoho CRM mass-convert-lead jobs: poll, record, report.",
        epilog="data centers (accounts server, API domain, sources: SDK = Zoho's Python SDK "
        "for CRM v8; docs/zoho-api.md):\n" + describe_data_centers(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging (-v info, -vv debug; secrets are masked)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.commands = {}
    for command in COMMANDS:
        p = command.add_parser(sub, [verbosity()])
        parser.commands[p.prog.split()[-1]] = p
    return parser


def log_level(args: argparse.Namespace) -> int:
    """The logging level of parsed arguments: WARNING, INFO (``-v``) or DEBUG (``-vv``),
    counting the ``-v`` given before the command and after it."""
    verbose = args.verbose + getattr(args, "verbose_after", 0)
    return [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=log_level(args), format="%(levelname)s %(name)s: %(message)s")
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except ZcrmError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
            return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
