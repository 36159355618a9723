"""The notebooks in notebooks/ run top to bottom in a real kernel against the simulator.

Each test runs a copy: the notebook as git would commit it (the index; the file outside a
git checkout), outputs stripped, written into the test's temporary folder and executed
there, so outputs JupyterLab saved into notebooks/ change nothing. nbclient starts the
venv's ``python3`` kernel (ipykernel); a cell error fails the test. As papermill does, a
cell inserted after the cell tagged ``parameters`` speeds the simulator up and points the
outputs at the temporary folder. Each run is bounded by nbclient timeouts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbstripout import strip_output

nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT_S = 90


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def committed(name: str) -> nbformat.NotebookNode:
    """The notebook as git would commit it (its index version), else the file."""
    shown = git("show", f":notebooks/{name}")
    text = shown.stdout if shown.returncode == 0 else (NOTEBOOKS / name).read_text()
    return nbformat.reads(text, as_version=4)


def with_parameters(name: str, *, then: str = "", **params) -> nbformat.NotebookNode:
    """A clean copy of the notebook with a cell setting ``params`` inserted after its
    parameters cell, and a cell ``then`` appended at the end (if given)."""
    nb = strip_output(
        committed(name),
        keep_output=False,
        keep_count=False,
        keep_id=True,
        extra_keys=["metadata.widgets"],  # widget state JupyterLab saved
    )
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(at + 1, cell)
    if then:
        nb.cells.append(nbformat.v4.new_code_cell(then))
    return nb


def parameters_of(name: str) -> dict:
    """The values the notebook's parameters cell sets (as a reader runs it)."""
    nb = committed(name)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    values: dict = {}
    exec(cell.source, {}, values)
    return values


def kernel_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment without Zoho credentials, a user token store or a forced
    matplotlib backend (the kernel uses its inline backend)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ZOHO_", "ZCRM_NOTEBOOK_")) and k != "MPLBACKEND"
    }
    return {**env, "ZCRM_NOTEBOOK_TOKEN_STORE": str(tmp_path / "tokens.json"), **extra}


