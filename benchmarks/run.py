"""Run every benchmark, print a table of ratios against same-run baselines, save it.

    python benchmarks/run.py            # full sizes (several minutes on 2 cores)
    python benchmarks/run.py --quick    # tiny sizes: a smoke run (the test suite uses it)

Results go to ``benchmarks/results/latest.{json,csv}`` (or ``--out DIR``); a full run also
draws ``docs/frontier.png`` (``--quick``: into the results folder). Goals are from issues 7
and 15; a "miss" is reported, never hidden. The row "speed-up vs Zoho's Python SDK" needs
``pip install zohocrmsdk8-0`` in the benchmark environment (not a dependency of the project);
without it the row says "n/a".
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_convert  # noqa: E402
import bench_cpu  # noqa: E402
import bench_frame  # noqa: E402
import bench_frontier  # noqa: E402
import bench_import  # noqa: E402
import bench_poll  # noqa: E402
import bench_render  # noqa: E402
import bench_scale  # noqa: E402

FULL = {
    "round": dict(n_jobs=2000, n_orgs=4),
    "economy": dict(n_jobs=200),
    "frame": dict(n_jobs=10_000, n_polls=100),
    "render": dict(n_jobs=3000, refreshes=500),
    "import": dict(repeat=7),
    "frontier": dict(quick=False),
    "cpu": dict(quick=False),
    "scale": dict(quick=False),
    "convert": dict(n_leads=5000, n_orgs=3, naive_leads=1000),
}
QUICK = {
    "round": dict(n_jobs=40, n_orgs=2),
    "economy": dict(n_jobs=12),
    "frame": dict(n_jobs=50, n_polls=10),
    "render": dict(n_jobs=30, refreshes=5),
    "import": dict(repeat=1),
    "frontier": dict(quick=True),
    "cpu": dict(quick=True),
    "scale": dict(quick=True),
    "convert": dict(n_leads=150, n_orgs=3, naive_leads=30),
}


def _rows(results: dict) -> list[dict]:
    r, e, f, d, i = (results[k] for k in ("round", "economy", "frame", "render", "import"))
    adaptive, fixed5 = e["adaptive"], e["fixed_5s"]
    calls_ratio = adaptive["calls_per_job"] / fixed5["calls_per_job"]
    rows = [
        ("poll round", "measured / ideal wall time", r["measured_over_ideal"], "<= 1.2"),
        ("poll round", "speed-up vs sequential requests loop", r["speedup_vs_naive"], ">= 15"),
        ("poll round", "max calls in flight seen by server", r["max_in_flight_seen"], "<= 5"),
        (
            "poll round",
            "speed-up vs Zoho's Python SDK (one call at a time)",
            r["sdk"].get("speedup_ours_vs_sdk", r["sdk"].get("sdk")),
            "",
        ),
        ("economy", "calls per job, adaptive / fixed 5 s", calls_ratio, "<= 0.5"),
        (
            "economy",
            "median finish delay s, adaptive (fixed 5 s)",
            adaptive["delay_median_s"],
            f"<= {fixed5['delay_median_s']:.2f}",
        ),
        (
            "economy",
            "p95 finish delay s, adaptive (fixed 5 s)",
            adaptive["delay_p95_s"],
            f"<= {fixed5['delay_p95_s']:.2f}",
        ),
        ("economy", "calls per job, fixed 30 s", e["fixed_30s"]["calls_per_job"], ""),
        ("economy", "p95 finish delay s, fixed 30 s", e["fixed_30s"]["delay_p95_s"], ""),
        ("frame", "bytes per row (memory_usage deep)", f["bytes_per_row_deep"], "<= 150"),
        ("frame", "summarize_jobs + summarize_dcs s", f["summaries_s"], "< 2"),
        (
            "frame",
            "build + summarize vs list-of-dicts + groupby (x faster)",
            f["speedup_vs_naive"],
            "",
        ),
        ("frame", "build DataFrame s", f["build_s"], ""),
        ("frame", "CSV write + read s", f["csv_write_s"] + f["csv_read_s"], ""),
        ("frame", "SQLite write + read s", f["sqlite_write_s"] + f["sqlite_read_s"], ""),
        ("import", "import zcrm_notebook / import pandas", i["package_over_pandas"], "<= 1.3"),
        ("import", "poll_jobs+to_frame+summarize_jobs / pandas", i["entry_over_pandas"], ""),
        (
            "import",
            "matplotlib/ipywidgets/simulator not loaded",
            i["heavy_modules_lazy"],
            "== True",
        ),
    ]
    rows += _convert_rows(results["convert"])
    rows += [("render", k, v, "") for k, v in d.items() if k.endswith("_s")]
    rows += [("frontier", *row) for row in bench_frontier.summary_rows(results["frontier"])]
    rows += _cpu_rows(results["cpu"]) + _scale_rows(results["scale"])
    if "figures_after_refreshes" in d:
        rows.append(
            (
                "render",
                f"open figures after {d['refreshes']} refreshes",
                d["figures_after_refreshes"],
                f"== {d['figures_before']}",
            )
        )
    return [_judge(*row) for row in rows]


def _cpu_rows(c: dict) -> list[tuple]:
    base, default = c["requests Session (0.1)"], c["on-loop (default)"]
    hog_base = c["requests Session (0.1), CPU hog beside"]
    hog_default = c["on-loop (default), CPU hog beside"]
    name = "cpu per call"
    return [
        (name, "client CPU us per status call, requests Session (0.1)",
         base["client_cpu_us_per_call"], ""),
        (name, "client CPU us per status call, on-loop (default)",
         default["client_cpu_us_per_call"], ""),
        (name, "CPU per call, default / requests (same run)", c["default_over_requests_cpu"],
         "<= 0.333"),
        (name, "poll round measured / ideal, default", default["measured_over_ideal"], ""),
        (name, "poll round with a CPU hog, measured / ideal, default",
         hog_default["measured_over_ideal"], "<= 1.2"),
        (name, "poll round with a CPU hog, measured / ideal, requests (0.1)",
         hog_base["measured_over_ideal"], ""),
    ]  # fmt: skip


def _scale_rows(s: dict) -> list[tuple]:
    size, r = s["sizes"], s["round"]
    jobs = f"{size['n_jobs']:,} jobs / {size['n_orgs']} orgs"
    rows_ = f"{size['frame_rows']:,} rows"
    ideal_rate = r["calls"] / r["ideal_s"]
    f = s["frame"]
    slowest = max(v for k, v in f.items() if k.startswith("plot_"))
    return [("scale", *row) for row in [
        (f"clean_jobs, {jobs}: s", s["clean"]["seconds"], "<= 2"),
        (f"loop CPU us per call (canned client, 20 ms), {jobs}",
         s["sched"]["client_cpu_us_per_call"], "<= 150"),
        (f"round vs fake (200 ms, store on), {jobs}: measured / ideal",
         r["measured_over_ideal"], "<= 1.2"),
        (f"round, {jobs}: client CPU us per call", r["client_cpu_us_per_call"], ""),
        (f"round, {jobs}: snapshots committed per s", r["committed_per_s"],
         f">= {0.8 * ideal_rate:.0f}"),
        (f"round, {jobs}: peak RSS MB", r["peak_rss_mb"], "<= 1000"),
        ("store: rows committed per s, one transaction per loop iteration",
         s["store"][f"rows_per_s_batch_{bench_scale.BATCH}"], ">= 12500"),
        ("store: rows committed per s, one per snapshot (0.1)",
         s["store"]["rows_per_s_batch_1"], ""),
        (f"dashboard refresh at {size['render_jobs']:,} jobs: s",
         s["render"].get("dashboard_refresh_s", float("nan")), "<= 1"),
        (f"{rows_}: bytes per row", f["bytes_per_row_deep"], "<= 150"),
        (f"{rows_}: build frame s", f["build_s"], ""),
        (f"{rows_}: summarize_jobs s", f["summarize_jobs_s"], "<= 10"),
        (f"{rows_}: summarize_dcs s", f["summarize_dcs_s"], "<= 10"),
        (f"{rows_}: summarize_orgs s", f["summarize_orgs_s"], "<= 10"),
        (f"{rows_}: slowest plot (drawn) s", slowest, "<= 15"),
        (f"{rows_}: peak RSS MB", f["peak_rss_mb"], "<= 8000"),
    ]]  # fmt: skip


def _convert_rows(c: dict) -> list[tuple]:
    """Calls, credits and seconds per 1,000 leads of convert_leads and the naive loops."""
    ours, single, reads = (c["per_1000"][k] for k in ("ours", "single", "per_lead_read"))
    return [
        ("convert", "calls per 1,000 leads (schedule+watch+reconcile)", ours["calls"], ""),
        ("convert", "credits per 1,000 leads", ours["credits"], ""),
        ("convert", "seconds per 1,000 leads (simulated clock)", ours["seconds"], ""),
        ("convert", "calls per 1,000 leads, single convert each", single["calls"], ""),
        ("convert", "credits per 1,000 leads, single convert each", single["credits"], ""),
        ("convert", "seconds per 1,000 leads, single convert each", single["seconds"], ""),
        ("convert", "calls / single convert each", c["calls_vs_single"], "<= 0.5"),
        ("convert", "credits / single convert each", c["credits_vs_single"], "<= 0.1"),
        ("convert", "seconds / single convert each", c["seconds_vs_single"], ""),
        ("convert", "Get Records calls per 1,000, one per lead", reads["calls"], ""),
        (
            "convert",
            "Get Records calls / one per lead",
            c["records_calls_vs_per_lead_read"],
            "<= 0.02",
        ),
        (
            "convert",
            "every lead exactly once in the outcome table",
            c["ours"]["every_lead_once"],
            "== True",
        ),
    ]


def _judge(bench: str, metric: str, value, goal: str) -> dict:
    verdict = ""
    if goal:
        op, target = goal.split(" ", 1)
        target = True if target == "True" else float(target)
        ok = {
            "<=": value <= target,
            ">=": value >= target,
            "<": value < target,
            "==": value == target,
        }[op]
        verdict = "pass" if ok else "MISS"
    return {"benchmark": bench, "metric": metric, "value": value, "goal": goal, "result": verdict}


def _print(rows: list[dict]) -> None:
    width = max(len(r["metric"]) for r in rows)
    print(f"{'benchmark':<11} {'metric':<{width}} {'value':>10}  {'goal':<10} result")
    for r in rows:
        v = r["value"]
        text = f"{v:.3f}" if isinstance(v, float) else str(v)
        print(
            f"{r['benchmark']:<11} {r['metric']:<{width}} {text:>10}  {r['goal']:<10} {r['result']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--out", default=str(HERE / "results"), help="results folder")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    results = {
        "round": bench_poll.poll_round(**sizes["round"], sdk=True),
        "economy": bench_poll.api_economy(**sizes["economy"]),
        "frame": bench_frame.frame_scale(**sizes["frame"]),
        "render": bench_render.rendering(**sizes["render"]),
        "import": bench_import.import_time(**sizes["import"]),
        "frontier": bench_frontier.frontier(**sizes["frontier"], log=lambda _line: None),
        "cpu": bench_cpu.cpu_per_call(**sizes["cpu"], log=lambda _line: None),
        "scale": bench_scale.scale(**sizes["scale"], log=lambda _line: None),
        "convert": bench_convert.convert_economy(**sizes["convert"]),
    }
    rows = _rows(results)
    _print(rows)
    meta = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}",
        "quick": args.quick,
        "seconds": time.perf_counter() - started,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "frontier.png" if args.quick else HERE.parent / "docs" / "frontier.png"
    bench_frontier.plot(results["frontier"], png)
    (out / "latest.json").write_text(
        json.dumps({"meta": meta, "raw": results, "table": rows}, indent=2, default=str)
    )
    with open(out / "latest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\n{meta['date']} {meta['machine']}; {meta['seconds']:.0f} s -> {out}/latest.json, .csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
