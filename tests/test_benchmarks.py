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
    assert {r["benchmark"] for r in table} == {"poll round", "economy", "frame", "import", "render"}
    assert all(r["result"] in ("pass", "MISS", "") for r in table)
    assert (tmp_path / "latest.csv").read_text().startswith("benchmark,metric,value,goal,result")
    assert "measured / ideal wall time" in capsys.readouterr().out
