"""The cost-delay frontier of polling policies (issue 15), on a discrete-event model.

    python benchmarks/bench_frontier.py            # 10 seeds x 200 jobs per scenario
    python benchmarks/bench_frontier.py --quick    # 2 seeds x 40 jobs
    python benchmarks/bench_frontier.py --validate # also: model vs one real simulator run

For each scenario (:mod:`research.scenarios`) and each policy family at several settings:
calls per job, median and p95 finish delay (first poll that sees the job final minus its
true finish), pooled over the seeds. Each non-fixed point is compared with the fixed
interval of equal cost, interpolated (log-log) between the fixed intervals run; "dominates"
means its median and p95 are both no worse. Writes ``results/frontier.json`` and draws
``research/frontier.png`` (calls per job against median and p95, one line per family).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from research import des, policies, scenarios  # noqa: E402
from research.internals import PollPolicy  # noqa: E402

YARDSTICK_S = (2, 5, 10, 20, 30, 60)  # the fixed intervals of the issue
FIXED_S = (1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240)  # for interpolation
DELAYS_S = (0.5, 1, 2, 5, 10, 20, 40, 80, 160)


def families(quick: bool = False) -> dict[str, list]:
    """Policy family -> its settings (policy objects), cheapest last."""
    delays = DELAYS_S[1::2] if quick else DELAYS_S
    today = [(1, 4), (2, 8), (5, 20), (10, 40), (20, 80), (40, 160)]

    def adaptive(a: float, b: float):
        return policies.Today(PollPolicy(min_interval_s=a, max_interval_s=b, seed=1),
                              name=f"adaptive min={a} max={b}")  # fmt: skip

    return {
        "fixed": [policies.fixed(s) for s in (YARDSTICK_S if quick else FIXED_S)],
        "adaptive (today)": [adaptive(a, b) for a, b in (today[1:4] if quick else today)],
        "adaptive, max 120 s": [adaptive(5, 120)],
        "bounded": [policies.Bounded(d) for d in delays],
        "ordered": [policies.Ordered(d) for d in delays],
        "paced (credit budget)": [
            policies.Paced(c) for c in ((2000, 8000) if quick else (1000, 2000, 4000, 8000, 16000))
        ],
    }


def run_point(scenario: str, policy, seeds, n_jobs: int) -> dict:
    calls = jobs = unseen = 0
    delays: list[float] = []
    for seed in seeds:
        r = des.simulate(scenarios.SCENARIOS[scenario](n_jobs, seed), policy, scenarios.T0)
        calls, jobs, unseen = calls + r.calls, jobs + r.n_jobs, unseen + r.unseen
        delays += r.delays
    return {"calls_per_job": calls / jobs, **des.delay_stats(delays), "unseen": unseen}


def interpolate(fixed: list[dict], calls: float, key: str) -> float | None:
    """The fixed interval's ``key`` at ``calls`` per job (log-log), None outside the range."""
    pts = sorted((p["calls_per_job"], p[key]) for p in fixed)
    for (c1, d1), (c2, d2) in zip(pts, pts[1:]):
        if c1 <= calls <= c2:
            if c2 == c1:
                return min(d1, d2)
            w = (math.log(calls) - math.log(c1)) / (math.log(c2) - math.log(c1))
            return math.exp(math.log(d1) + w * (math.log(d2) - math.log(d1)))
    return None


def judge(rows: list[dict]) -> None:
    """Add the equal-cost fixed median/p95 and ``dominates`` to each non-fixed row."""
    for scen in {r["scenario"] for r in rows}:
        fixed = [r for r in rows if r["scenario"] == scen and r["family"] == "fixed"]
        for r in rows:
            if r["scenario"] != scen or r["family"] == "fixed":
                continue
            med = interpolate(fixed, r["calls_per_job"], "median_s")
            p95 = interpolate(fixed, r["calls_per_job"], "p95_s")
            r["fixed_median_s"], r["fixed_p95_s"] = med, p95
            r["dominates"] = None if med is None else (r["median_s"] <= med and r["p95_s"] <= p95)