def execute(nb: nbformat.NotebookNode, cwd: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    """Write ``nb`` into ``cwd`` (a temporary folder), run it there, save what it showed."""
    path = cwd / "executed.ipynb"
    nbformat.write(nb, path)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        startup_timeout=60,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute(env=env)
    finally:
        nbformat.write(nb, path)
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
    ran = execute(nb, tmp_path, kernel_env(tmp_path))
    out = text_of(ran)
    assert "snapshots of 37 job ids; 1 of them got no status:" in out
    # the unknown job id is named where results are read, as the dashboard labels it
    assert re.search(r"no status \(INVALID_DATA\) for job \d{19} of \S+: Zoho does not", out)
    tables = [
        o.get("data", {}).get("text/html", "") for c in ran.cells for o in c.get("outputs", [])
    ]
    assert any("no status (INVALID_DATA)" in t for t in tables)  # the style_jobs table
    report = tmp_path / "out" / "report"
    assert (tmp_path / "out" / "snapshots.csv").stat().st_size > 0
    assert {"overview.png", "jobs.csv", "README.md"} <= {p.name for p in report.iterdir()}
    assert "Traceback" not in out


def widget_states(nb: nbformat.NotebookNode) -> list[dict]:
    widgets = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return [{"model_name": w["model_name"], **w["state"]} for w in widgets.values()]


def test_live_dashboard(tmp_path):
    nb = with_parameters("02-live-dashboard.ipynb", OUT_DIR=str(tmp_path / "out"))  # ~1 min
    out = text_of(execute(nb, tmp_path, kernel_env(tmp_path)))
    assert "ended: finished" in out and "Traceback" not in out
    assert (tmp_path / "out" / "report" / "overview.png").is_file()
    assert len(list((tmp_path / "out").glob("run-*.sqlite"))) == 1  # store= journals the run
    states = widget_states(nb)
    progress = [w for w in states if w["model_name"] == "FloatProgressModel"]
    assert progress and any(p["value"] == 1.0 for p in progress)
    html = [w.get("value", "") for w in states if w["model_name"] == "HTMLModel"]
    assert any("browsing a past run" in h and "Europe/Paris" in h for h in html)  # from_store


def test_live_dashboard_jobs_start_when_start_is_pressed(tmp_path):
    check = """\
assert clock.time() == sim.started_at and not dash.running  # no simulated time has passed
dash.start()  # what the Start button does
assert await dash.wait_async(timeout=60)
first = dash.snapshots.sort_values("polled_at").groupby("job_id").first()
print("first answers:", first["status"].astype(str).value_counts().to_dict())
assert not first["status"].isin(["completed", "failed"]).any()
print("ended:", dash.handle.stopped_reason)"""
    nb = with_parameters(
        "02-live-dashboard.ipynb",
        then=check,
        SPEED=2000.0,
        RUN_TO_END=False,
        OUT_DIR=str(tmp_path / "out"),
    )
    out = text_of(execute(nb, tmp_path, kernel_env(tmp_path)))
    assert "first answers:" in out and "ended: finished" in out
    assert "Nothing polled yet: press Start" in out  # the cell before Start says what to do


@pytest.mark.parametrize(
    "name, real_s", [("01-quickstart.ipynb", (15, 60)), ("02-live-dashboard.ipynb", (30, 60))]
)
def test_the_demo_runs_long_enough_to_watch(name, real_s):
    from zcrm_notebook.simulator.scenario import build_default_scenario

    params = parameters_of(name)
    realistic = name.startswith("02")
    _, jobs, _ = build_default_scenario(n_jobs=params["N_JOBS"], realistic=realistic)
    last_s = max(replace(job, created_at=0.0).finish_at() for job in jobs)  # simulated
    assert real_s[0] <= last_s / params["SPEED"] <= real_s[1]


def no_errors(nb: nbformat.NotebookNode, out: str) -> bool:
    return "Traceback" not in out and not any(
        o.output_type == "error" for c in nb.cells for o in c.get("outputs", [])
    )


def test_your_org_without_credentials_stops_at_a_clear_message(tmp_path):
    nb = with_parameters("03-your-zoho-org.ipynb")
    out = text_of(execute(nb, tmp_path, kernel_env(tmp_path)))
    assert "no usable Zoho credentials" in out and "ZOHO_CLIENT_ID" in out
    assert "zcrm-notebook auth" in out and 'CONFIG = "path/to/orgs.toml"' in out
    assert "--config" not in out  # command-line advice does not apply in a notebook
    assert "Not ready" in out and out.count("skipped") >= 3
    assert no_errors(nb, out)


def test_your_org_with_bad_job_ids_stops_at_the_check(tmp_path):
    (tmp_path / "orgs.toml").write_text(
        '[orgs.acme]\ndc = "us"\nclient_id = "1000.X"\nclient_secret = "yyyyyy"\n'
        'refresh_token = "zzzzzz"\n'
    )
    (tmp_path / "jobs.csv").write_text("job_id,org\n12.5,acme\n3652397000009835020,other\n")
    nb = with_parameters("03-your-zoho-org.ipynb")
    env = kernel_env(tmp_path, ZCRM_NOTEBOOK_CONFIG=str(tmp_path / "orgs.toml"))
    out = text_of(execute(nb, tmp_path, env))
    assert "has bad rows" in out and "line 2: '12.5'" in out and "unknown org 'other'" in out
    assert "Not ready" in out and out.count("skipped") >= 3
    assert "credentials" not in out.split("Not ready")[1]  # the orgs were fine
    assert no_errors(nb, out) and not (tmp_path / "zcrm-run.sqlite").exists()


def test_your_org_with_a_config_file_runs_to_the_end(tmp_path):
    from zcrm_notebook.simulator import SimClock, default_scenario

    with default_scenario(n_jobs=8, clock=SimClock(speed=90.0)) as sim:
        sim.write_config(tmp_path / "orgs.toml")
        sim.write_jobs_csv(tmp_path / "jobs.csv")
        nb = with_parameters("03-your-zoho-org.ipynb", MIN_INTERVAL_S=0.5, MAX_DELAY_S=1.0)
        env = kernel_env(tmp_path, ZCRM_NOTEBOOK_CONFIG=str(tmp_path / "orgs.toml"))
        out = text_of(execute(nb, tmp_path, env))
    assert f"4 org(s) from {tmp_path / 'orgs.toml'}" in out and "ended: finished" in out
    assert (tmp_path / "zcrm-run.sqlite").is_file()
    assert (tmp_path / "zcrm-report" / "snapshots.csv").is_file()
    secrets = [o.client_secret for o in sim.orgs] + [o.refresh_token for o in sim.orgs]
    saved = json.dumps(nb)
    assert not any(s in saved for s in secrets)


def test_convert_leads_accounts_for_every_lead_and_retries_the_rest(tmp_path):
    check = """\
inp = pd.read_csv(out / "leads.csv", dtype=str)
first = sorted(zip(result.leads["org"], result.leads["lead_id"]))
assert first == sorted(zip(inp["org"], inp["lead_id"])), "every input lead exactly once"
assert (check["leads read back converted"] == check["last Converted_Count"]).all()
assert plan.frame()["leads"].max() <= 50 and result.leads.groupby("job_id").size().max() <= 50
retried = again.leads[again.leads["attempt"] == 2]
assert len(retried) and (retried["outcome"] == "converted").any()
print("outcomes:", result.leads["outcome"].astype(str).value_counts().to_dict())
print("retried:", len(retried), "converted:", int((retried["outcome"] == "converted").sum()))"""
    nb = with_parameters(
        "04-convert-leads.ipynb", then=check, SPEED=2000.0, OUT_DIR=str(tmp_path / "out")
    )
    out = text_of(execute(nb, tmp_path, kernel_env(tmp_path)))
    assert "outcomes:" in out and "retried:" in out and no_errors(nb, out)
    report = tmp_path / "out" / "report"
    assert {"leads.csv", "lead_outcomes.png"} <= {p.name for p in report.iterdir()}
    jobs = pd.read_csv(report / "jobs.csv", dtype=str)
    leads = pd.read_csv(report / "leads.csv", dtype=str)
    assert set(jobs["job_id"]) == set(leads["job_id"].dropna())  # the retry jobs too
    assert (leads["attempt"] == "2").any()


NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_have_no_outputs_and_match_the_generator(name):
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import make_notebooks
    finally:
        sys.path.remove(str(NOTEBOOKS))
    nb = committed(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata
    assert nb == make_notebooks.build(name, make_notebooks.NOTEBOOKS[name]), (
        "run python notebooks/make_notebooks.py, then git add notebooks"
    )


@pytest.mark.parametrize("name", NAMES)
def test_what_a_notebook_writes_where_it_runs_is_not_committed(name):
    if git("rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip("not a git checkout")
    params = parameters_of(name)
    written = [f"notebooks/{params['OUT_DIR']}/report/jobs.csv", "notebooks/.ipynb_checkpoints/x"]
    written += [f"notebooks/{params['STORE']}"] if "STORE" in params else []
    ignored = git("check-ignore", "--no-index", *written).stdout.split()
    assert ignored == written
    assert git("check-attr", "filter", f"notebooks/{name}").stdout.strip().endswith("nbstripout")


def test_a_copy_never_carries_the_outputs_jupyterlab_saved(tmp_path, monkeypatch):
    nb = committed("01-quickstart.ipynb")
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="saved by JupyterLab\n")]
    code.execution_count = 7
    nb.metadata["widgets"] = {"state": {}}
    monkeypatch.setattr(sys.modules[__name__], "committed", lambda name: nb)
    copy = with_parameters("01-quickstart.ipynb", SPEED=1.0)
    assert not any(c.get("outputs") or c.get("execution_count") for c in copy.cells)
    assert "widgets" not in copy.metadata


@pytest.mark.parametrize("name", NAMES)
def test_the_nbstripout_filter_leaves_a_committed_notebook_unchanged(name, tmp_path):
    # What git runs as the clean filter after `nbstripout --install` (its default options):
    # a fresh clone with the filter on shows no notebook as modified.
    shown = subprocess.run(
        ["git", "-C", str(ROOT), "show", f":notebooks/{name}"], capture_output=True
    )
    data = shown.stdout if shown.returncode == 0 else (NOTEBOOKS / name).read_bytes()
    filtered = subprocess.run(
        [sys.executable, "-m", "nbstripout"], input=data, capture_output=True, cwd=tmp_path
    )
    assert filtered.returncode == 0, filtered.stderr
    assert filtered.stdout == data, "cell ids must be what nbstripout gives: run make_notebooks.py"


def test_live_dashboard_stopped_before_the_end_says_the_cells_below_show_a_partial_run(
    tmp_path,
):
    """A Stop during Run All (here: the wait cell's poll is stopped as it starts waiting):
    the cell says that the run is not over, and how to go on."""
    nb = with_parameters("02-live-dashboard.ipynb", OUT_DIR=str(tmp_path / "out"))  # ~1 min
    stop_at_wait = """\
from zcrm_notebook.dashboard import core as _core
_wait = _core.DashboardCore.wait_async
async def _stopped_wait(self, timeout=None):
    self.stop()
    return await _wait(self, timeout)
_core.DashboardCore.wait_async = _stopped_wait"""
    nb.cells.insert(0, nbformat.v4.new_code_cell(stop_at_wait))
    out = text_of(execute(nb, tmp_path, kernel_env(tmp_path)))
    assert "ended: stopped" in out and "Not every job is final" in out and no_errors(nb, out)
    # what the cells below show is marked partial where it is read: the summary, the
    # report's README and the browsing dashboard's status line
    partial = re.search(r"Partial run: (\d+ jobs? not final when the run ended)", out)
    assert partial, out
    readme = (tmp_path / "out" / "report" / "README.md").read_text(encoding="utf-8")
    assert f"Partial run: {partial[1]}." in readme
    html = [w.get("value", "") for w in widget_states(nb) if w["model_name"] == "HTMLModel"]
    texts = [re.sub(r"<[^>]+>", "", h) for h in html]  # the status line's phrases are spans
    assert any("browsing a past run · " + partial[1] in t for t in texts)


def test_live_dashboard_says_when_a_click_during_run_all_is_acted_on():
    """Trial 7: during Run All, clicks waited for the running cells with no word about it."""
    nb = committed("02-live-dashboard.ipynb")
    cells = [c for c in nb.cells if c.cell_type == "code" or c.cell_type == "markdown"]
    dashboard = next(i for i, c in enumerate(cells) if "dash = Dashboard(" in c.source)
    before = " ".join(c.source for c in cells[:dashboard] if c.cell_type == "markdown")
    assert "Run All" in before and "when that cell ends" in " ".join(before.split())
