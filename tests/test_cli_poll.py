"""`zcrm-notebook poll` as a real process against the simulator: kill, interrupt, resume.

The simulator runs in this process on an accelerated clock; the CLI runs in a child
process. The tests wait on the child's own log lines (one DEBUG line per snapshot), never
on a sleep.
"""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from zcrm_notebook.simulator import SimClock, default_scenario
from zcrm_notebook.snapshots.csvfile import read_snapshots
from zcrm_notebook.snapshots.store import read_store

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals")


@pytest.fixture
def live_sim(tmp_path):
    with default_scenario(n_jobs=12, seed=3, clock=SimClock(speed=40.0)) as sim:
        sim.write_config(tmp_path / "sim.toml")
        sim.write_jobs_csv(tmp_path / "jobs.csv")
        yield sim


def start_poll(tmp_path, *extra):
    cmd = [
        sys.executable,
        "-m",
        "zcrm_notebook",
        "-vv",
        "poll",
        str(tmp_path / "jobs.csv"),
        "--config",
        str(tmp_path / "sim.toml"),
        "--out",
        str(tmp_path / "s.csv"),
        "--store",
        str(tmp_path / "s.sqlite"),
        "--no-progress",
        "--min-interval",
        "0.5",
        "--max-interval",
        "1",
        *extra,
    ]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def wait_for_snapshots(proc, n):
    """Read the child's log until it has taken n snapshots; returns the lines read."""
    lines, seen = [], 0
    for line in proc.stderr:
        lines.append(line)
        seen += "zcrm_notebook.poll.poller: snapshot" in line
        if seen >= n:
            return lines
    text = "".join(lines)
    raise AssertionError(f"poll ended before taking {n} snapshots:\n{text}")


def finish(proc, timeout):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_sigkill_then_resume_keeps_every_snapshot(tmp_path, live_sim):
    proc = start_poll(tmp_path)
    wait_for_snapshots(proc, 15)
    proc.kill()
    proc.wait(timeout=10)
    before = read_store(tmp_path / "s.sqlite")
    assert len(before) >= 15

    code, out, err = finish(start_poll(tmp_path), timeout=120)
    assert code == 0, err[-2000:]
    after = read_store(tmp_path / "s.sqlite")
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    assert not after.duplicated().any()
    final = after.groupby("job_id")["status"].last().astype(str)
    assert final.drop(live_sim.unknown_job_id).isin(["completed", "failed"]).all()
    assert final[live_sim.unknown_job_id] == "error"
    pd.testing.assert_frame_equal(read_snapshots(tmp_path / "s.csv"), after)


def test_sigint_exits_130_quickly_with_the_store_intact(tmp_path, live_sim):
    proc = start_poll(tmp_path)
    wait_for_snapshots(proc, 5)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    code, out, err = finish(proc, timeout=10)
    elapsed = time.monotonic() - sent
    assert code == 130, err[-2000:]
    assert elapsed < 2.0
    assert "run the same command again to resume" in err and "s.sqlite" in err
    store = read_store(tmp_path / "s.sqlite")
    assert len(store) >= 5
    pd.testing.assert_frame_equal(read_snapshots(tmp_path / "s.csv"), store)


def test_sigterm_stops_like_ctrl_c_with_exit_143(tmp_path, live_sim):
    proc = start_poll(tmp_path)
    wait_for_snapshots(proc, 5)
    proc.send_signal(signal.SIGTERM)
    code, out, err = finish(proc, timeout=10)
    assert code == 143, err[-2000:]
    store = read_store(tmp_path / "s.sqlite")
    pd.testing.assert_frame_equal(read_snapshots(tmp_path / "s.csv"), store)


def test_simulate_then_poll_in_two_processes(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zcrm_notebook",
            "simulate",
            "--write-config",
            str(tmp_path / "sim.toml"),
            "--speed",
            "60",
            "--jobs",
            "8",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for line in sim.stdout:
            if line.startswith("Ctrl-C"):
                break
        cmd = [
            sys.executable,
            "-m",
            "zcrm_notebook",
            "poll",
            str(tmp_path / "jobs.csv"),
            "--config",
            str(tmp_path / "sim.toml"),
            "--out",
            str(tmp_path / "s.csv"),
            "--no-progress",
            "--min-interval",
            "0.5",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        df = read_snapshots(tmp_path / "s.csv")
        assert df["job_id"].nunique() == 9
        leads = (tmp_path / "leads.csv").read_text().splitlines()
        assert leads[0] == "lead_id,org" and len(leads) == 1 + 4 * 60
        assert "completed" in done.stdout
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=10)
    assert sim.returncode == 0
