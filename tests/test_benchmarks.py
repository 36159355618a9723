"""A tiny smoke run of every benchmark, so they do not rot (numbers are not judged here)."""

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_quick_benchmark_run_writes_the_table(tmp_path, capsys):
    sys.path.insert(0, str(BENCH))
    try:
        import run
    finally:
        sys.path.remove(str(BENCH))
    assert run.main(["--quick", "--out", str(tmp_path)]) == 0
    table = json.loads((tmp_path / "latest.json").read_text())["table"]
    names = {r["benchmark"] for r in table}
    assert names == {"poll round", "economy", "frame", "import", "render", "convert"}
    assert all(r["result"] in ("pass", "MISS", "") for r in table)
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