def frontier(quick: bool = False, names=("realistic", "fifo", "fifo2"), log=print) -> list[dict]:
    seeds, n_jobs = (range(2), 40) if quick else (range(10), 200)
    rows = []
    for scen in names:
        for family, settings in families(quick).items():
            for policy in settings:
                started = time.perf_counter()
                point = run_point(scen, policy, seeds, n_jobs)
                rows.append({"scenario": scen, "family": family, "setting": policy.name, **point})
                log(f"  {scen:9s} {policy.name:32s} {point['calls_per_job']:8.2f} calls  "
                    f"median {point['median_s']:7.2f}  p95 {point['p95_s']:7.2f}  "
                    f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
    judge(rows)
    return rows


def print_table(rows: list[dict]) -> None:
    head = (f"{'scenario':9s} {'family':22s} {'setting':32s} {'calls/job':>9s} {'median':>7s} "
            f"{'p95':>7s} {'fixed@=':>15s}  dominates")  # fmt: skip
    print(head)
    for r in rows:
        fixed = r.get("fixed_median_s")
        at = "" if fixed is None else f"{fixed:6.2f} {r['fixed_p95_s']:7.2f}"
        dom = (
            {True: "yes", False: "NO", None: "n/a"}[r.get("dominates")]
            if r["family"] != "fixed"
            else ""
        )
        yard = (
            " *"
            if r["family"] == "fixed" and r["setting"].split()[1] in map(str, YARDSTICK_S)
            else ""
        )
        nums = f"{r['calls_per_job']:9.2f} {r['median_s']:7.2f} {r['p95_s']:7.2f} {at:>15s}"
        print(f"{r['scenario']:9s} {r['family']:22s} {r['setting'] + yard:32s} {nums}  {dom}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({r["scenario"] for r in rows}, key=["realistic", "fifo", "fifo2"].index)
    fig, axes = plt.subplots(len(names), 2, figsize=(12, 4.2 * len(names)), squeeze=False)
    styles = {"fixed": ("k", "o", "-"), "adaptive (today)": ("tab:red", "s", "-"),
              "adaptive, max 120 s": ("tab:red", "X", "none"),
              "bounded": ("tab:blue", "^", "-"), "ordered": ("tab:green", "v", "--"),
              "paced (credit budget)": ("tab:purple", "D", ":")}  # fmt: skip
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--validate", action="store_true")
    parser.add_argument("--scenarios", default="realistic,fifo,fifo2")
    parser.add_argument("--png", default=str(HERE / "research" / "frontier.png"))
    parser.add_argument("--replot", action="store_true", help="redraw from results/")
    args = parser.parse_args(argv)
    if args.replot:
        rows = json.loads((HERE / "results" / "frontier.json").read_text())["frontier"]
        for r in rows:
            if r["setting"] == "adaptive min=5 max=120":
                r["family"] = "adaptive, max 120 s"
        plot(rows, Path(args.png))
        return 0
    out: dict = {}
    if args.validate:
        from research import validate

        n = 40 if args.quick else 200
        vrows = []
        for scen in ("realistic", "fifo"):
            jobs = scenarios.SCENARIOS[scen](n, 11)
            for label, pol in (("fixed 10 s", PollPolicy.fixed(10.0, seed=1)),
                               ("adaptive, jitter 0", PollPolicy(jitter=0.0, seed=1)),
                               ("adaptive, jitter 0.1", PollPolicy(seed=1))):  # fmt: skip
                vrows += validate.compare(jobs, pol, f"{scen}, {label}")
        for r in vrows:
            print(
                f"{r['setting']:30s} {r['run']:18s} calls/job {r['calls_per_job']:7.3f}  "
                f"median {r['median_s']:7.3f}  p95 {r['p95_s']:7.3f}  max {r['max_s']:7.3f}"
            )
        out["validation"] = vrows
    rows = frontier(args.quick, args.scenarios.split(","))
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
