"""``zcrm-notebook simulate``: serve the simulator in the foreground, with a config, a jobs
CSV for ``poll`` and a leads CSV for ``convert``."""

from __future__ import annotations

import argparse
import threading

from .common import COUNT, PORT, SPEED, check_out_file

__all__ = ["add_parser", "run"]


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
    p.add_argument("--jobs", type=COUNT, default=36, help="simulated jobs (36, + 1 unknown)")
    p.add_argument("--leads", type=COUNT, default=60, help="simulated leads per org (60)")
    p.add_argument("--speed", type=SPEED, default=10.0, help="simulated seconds per second")
    p.add_argument("--seed", type=int, default=7, help="scenario seed (7)")
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
    clock = SimClock(speed=args.speed)
    scenario = dict(n_jobs=args.jobs, n_leads=args.leads, seed=args.seed, clock=clock)
    with default_scenario(**scenario, port=args.port) as sim:
        sim.write_config(config)
        sim.write_jobs_csv(jobs_csv)
        sim.write_leads_csv(leads_csv)
        print(f"Zoho simulator on {sim.base_url} (simulated time runs x{args.speed:g})")
        print(f"config: {config}\njobs:   {jobs_csv}\nleads:  {leads_csv}")
        print(f"try:    zcrm-notebook poll {jobs_csv} --config {config} --out snapshots.csv")
        print(
            f"   or:  zcrm-notebook convert {leads_csv} --config {config} --store run.sqlite "
            "--out converted"
        )
        print("Ctrl-C to stop", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("simulator stopped")
    return 0
