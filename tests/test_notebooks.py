"""The notebooks in notebooks/ run top to bottom in a real kernel against the simulator.

nbclient starts the venv's ``python3`` kernel (ipykernel); a cell error fails the test. As
papermill does, a cell inserted after the cell tagged ``parameters`` speeds the simulator
up and points the outputs at a temporary folder. Each run is bounded by nbclient timeouts.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT_S = 90


def with_parameters(name: str, **params) -> nbformat.NotebookNode:
    """The notebook with a cell setting ``params`` inserted after its parameters cell."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(at + 1, cell)
    return nb


def kernel_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment without Zoho credentials, a user token store or a forced
    matplotlib backend (the kernel uses its inline backend)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ZOHO_", "ZCRM_NOTEBOOK_")) and k != "MPLBACKEND"}  # fmt: skip
    return {**env, "ZCRM_NOTEBOOK_TOKEN_STORE": str(tmp_path / "tokens.json"), **extra}


def execute(nb: nbformat.NotebookNode, cwd: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, startup_timeout=60,
        resources={"metadata": {"path": str(cwd)}},
    )  # fmt: skip
    client.execute(env=env)
    return nb


def text_of(nb: nbformat.NotebookNode) -> str:
    """Every stream and text/plain output of the executed notebook."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_quickstart(tmp_path):
    nb = with_parameters("01-quickstart.ipynb", SPEED=240.0, OUT_DIR=str(tmp_path / "out"))
    out = text_of(execute(nb, tmp_path, kernel_env(tmp_path)))
    assert "snapshots of 37 jobs" in out
    report = tmp_path / "out" / "report"
    assert (tmp_path / "out" / "snapshots.csv").stat().st_size > 0
    assert {"overview.png", "jobs.csv", "README.md"} <= {p.name for p in report.iterdir()}
    assert "Traceback" not in out


def test_live_dashboard(tmp_path):
    nb = with_parameters("02-live-dashboard.ipynb", SPEED=120.0, OUT_DIR=str(tmp_path / "out"))
    out = text_of(execute(nb, tmp_path, kernel_env(tmp_path)))
    assert "ended: finished" in out
    assert (tmp_path / "out" / "report" / "overview.png").is_file()
    widgets = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    progress = [w["state"] for w in widgets.values() if w["model_name"] == "FloatProgressModel"]
    assert progress and any(p["value"] == 1.0 for p in progress)


def test_your_org_without_credentials_stops_at_a_clear_message(tmp_path):
    nb = with_parameters("03-your-zoho-org.ipynb")
    out = text_of(execute(nb, tmp_path, kernel_env(tmp_path)))
    assert "no usable Zoho credentials" in out and "ZOHO_CLIENT_ID" in out
    assert "zcrm-notebook auth" in out
    assert "Not ready" in out and out.count("skipped") >= 3
    assert "Traceback" not in out and not any(
        o.output_type == "error" for c in nb.cells for o in c.get("outputs", [])
    )


def test_your_org_with_a_config_file_runs_to_the_end(tmp_path):
    from zcrm_notebook.simulator import SimClock, default_scenario

    with default_scenario(n_jobs=8, clock=SimClock(speed=90.0)) as sim:
        sim.write_config(tmp_path / "orgs.toml")
        sim.write_jobs_csv(tmp_path / "jobs.csv")
        nb = with_parameters("03-your-zoho-org.ipynb", MIN_INTERVAL_S=0.5, MAX_INTERVAL_S=1.0)
        env = kernel_env(tmp_path, ZCRM_NOTEBOOK_CONFIG=str(tmp_path / "orgs.toml"))
        out = text_of(execute(nb, tmp_path, env))
    assert f"4 org(s) from {tmp_path / 'orgs.toml'}" in out and "ended: finished" in out
    assert (tmp_path / "zcrm-run.sqlite").is_file()
    assert (tmp_path / "zcrm-report" / "snapshots.csv").is_file()
    secrets = [o.client_secret for o in sim.orgs] + [o.refresh_token for o in sim.orgs]
    saved = json.dumps(nb)
    assert not any(s in saved for s in secrets)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs_and_match_the_generator(path):
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import make_notebooks
    finally:
        sys.path.remove(str(NOTEBOOKS))
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert nb == make_notebooks.build(path.name, make_notebooks.NOTEBOOKS[path.name]), (
        "run python notebooks/make_notebooks.py"
    )
