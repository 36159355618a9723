"""Is the frontier result robust? Per-seed dominance, and a wrong rate prior.

    python -m research.robustness      (from benchmarks/)

For each seed separately (200 jobs), each candidate setting is compared with the fixed
intervals of the same seed (interpolated at equal calls, as in bench_frontier): in how
many seeds are its median and p95 both no worse? Scenarios: realistic, fifo, and fast
(jobs 10x faster than the candidates' assumed fastest rate of 10 leads/s allows).
"""

from __future__ import annotations

import sys

from bench_frontier import FIXED_S, interpolate

from . import des, policies, scenarios

SETTINGS = (2, 5, 10, 20, 40)


def main() -> int:
    for scen in ("realistic", "fifo", "fast"):
        counts: dict[str, list[int]] = {}
        for seed in range(10):
            jobs = scenarios.SCENARIOS[scen](200, seed)
            fixed = []
            for s in FIXED_S:
                r = des.simulate(jobs, policies.fixed(s), scenarios.T0)
                fixed.append({"calls_per_job": r.calls_per_job, **des.delay_stats(r.delays)})
            for d in SETTINGS:
                for pol in (policies.Bounded(d), policies.Ordered(d), policies.Today(
                        policies.PollPolicy(min_interval_s=d / 2, max_interval_s=2 * d, seed=1),
                        name=f"adaptive min={d / 2:g} max={2 * d:g}")):  # fmt: skip
                    r = des.simulate(jobs, pol, scenarios.T0)
                    st = des.delay_stats(r.delays)
                    med = interpolate(fixed, r.calls_per_job, "median_s")
                    p95 = interpolate(fixed, r.calls_per_job, "p95_s")
                    ok = med is not None and st["median_s"] <= med and st["p95_s"] <= p95
                    c = counts.setdefault(pol.name, [0, 0, 0])
                    c[0] += ok
                    c[1] += med is not None and st["p95_s"] <= p95
                    c[2] += med is not None and st["median_s"] <= med
        for name, (both, p95, med) in counts.items():
            print(f"{scen:9s} {name:26s} dominates in {both:2d}/10 seeds "
                  f"(p95 no worse {p95:2d}/10, median {med:2d}/10)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
