"""The cost-delay frontier of polling schedules, on a discrete-event model (issue 15).

    python benchmarks/bench_frontier.py            # 10 seeds x 200 jobs per scenario
    python benchmarks/bench_frontier.py --quick    # 2 seeds x 40 jobs
    python benchmarks/bench_frontier.py --validate # also: the model vs a real poll run

For each scenario (:mod:`frontier_scenarios`: realistic, fifo) and each schedule family at
several settings: calls per job, median and p95 finish delay (first poll that sees the job
final minus its true finish), pooled over the seeds, on a simulated clock
(:mod:`frontier_model`). Each non-fixed point is compared with fixed-interval polling at
equal cost, interpolated (log-log) between the fixed intervals run; "no worse" means its
median and p95 are both no worse. Writes ``results/frontier.json`` and the plot
``docs/frontier.png`` (calls per job against median and p95, one line per family).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import frontier_model as model  # noqa: E402
import frontier_scenarios as scenarios  # noqa: E402

from zcrm_notebook.poll.policy import DEFAULT_MAX_DELAY_S, PollPolicy  # noqa: E402

YARDSTICK_S = (2, 5, 10, 20, 30, 60)  # the fixed intervals of the issue
FIXED_S = (1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240)  # for interpolation
DELAYS_S = (2, 5, 10, 13, 20, 40, 80)  # 13: the default
PREVIOUS = ((2, 8), (5, 20), (10, 40))  # version 0.1: (min, max interval s); 20 the default
OLD_TIP = (5, 120)  # the former README's tip for big batches
ADAPTIVE = "adaptive (0.2)"
SIZES = {"full": dict(seeds=10, n_jobs=200), "quick": dict(seeds=2, n_jobs=40)}


def adaptive(delay_s: float, use_order: bool = True) -> model.ScheduleModel:
    """The package's schedule at ``max_delay_s=delay_s`` (floor: ``min(5, D)``)."""
    policy = PollPolicy(seed=1, max_delay_s=delay_s, min_interval_s=min(5.0, delay_s),
                        use_order=use_order)  # fmt: skip
    return model.ScheduleModel(policy, f"D={delay_s:g}")


def families(quick: bool = False) -> dict[str, list]:
    """Schedule family -> its settings (models)."""
    delays = (5, DEFAULT_MAX_DELAY_S, 40) if quick else DELAYS_S
    fixed = YARDSTICK_S if quick else FIXED_S
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return {
            "fixed": [model.ScheduleModel(PollPolicy.fixed(s, seed=1), f"fixed {s:g} s")
                      for s in fixed],
            "previous adaptive (0.1)": [model.PreviousAdaptive(a, b, f"min={a} max={b}")
                                        for a, b in PREVIOUS],
            "previous, max 120 s (old tip)": [model.PreviousAdaptive(*OLD_TIP, "min=5 max=120")],
            "bounded (order off)": [adaptive(d, use_order=False) for d in delays],
            ADAPTIVE: [adaptive(d) for d in delays],
        }  # fmt: skip


def run_point(scenario: str, setting, seeds: int, n_jobs: int) -> dict:
    calls = jobs = unseen = 0
    delays: list[float] = []
    for seed in range(seeds):
        jobs_ = scenarios.SCENARIOS[scenario](n_jobs, seed)
        r = model.simulate(jobs_, setting, scenarios.T0)
        calls, jobs, unseen = calls + r.calls, jobs + r.n_jobs, unseen + r.unseen
        delays += r.delays
    return {"calls_per_job": calls / jobs, **model.delay_stats(delays), "unseen": unseen}


def interpolate(fixed: list[dict], calls: float, key: str) -> float | None:
    """The fixed intervals' ``key`` at ``calls`` per job (log-log); None outside their range."""
    pts = sorted((p["calls_per_job"], p[key]) for p in fixed)
    for (c1, d1), (c2, d2) in zip(pts, pts[1:]):
        if c1 <= calls <= c2:
            if c2 == c1:
                return min(d1, d2)
            w = (math.log(calls) - math.log(c1)) / (math.log(c2) - math.log(c1))
            return math.exp(math.log(d1) + w * (math.log(d2) - math.log(d1)))
    return None


