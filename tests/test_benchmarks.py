"""The benchmark code at a tiny size: it runs, and what it computes is right (numbers of
speed are not judged here)."""

import json
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_frontier
        import bench_scale
        import frontier_model
        import frontier_scenarios
        import run
    finally:
        sys.path.remove(str(BENCH))
    return {"run": run, "frontier": bench_frontier, "model": frontier_model,
            "scenarios": frontier_scenarios, "scale": bench_scale}  # fmt: skip


def test_the_model_polls_fixed_intervals_and_sees_every_finish(bench):
    model, scen = bench["model"], bench["scenarios"]
    jobs = scen.realistic(6, seed=1)
    policy = bench["frontier"].PollPolicy.fixed(10.0, seed=1)
    r = model.simulate(jobs, model.ScheduleModel(policy, "fixed 10 s"), scen.T0)
    assert r.unseen == 0 and len(r.delays) == 6
    assert all(0 <= d < 10.0 for d in r.delays)
    # one poll at t0 and one every 10 s until the first that sees the job final
    expected = sum(math.floor((j.finish_at() - scen.T0) / 10.0) + 2 for j in jobs)
    assert r.calls == expected


def test_fifo_jobs_of_an_org_do_not_overlap(bench):
    jobs = bench["scenarios"].fifo(12, seed=2)
    by_org: dict = {}
    for j in jobs:
        by_org.setdefault(j.org, []).append(j)
    for org_jobs in by_org.values():
        for a, b in zip(org_jobs, org_jobs[1:]):
            assert b.created_at + b.queue_delay_s >= a.finish_at()


def test_interpolation_and_judging(bench):
    f = bench["frontier"]
    fixed = [{"calls_per_job": 10.0, "median_s": 10.0, "p95_s": 20.0},
             {"calls_per_job": 40.0, "median_s": 2.5, "p95_s": 5.0}]  # fmt: skip
    assert f.interpolate(fixed, 20.0, "median_s") == pytest.approx(5.0)  # log-log: a line
    assert f.interpolate(fixed, 50.0, "median_s") is None
    rows = [{"scenario": "s", "family": "fixed", **p} for p in fixed] + [
        {"scenario": "s", "family": "x", "calls_per_job": 20.0, "median_s": 4.0, "p95_s": 11.0}
    ]
    f.judge(rows)
    assert rows[-1]["no_worse"] is False and rows[-1]["fixed_p95_s"] == pytest.approx(10.0)


def test_the_column_built_frame_is_a_snapshot_frame(bench):
    from zcrm_notebook.analysis.summary import summarize_jobs
    from zcrm_notebook.snapshots.frame import SNAPSHOT_DTYPES

    df = bench["scale"].big_frame(n_jobs=4, n_polls=12)
    assert len(df) == 48 and dict(df.dtypes) == SNAPSHOT_DTYPES
    jobs = summarize_jobs(df)
    assert len(jobs) == 4 and (jobs["status"].astype(str) == "completed").all()


def test_store_and_clean_parts_count_what_they_did(bench):
    out = bench["scale"].store(200)
    assert set(out) == {"rows_per_s_batch_1", f"rows_per_s_batch_{bench['scale'].BATCH}"}
    assert bench["scale"].clean(30, 3)["rows"] == 30


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::zcrm_notebook.errors.UnverifiedFactWarning")  # every dc
def test_quick_benchmark_run_writes_the_table(bench, tmp_path, capsys):
    assert bench["run"].main(["--quick", "--out", str(tmp_path)]) == 0
    table = json.loads((tmp_path / "latest.json").read_text())["table"]
    names = {r["benchmark"] for r in table}
    assert names == {"poll round", "economy", "frame", "import", "render", "convert",
                     "frontier", "cpu per call", "scale"}  # fmt: skip
    assert all(r["result"] in ("pass", "MISS", "") for r in table)
    frontier = [r for r in table if r["benchmark"] == "frontier"]
    assert {r["metric"].split(":")[0] for r in frontier} == {"realistic", "fifo"}
    assert all(r["goal"] for r in frontier)
    assert (tmp_path / "frontier.png").stat().st_size > 0
    assert (tmp_path / "latest.csv").read_text().startswith("benchmark,metric,value,goal,result")
    assert "measured / ideal wall time" in capsys.readouterr().out


def test_the_convert_benchmark_counts_what_a_tiny_run_does():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_convert
    finally:
        sys.path.remove(str(BENCH))
    got = bench_convert.convert_economy(n_leads=120, n_orgs=3, naive_leads=12)
    ours = got["ours"]
    assert ours["leads"] == 120 and ours["every_lead_once"] and ours["stopped_reason"] == "finished"
    assert ours["calls_by_kind"]["post"] == ours["posts_seen_by_server"] == 3  # 40 leads an org
    assert ours["calls_by_kind"]["records"] == 3  # one read of <= 100 ids per org
    assert got["single"] == {**got["single"], "leads": 12, "calls": 12, "credits": 60}
    assert got["per_lead_read"]["calls"] == 12
    assert got["per_1000"]["single"]["credits"] == 5000
    assert got["credits_vs_single"] == ours["credits"] / 120 * 1000 / 5000
