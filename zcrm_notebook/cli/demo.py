"""``zcrm-notebook demo``: the simulator's default scenario through the real client and
poller, to a folder (snapshot CSV, report bundle, the inputs it used)."""

from __future__ import annotations

import argparse

from .common import (
    COUNT,
    SPEED,
    add_policy_args,
    check_out_dir,
    finish_run,
    logging_above_bar,
    policy_from_args,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``demo`` command to ``subparsers``; returns its parser."""
    p = subparsers.add_parser("demo", parents=parents, help="poll the simulator's jobs end to end")
    p.add_argument(
        "--out",
        default="zcrm-demo",
        help="output folder (default zcrm-demo; created if missing, its parent folder must exist)",
    )
    p.add_argument("--jobs", type=COUNT, default=36, help="simulated jobs (36, + 1 unknown)")
    p.add_argument(
        "--speed", type=SPEED, default=30.0, help="simulated seconds per real second (30)"
    )
    p.add_argument("--seed", type=int, default=7, help="scenario seed (7)")
    add_policy_args(p)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the simulator's default scenario through the real client and poller."""
    from ..poll import Poller
    from ..simulator import SimClock, default_scenario

    out = check_out_dir(args.out)
    policy = policy_from_args(args, seed=args.seed)
    clock = SimClock(speed=args.speed)
    with default_scenario(n_jobs=args.jobs, seed=args.seed, clock=clock) as sim:
        config = out / "simulator.toml"
        sim.write_config(config)
        sim.write_jobs_csv(out / "jobs.csv")
        poller = Poller(
            out / "jobs.csv",
            config=str(config),
            policy=policy,
            clock=clock.time,
            sleep=clock.sleep,
            progress=not args.no_progress,
        )
        poller.log_interrupt = False  # finish_run prints the one line saying so
        if sim.unknown_job_id is not None:
            print(unknown_id_line(sim.unknown_job_id), flush=True)
        with logging_above_bar(poller.progress):
            df = poller.run()
    return finish_run(poller, df, out / "snapshots.csv", report_dir=out / "report")


def unknown_id_line(job_id: str) -> str:
    """The line said before the run: the demo's jobs include an id the simulator does not
    know, so the WARNING about it is expected."""
    return (
        f"the demo's jobs include one job id the simulator does not know ({job_id}), to show "
        "how Zoho refuses an id: the WARNING about it below is expected"
    )