def judge(rows: list[dict]) -> None:
    """Add the equal-cost fixed median/p95 and ``no_worse`` to each non-fixed row."""
    for scen in {r["scenario"] for r in rows}:
        fixed = [r for r in rows if r["scenario"] == scen and r["family"] == "fixed"]
        for r in rows:
            if r["scenario"] != scen or r["family"] == "fixed":
                continue
            med = interpolate(fixed, r["calls_per_job"], "median_s")
            p95 = interpolate(fixed, r["calls_per_job"], "p95_s")
            r["fixed_median_s"], r["fixed_p95_s"] = med, p95
            r["no_worse"] = None if med is None else (r["median_s"] <= med and r["p95_s"] <= p95)


def frontier(quick: bool = False, log=print) -> list[dict]:
    """Every family x setting x scenario, judged against fixed at equal cost."""
    size = SIZES["quick" if quick else "full"]
    rows = []
    for scen in scenarios.SCENARIOS:
        for family, settings in families(quick).items():
            for setting in settings:
                started = time.perf_counter()
                point = run_point(scen, setting, **size)
                rows.append({"scenario": scen, "family": family, "setting": setting.name, **point})
                took = time.perf_counter() - started
                log(f"  {scen:9s} {family:29s} {setting.name:16s} "
                    f"{point['calls_per_job']:8.2f} calls  median {point['median_s']:6.2f}  "
                    f"p95 {point['p95_s']:6.2f}  ({took:.1f} s)")  # fmt: skip
    judge(rows)
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'scenario':9s} {'family':29s} {'setting':16s} {'calls/job':>9s} {'median':>7s} "
          f"{'p95':>7s} {'fixed@= med/p95':>16s}  no worse")  # fmt: skip
    for r in rows:
        fixed = r.get("fixed_median_s")
        at = "" if fixed is None else f"{fixed:7.2f} {r['fixed_p95_s']:7.2f}"
        verdict = {True: "yes", False: "NO", None: "n/a"}[r.get("no_worse")]
        nums = f"{r['calls_per_job']:9.2f} {r['median_s']:7.2f} {r['p95_s']:7.2f} {at:>16s}"
        print(f"{r['scenario']:9s} {r['family']:29s} {r['setting']:16s} {nums}  "
              f"{verdict if r['family'] != 'fixed' else ''}")  # fmt: skip


