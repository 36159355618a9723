"""``zcrm-notebook simulate``: serve the simulator in the foreground, with a config, a jobs
CSV for ``poll`` and a leads CSV for ``convert``.

By default the simulated jobs start when they are first polled: the simulated clock
stands still until the first status request, then runs ``--speed`` times faster than real
time. A ``poll`` started a minute later still sees the jobs queue, convert and finish.
``--jobs-start now`` starts them with the server instead.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .common import COUNT, PORT, SPEED, check_out_file

if TYPE_CHECKING:
    from ..simulator import SimClock, Simulator

__all__ = ["add_parser", "run", "run_clock_from_first_poll"]

TICK_S = 0.05  # real seconds between two steps of the simulated clock


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``simulate`` command to ``subparsers``; returns its parser."""
    p = subparsers.add_parser(
        "simulate", parents=parents, help="serve the Zoho simulator on 127.0.0.1"
    )
    p.add_argument("--port", type=PORT, default=0, help="port (default: a free one)")
    p.add_argument(
        "--write-config",
        metavar="FILE",
        default="zcrm-sim.toml",
        help="TOML config for `poll` (default zcrm-sim.toml)",
    )
    p.add_argument(
        "--jobs-csv",
        metavar="FILE",
        default=None,
        help="jobs CSV for `poll` (default: jobs.csv beside the config)",
    )
    p.add_argument(
        "--leads-csv",
        metavar="FILE",
        default=None,
        help="leads CSV (lead_id,org) for `convert` (default: leads.csv beside the config)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing files at these paths (default: refuse a jobs or leads CSV "
        "that differs from the one this command writes, and a config it did not write)",
    )
    p.add_argument("--jobs", type=COUNT, default=36, help="simulated jobs (36, + 1 unknown)")
    p.add_argument("--leads", type=COUNT, default=60, help="simulated leads per org (60)")
    p.add_argument(
        "--speed", type=SPEED, default=10.0, help="simulated seconds per real second (10)"
    )
    p.add_argument("--seed", type=int, default=7, help="scenario seed (7)")
    p.add_argument(
        "--jobs-start",
        choices=("first-poll", "now"),
        default="first-poll",
        help="when the simulated jobs start: at the first status request (default), or now",
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Serve the simulator in the foreground; write a config, a jobs CSV for ``poll`` and a
    leads CSV for ``convert``."""
    from ..simulator import SimClock, default_scenario

    config = check_out_file(args.write_config, "--write-config")
    jobs_csv = check_out_file(args.jobs_csv or str(config.with_name("jobs.csv")), "--jobs-csv")
    leads_csv = args.leads_csv or str(config.with_name("leads.csv"))
    leads_csv = check_out_file(leads_csv, "--leads-csv")
    held = args.jobs_start == "first-poll"
    clock = SimClock() if held else SimClock(speed=args.speed)  # held: moved by the pacer
    stopped = threading.Event()
    scenario = dict(n_jobs=args.jobs, n_leads=args.leads, seed=args.seed, clock=clock)
    with default_scenario(**scenario, port=args.port) as sim:
        if not args.overwrite:
            _check_config(config)
            _check_same(sim.write_jobs_csv, jobs_csv, "--jobs-csv")
            _check_same(sim.write_leads_csv, leads_csv, "--leads-csv")
        sim.write_config(config)
        sim.write_jobs_csv(jobs_csv)
        sim.write_leads_csv(leads_csv)
        when = "when first polled" if held else "now"
        print(f"Zoho simulator on {sim.base_url} (simulated time runs x{args.speed:g})")
        print(f"config: {config}\njobs:   {jobs_csv} (the jobs start {when})\nleads:  {leads_csv}")
        if sim.unknown_job_id is not None:
            print(
                f"        {jobs_csv.name} includes one job id the simulator does not know "
                f"({sim.unknown_job_id}), on purpose: poll's WARNING about it (HTTP 400 "
                "INVALID_DATA) shows how Zoho refuses an id"
            )
        print(f"try:    {_program()} poll {jobs_csv} --config {config} --out s.csv")
        print(
            f"   or:  {_program()} convert {leads_csv} --config {config} --store run.sqlite "
            "--out converted"
        )
        print("Ctrl-C to stop", flush=True)
        if held:
            pacer = (sim, clock, args.speed, stopped.wait)
            threading.Thread(target=run_clock_from_first_poll, args=pacer, daemon=True).start()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("simulator stopped")
        finally:
            stopped.set()
    return 0


def _check_config(path: Path) -> None:
    """Refuse to replace a file that is not a config this command wrote (real credentials).

    Raises
    ------
    ConfigError
        ``path`` exists and does not start with the simulator's config header.
    """
    from ..simulator.app import CONFIG_HEADER

    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as fh:
        if fh.readline().rstrip("\n") == CONFIG_HEADER:
            return
    raise ConfigError(
        f"--write-config {str(path)!r} exists and is not a simulator config; choose another "
        "path, or pass --overwrite"
    )


def _check_same(write: Callable[[Path], None], path: Path, option: str) -> None:
    """Refuse to replace an existing ``path`` unless ``write`` would write the same bytes
    (the file a previous run with the same options wrote).

    Raises
    ------
    ConfigError
        ``path`` exists and holds something else.
    """
    if not path.exists():
        return
    with tempfile.TemporaryDirectory() as folder:
        fresh = Path(folder) / path.name
        write(fresh)
        if fresh.read_bytes() == path.read_bytes():
            return
    raise ConfigError(
        f"{option} {str(path)!r} exists with other content; choose another path with "
        f"{option}, or pass --overwrite"
    )


def _program() -> str:
    """How this command was started (``.venv/bin/zcrm-notebook``), for the hint printed."""
    started = sys.argv[0] if sys.argv else ""
    if Path(started).name == "zcrm-notebook":
        return started
    return "python -m zcrm_notebook"


def run_clock_from_first_poll(
    sim: Simulator,
    clock: SimClock,
    speed: float,
    wait: Callable[[float], bool],
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Hold the manual ``clock`` until ``sim`` has answered a status request, then move it
    ``speed`` simulated seconds per real second, in steps of :data:`TICK_S`, until
    ``wait(TICK_S)`` returns True (the simulator stops)."""
    last = None
    while not wait(TICK_S):
        now = monotonic()
        if last is None:
            last = now if sim.stats.status_requests else None
            continue
        clock.advance((now - last) * speed)
        last = now
