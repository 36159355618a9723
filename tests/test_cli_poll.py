"""`zcrm-notebook poll` as a real process against the simulator: kill, interrupt, resume.

The simulator runs in this process; its clock stands still until the child's first status
request, then runs 60x real time, so how long the child takes to start (long on a loaded
machine) changes nothing. The CLI runs in a child process. The tests wait on the child's
own log lines (one DEBUG line per snapshot), never on a sleep, and assert no durations.
"""

import itertools
import os
import signal
import subprocess
import sys
import threading

import pandas as pd
import pytest

from zcrm_notebook.cli.simulate import run_clock_from_first_poll
from zcrm_notebook.simulator import SimClock, default_scenario
from zcrm_notebook.snapshots.csvfile import read_snapshots
from zcrm_notebook.snapshots.store import read_store

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals")


@pytest.fixture
def live_sim(tmp_path):
    """12 realistic jobs (queued up to 5 simulated minutes) and an unknown id; the clock
    starts at the first poll (the pacer of `zcrm-notebook simulate`)."""
    clock, stopped = SimClock(), threading.Event()
    with default_scenario(n_jobs=12, seed=3, clock=clock, realistic=True) as sim:
        sim.write_config(tmp_path / "sim.toml")
        sim.write_jobs_csv(tmp_path / "jobs.csv")
        pacer = threading.Thread(
            target=run_clock_from_first_poll, args=(sim, clock, 60.0, stopped.wait), daemon=True
        )
        pacer.start()
        yield sim
        stopped.set()
        pacer.join(10)


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


def test_sigint_ends_the_wait_between_polls_and_exits_130_with_the_store_intact(tmp_path, live_sim):
    proc = start_poll(tmp_path, "--min-interval", "120", "--max-interval", "120")
    wait_for_snapshots(proc, 5)  # the first round; then a 120 s wait that only Ctrl-C ends
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc, timeout=60)
    assert code == 130, err[-2000:]
    assert "run the same command again to resume" in err and "s.sqlite" in err
    assert err.count("interrupted") == 1, err[-2000:]  # one line says so, not a log line too
    store = read_store(tmp_path / "s.sqlite")
    assert len(store) >= 5
    pd.testing.assert_frame_equal(read_snapshots(tmp_path / "s.csv"), store)


def test_sigterm_stops_like_ctrl_c_with_exit_143(tmp_path, live_sim):
    proc = start_poll(tmp_path)
    wait_for_snapshots(proc, 5)
    proc.send_signal(signal.SIGTERM)
    code, out, err = finish(proc, timeout=60)
    assert code == 143, err[-2000:]
    store = read_store(tmp_path / "s.sqlite")
    pd.testing.assert_frame_equal(read_snapshots(tmp_path / "s.csv"), store)
    # the same command resumes: the existing --out is written again from the whole store
    code, out, err = finish(start_poll(tmp_path), timeout=120)
    assert code == 0, err[-2000:]
    after = read_store(tmp_path / "s.sqlite")
    assert len(after) > len(store)
    pd.testing.assert_frame_equal(read_snapshots(tmp_path / "s.csv"), after)


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
        # own trial: the same command again (the simulator stopped) replaced the 75 snapshots
        # of s.csv with error rows; an existing --out is refused before any call
        before = (tmp_path / "s.csv").read_bytes()
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert again.returncode == 1 and again.stdout == ""
        assert again.stderr.strip().splitlines() == [
            f"error: --out {str(tmp_path / 's.csv')!r} exists (this run's snapshots would "
            "replace it); choose another name, or pass --overwrite"
        ]
        assert (tmp_path / "s.csv").read_bytes() == before
        replaced = subprocess.run(
            [*cmd, "--overwrite"], capture_output=True, text=True, timeout=120
        )
        assert replaced.returncode == 0, replaced.stderr
        assert read_snapshots(tmp_path / "s.csv")["job_id"].nunique() == 9
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=10)
    assert sim.returncode == 0


def test_simulated_jobs_start_when_first_polled():
    from types import SimpleNamespace

    from zcrm_notebook.cli.simulate import TICK_S

    clock = SimClock()
    start = clock.time()
    stats = SimpleNamespace(status_requests={})
    times = []

    def wait(_seconds):  # one tick; the first status request comes during the third
        times.append(clock.time() - start)
        if len(times) == 3:
            stats.status_requests = {"us-org": 1}
        return len(times) > 8  # then the simulator stops

    real = itertools.count(TICK_S, TICK_S)  # real seconds, one tick apart
    run_clock_from_first_poll(SimpleNamespace(stats=stats), clock, 10.0, wait, lambda: next(real))
    assert times == pytest.approx([0, 0, 0, 0, 0.5, 1.0, 1.5, 2.0, 2.5])  # held, then x10