def plot(rows: list[dict], path: Path) -> None:
    """Calls per job against median and p95 delay, one line per family, per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["scenario"] for r in rows))
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 4 * len(names)), squeeze=False)
    styles = {"fixed": ("k", "o", "-"), "previous adaptive (0.1)": ("tab:red", "s", ":"),
              "previous, max 120 s (old tip)": ("tab:red", "X", "none"),
              "bounded (order off)": ("tab:blue", "^", "--"),
              ADAPTIVE: ("tab:green", "v", "-")}  # fmt: skip
    for row_axes, scen in zip(axes, names):
        for ax, key, label in zip(row_axes, ("median_s", "p95_s"), ("median", "p95")):
            for family, (color, marker, line) in styles.items():
                pts = sorted((r["calls_per_job"], r[key]) for r in rows
                             if r["scenario"] == scen and r["family"] == family)  # fmt: skip
                if pts:
                    ax.plot(*zip(*pts), color=color, marker=marker, ls=line, ms=5, label=family)
            ax.set(xscale="log", yscale="log", xlabel="status calls per job",
                   ylabel=f"{label} finish delay, s", title=f"{scen}: {label} delay")  # fmt: skip
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def summary_rows(rows: list[dict]) -> list[tuple]:
    """The "frontier" rows of ``run.py``: (metric, value, goal) per scenario."""
    out = []
    for scen in scenarios.SCENARIOS:
        ours = [r for r in rows if r["scenario"] == scen and r["family"] == ADAPTIVE]
        judged = [r for r in ours if r["no_worse"] is not None]
        out.append((f"{scen}: settings of D no worse than fixed at equal calls (of "
                    f"{len(judged)})", sum(r["no_worse"] for r in judged),
                    f">= {len(judged)}"))  # fmt: skip
        for r in ours:
            if r["fixed_median_s"] is None:
                continue
            at = f"{scen}: {r['setting']} at {r['calls_per_job']:.1f} calls/job"
            out.append((f"{at}: median s", r["median_s"], f"<= {r['fixed_median_s']:.2f}"))
            out.append((f"{at}: p95 s", r["p95_s"], f"<= {r['fixed_p95_s']:.2f}"))
        default = next(r for r in ours if r["setting"] == f"D={DEFAULT_MAX_DELAY_S:g}")
        prev = next(r for r in rows if r["scenario"] == scen and r["setting"] == "min=5 max=20")
        out.append((f"{scen}: default D calls/job (previous default's)",
                    default["calls_per_job"], f"<= {prev['calls_per_job']:.2f}"))  # fmt: skip
        out.append((f"{scen}: default D p95 s (previous default's)",
                    default["p95_s"], f"<= {prev['p95_s']:.2f}"))  # fmt: skip
    return out


def validate(n_jobs: int = 200, seed: int = 11) -> list[dict]:
    """The model against the real Poller over HTTP on the simulator (manual SimClock), one
    setting (D = 10 s, jitter 0) per scenario. Calls are instantaneous in both."""
    rows = []
    for scen in scenarios.SCENARIOS:
        jobs = scenarios.SCENARIOS[scen](n_jobs, seed)
        policy = PollPolicy(seed=1, max_delay_s=10.0, jitter=0.0)
        real = _real_run(jobs, policy).summary()
        modelled = model.simulate(jobs, model.ScheduleModel(policy, "D=10"), scenarios.T0)
        rows += [{"scenario": scen, "run": "simulator (HTTP)", **real},
                 {"scenario": scen, "run": "model", **modelled.summary()}]  # fmt: skip
    return rows


def _real_run(jobs: list, policy: PollPolicy) -> model.Result:
    from zcrm_notebook.auth import OrgCredentials
    from zcrm_notebook.errors import DataQualityWarning
    from zcrm_notebook.poll.poller import Poller
    from zcrm_notebook.simulator import SimClock, Simulator
    from zcrm_notebook.simulator.scenario import build_default_scenario

    orgs, _, _ = build_default_scenario(n_jobs=4, seed=11, realistic=True)
    orgs = [o for o in orgs if o.name in {j.org for j in jobs}]
    clock = SimClock(start=scenarios.T0)
    with Simulator(orgs, jobs, clock=clock) as sim:
        creds = {o.name: OrgCredentials(org=o.name, **sim.org_config(o.name)) for o in orgs}
        ids = {o.name: [j.job_id for j in jobs if j.org == o.name] for o in orgs}
        poller = Poller(ids, creds, policy=policy, clock=clock.time, sleep=clock.sleep)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            snaps = poller.run_snapshots()
    first: dict[str, float] = {}
    for s in snaps:
        if s.is_final and s.job_id not in first:
            first[s.job_id] = s.polled_at
    delays = [first[j.job_id] - j.finish_at() for j in jobs if j.job_id in first]
    return model.Result(len(snaps), len(jobs), delays, unseen=len(jobs) - len(first))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--validate", action="store_true")
    parser.add_argument("--png", default=str(HERE.parent / "docs" / "frontier.png"))
    args = parser.parse_args(argv)
    out: dict = {}
    if args.validate:
        out["validation"] = validate(40 if args.quick else 200)
        for r in out["validation"]:
            print(f"{r['scenario']:9s} {r['run']:18s} calls/job {r['calls_per_job']:7.3f}  "
                  f"median {r['median_s']:6.3f}  p95 {r['p95_s']:6.3f}  "
                  f"max {r['max_s']:6.3f}")  # fmt: skip
    rows = frontier(args.quick)
    print()
    print_table(rows)
    out["frontier"] = rows
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "frontier.json").write_text(json.dumps(out, indent=1))
    plot(rows, Path(args.png))
    print(f"\n-> {results / 'frontier.json'}, {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
