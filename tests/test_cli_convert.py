"""`zcrm-notebook convert` as a real process against the simulator: the acceptance run of
issue 12 (simulate --write-config, convert, convert again), a kill -9 between a POST and its
answer, bad input refused before any POST.

The simulator runs on an accelerated clock (in a child process, or in this process when
the test reads its truth); the CLI in a child process with real short poll intervals. The
tests wait on the child or on the simulator's events (bounded), never on a sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from zcrm_notebook.convert import Ledger, read_lead_outcomes
from zcrm_notebook.convert.reconcile import LOST_JOB
from zcrm_notebook.simulator import Faults, SimClock, default_scenario
from zcrm_notebook.snapshots.csvfile import read_snapshots
from zcrm_notebook.snapshots.store import SnapshotStore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals, kill -9")
FAST = ["--no-progress", "--min-interval", "0.3", "--max-interval", "1", "--timeout", "5"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def cli(*args, timeout=120, **kw):
    cmd = [sys.executable, "-m", "zcrm_notebook", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV, **kw)


def chunks_of(store):
    with SnapshotStore(store) as s:
        return Ledger(s).frame()


def test_acceptance_simulate_then_convert_then_convert_again(tmp_path):
    """Issue 12's acceptance, as written: two processes and the files they leave."""
    sim = subprocess.Popen(
        [sys.executable, "-m", "zcrm_notebook", "simulate", "--write-config", "sim.toml",
         "--speed", "60", "--jobs", "4"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        for line in sim.stdout:  # the simulator says it serves, then waits for Ctrl-C
            if line.startswith("Ctrl-C"):
                break
        args = ["convert", "leads.csv", "--config", "sim.toml", "--store", "run.sqlite"]
        first = cli(*args, "--out", "out", *FAST, cwd=tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        ledger = chunks_of(tmp_path / "run.sqlite")
        again = cli(*args, "--out", "out", *FAST, cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=10)

    given = pd.read_csv(tmp_path / "leads.csv", dtype=str)
    leads = read_lead_outcomes(tmp_path / "out" / "leads.csv")
    assert sorted(leads["lead_id"]) == sorted(given["lead_id"])  # every lead exactly once
    assert leads["lead_id"].is_unique and len(leads) == 240
    assert ledger["leads"].max() <= 50 and ledger["job_id"].notna().all()
    converted = leads[leads["outcome"] == "converted"]
    assert len(converted) == 216 and converted["contact_id"].notna().all()
    assert converted["account_id"].notna().sum() == 216 - 4 * 6  # no company, no account
    assert converted["deal_id"].isna().all()  # no deal asked, none made
    snaps = read_snapshots(tmp_path / "out" / "snapshots.csv")
    last = snaps.groupby("job_id")["converted_count"].last()
    per_job = converted.groupby("job_id").size()
    assert per_job.to_dict() == last.loc[per_job.index].to_dict()
    assert set(leads.loc[leads["outcome"] != "converted", "outcome"]) == {"not_converted"}

    assert chunks_of(tmp_path / "run.sqlite").equals(ledger)  # the rerun scheduled no job
    assert "calls: 0 (none)" in again.stdout
    pd.testing.assert_frame_equal(read_lead_outcomes(tmp_path / "out" / "leads.csv"), leads)
    assert (tmp_path / "out" / "report" / "lead_outcomes.png").stat().st_size > 1000


@pytest.fixture
def live_sim(tmp_path):
    faults = Faults(post_script=["post_hang_after_create"])
    sim = default_scenario(  # one org, two chunks of 40: the first goes alone (and hangs)
        n_jobs=1,
        n_leads=80,
        dcs=("us",),
        clock=SimClock(speed=50.0),
        faults=faults,
        post_timing=(1.0, 10.0),
    )
    with sim:
        sim.write_config(tmp_path / "sim.toml")
        sim.write_leads_csv(tmp_path / "leads.csv")
        yield sim


def test_kill_9_between_the_post_and_its_commit_then_rerun(tmp_path, live_sim):
    sim = live_sim
    args = ["convert", "leads.csv", "--config", "sim.toml", "--store", "run.sqlite"]
    args += ["--out", "out", "--settle", "2", *FAST]
    first = subprocess.Popen(
        [sys.executable, "-m", "zcrm_notebook", *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        assert sim.post_held.wait(60), "the CLI never sent its first POST"
        first.kill()  # kill -9: no handler runs, no answer recorded
    finally:
        first.wait(timeout=30)
        sim.release_held_posts()
    assert first.returncode == -signal.SIGKILL
    (lost,) = [c for c in chunks_of(tmp_path / "run.sqlite").itertuples() if c.state == "sending"]
    held = next(j for j in sim.jobs.values() if j.lead_ids)  # Zoho made that job

    again = cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    leads = read_lead_outcomes(tmp_path / "out" / "leads.csv")
    assert sorted(leads["lead_id"]) == sorted(sim.lead_ids()) and leads["lead_id"].is_unique
    assert not sim.reprocessed_leads()  # no lead reached by a job after its conversion
    for lead in sim.lead_ids():  # every lead accounted for, as the simulator knows it
        truth, row = sim.lead_state(lead), leads.set_index("lead_id").loc[lead]
        assert (row["outcome"] == "converted") == truth["converted"]
    mine = leads[leads["lead_id"].isin(held.lead_ids)]
    assert (mine.query("outcome == 'converted'")["reason"] == LOST_JOB).all()
    ledger = chunks_of(tmp_path / "run.sqlite").set_index("chunk_id")
    assert ledger.loc[lost.chunk_id, ["state", "error_code"]].tolist() == ["unknown", "INTERRUPTED"]
    resent = [c for c in ledger.itertuples() if c.attempt == 2]
    assert all(c.leads <= sum(1 for i in held.lead_ids if sim.leads[i].problem) for c in resent)


@pytest.fixture
def quiet_sim(tmp_path):
    with default_scenario(n_jobs=1, n_leads=20, dcs=("us",), clock=SimClock(speed=50.0)) as sim:
        sim.write_config(tmp_path / "sim.toml")
        sim.write_leads_csv(tmp_path / "leads.csv")
        yield sim


def test_a_rerun_without_a_store_says_its_leads_were_converted_already(tmp_path, quiet_sim):
    """Fifth trial: the same command twice without --store. The second run sends every lead
    again (its start says it would); the leads the first run converted are
    already_converted, not converted by the new jobs, and the end of the run says so."""
    args = ["convert", "leads.csv", "--config", "sim.toml", *FAST]
    first = cli(*args, "--out", "one", cwd=tmp_path, timeout=60)
    assert first.returncode == 0, first.stderr[-3000:]
    posts = quiet_sim.stats.schedule_requests.total()
    again = cli(*args, "--out", "two", cwd=tmp_path, timeout=60)
    assert again.returncode == 0, again.stderr[-3000:]
    assert quiet_sim.stats.schedule_requests.total() > posts  # sent again
    assert "running this again sends every lead again" in again.stderr  # the start note
    one = read_lead_outcomes(tmp_path / "one" / "leads.csv").set_index("lead_id")
    two = read_lead_outcomes(tmp_path / "two" / "leads.csv").set_index("lead_id")
    done = one.index[one["outcome"] == "converted"]
    n = len(done)
    assert n and set(two.loc[done, "outcome"]) == {"already_converted"}
    assert not (two["outcome"] == "converted").any()  # the new jobs converted nothing
    assert f"20 leads: {n} already converted, {20 - n} not converted" in again.stdout
    assert f"note: {n} of these leads were converted already, before this run" in again.stderr
    assert "Converted_Count" not in again.stderr  # no count mismatch: the counts agree


@pytest.mark.parametrize(
    "rows, extra, said",
    [
        ("lead_id,org\n3652397000009851001,us-org\n3.6e18,us-org\n", [], "line 3: '3.6e18'"),
        (
            "lead_id,org\n3652397000009851001,mars\n",
            [],
            "line 2: '3652397000009851001': unknown org",
        ),
        (
            None,
            ["--max-credits", "5"],
            "exceed max_credits 5; convert fewer leads at a time or raise the limit "
            "(command line: --max-credits)",
        ),
        (None, ["--closing-date", "31/03"], "a deal needs Deal_Name, Stage, Closing_Date"),
    ],
)
def test_bad_input_is_refused_before_any_post(tmp_path, quiet_sim, rows, extra, said):
    if rows is not None:
        (tmp_path / "leads.csv").write_text(rows)
    done = cli("convert", "leads.csv", "--config", "sim.toml", "--out", "out", *extra, *FAST,
               cwd=tmp_path, timeout=60)  # fmt: skip
    assert done.returncode == 1 and said in done.stderr, done.stderr
    assert done.stderr.count("\n") <= 4  # one message (naming the rows)
    assert quiet_sim.stats.schedule_requests.total() == 0


def test_a_lead_in_an_open_job_is_refused_and_the_dry_run_sends_nothing(tmp_path, quiet_sim):
    base = ["convert", "leads.csv", "--config", "sim.toml", "--store", "run.sqlite"]
    done = cli(*base, "--out", "out", "--deadline", "0.2", *FAST, cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and "deadline" in done.stderr, done.stderr
    posts = quiet_sim.stats.schedule_requests.total()
    some = pd.read_csv(tmp_path / "leads.csv", dtype=str).iloc[[4, 2]]
    some.to_csv(tmp_path / "some.csv", index=False)
    other = ["convert", "some.csv", "--config", "sim.toml", "--store", "run.sqlite"]
    done = cli(*other, "--out", "o2", *FAST, cwd=tmp_path, timeout=60)
    assert done.returncode == 1 and "2 bad rows" in done.stderr and "in an open job" in done.stderr
    dry = cli(*other, "--out", "o2", "--dry-run", "--force", cwd=tmp_path, timeout=60)
    assert dry.returncode == 0 and "2 leads -> 1 mass-convert job of 2 leads" in dry.stdout
    assert "nothing was sent" in dry.stdout
    assert quiet_sim.stats.schedule_requests.total() == posts


@pytest.mark.parametrize("case", ["unknown", "not_scheduled"])
def test_a_run_where_no_job_answered_exits_1(tmp_path, case):
    faults = Faults(post_script=["500"] * 5) if case == "unknown" else None
    clock = SimClock(speed=50.0)
    with default_scenario(n_jobs=1, n_leads=5, dcs=("us",), clock=clock, faults=faults) as sim:
        sim.write_config(tmp_path / "sim.toml")
        sim.write_leads_csv(tmp_path / "leads.csv")
        if case == "not_scheduled":  # ids Zoho does not have: the POST is refused
            (tmp_path / "leads.csv").write_text("lead_id,org\n1,us-org\n2,us-org\n")
        done = cli("convert", "leads.csv", "--config", "sim.toml", "--store", "run.sqlite",
                   "--out", "out", "--deadline", "3", *FAST, cwd=tmp_path, timeout=60)  # fmt: skip
    leads = read_lead_outcomes(tmp_path / "out" / "leads.csv")  # written all the same
    assert set(leads["outcome"]) == {case}
    assert done.returncode == 1 and "no job answered" in done.stderr, done.stderr[-2000:]


def test_a_count_mismatch_is_said_once(tmp_path, quiet_sim, monkeypatch, capsys, caplog):
    from dataclasses import replace

    from zcrm_notebook.cli.entry import main
    from zcrm_notebook.convert import watch

    real = watch.last_snapshots
    lying = lambda snaps: {j: replace(s, converted_count=0) for j, s in real(snaps).items()}  # noqa: E731
    monkeypatch.setattr(watch, "last_snapshots", lying)  # every job says Converted_Count 0
    monkeypatch.chdir(tmp_path)
    code = main(["convert", "leads.csv", "--config", "sim.toml", "--out", "out", *FAST])
    err = capsys.readouterr().err
    assert code == 0 and err.count("last Converted_Count is 0") == 1, err
    assert "warning: job " in err and "note: job " not in err
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "Converted" in r.msg]


def test_a_folder_given_as_store_gets_a_sqlite_name_suggested(tmp_path, quiet_sim):
    (tmp_path / "somefolder").mkdir()
    done = cli("convert", "leads.csv", "--config", "sim.toml", "--store", "somefolder",
               "--out", "out", "--dry-run", cwd=tmp_path, timeout=60)  # fmt: skip
    assert done.returncode == 1 and "e.g. somefolder/run.sqlite" in done.stderr, done.stderr


def test_a_dry_run_or_a_refused_plan_makes_no_file(tmp_path, quiet_sim):
    base = ["convert", "leads.csv", "--config", "sim.toml", "--store", "new.sqlite"]
    # --out one folder deep: a missing tree (out/dry) is refused before anything else now
    dry = cli(*base, "--out", "dry", "--dry-run", cwd=tmp_path, timeout=60)
    assert dry.returncode == 0 and "nothing was sent" in dry.stdout, dry.stderr
    refused = cli(*base, "--out", "big", "--max-credits", "1", cwd=tmp_path, timeout=60)
    assert refused.returncode == 1 and "max_credits 1" in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv", "sim.toml"]


def test_diagnose_and_retry_options(tmp_path, quiet_sim):
    deal = ["--deal-name", "Renewal", "--deal-stage", "Qualification", "--closing-date",
            "2026-03-31"]  # fmt: skip
    done = cli("convert", "leads.csv", "--config", "sim.toml", "--store", "run.sqlite",
               "--out", "out", *deal, "--diagnose", "5", "--retry-not-converted", *FAST,
               cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    leads = read_lead_outcomes(tmp_path / "out" / "leads.csv")
    assert (leads.query("outcome == 'converted'")["deal_id"].notna()).all()
    assert set(leads.query("outcome == 'not_converted'")["attempt"]) == {2}  # retried once
    assert "not converted" in done.stdout and "not_converted" not in done.stdout  # words
    assert leads["error_code"].notna().sum() == 1  # 5 credits: one single convert
    assert quiet_sim.stats.convert_requests.total() == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert "convert" in cli("convert", "--help").stdout


def test_retry_rounds_and_the_diagnosis_are_said_and_a_rerun_says_it_resumes(
    tmp_path, quiet_sim, monkeypatch, capsys
):
    from zcrm_notebook.cli.entry import main
    from zcrm_notebook.convert.diagnose import DIAGNOSED

    monkeypatch.chdir(tmp_path)
    base = ["convert", "leads.csv", "--config", "sim.toml", "--store", "run.sqlite", *FAST]
    code = main([*base, "--out", "out", "--retry-not-converted", "--diagnose", "20"])
    out = capsys.readouterr().out
    assert code == 0, out
    leads = read_lead_outcomes(tmp_path / "out" / "leads.csv")
    again = leads[leads["attempt"] == 2]
    by_round = again[(again["outcome"] == "converted") & (again["reason"] != DIAGNOSED)]
    assert len(again) > 0
    assert (
        f"retry round 1: {len(again)} leads sent again, {len(by_round)} converted, "
        f"{len(again) - len(by_round)} not converted\n" in out
    ), out
    asked = quiet_sim.stats.convert_requests.total()
    codes = sorted(leads["error_code"].value_counts().items(), key=lambda cn: (-cn[1], cn[0]))
    said = ", ".join(f"{n} {c}" for c, n in codes)
    assert asked == len(again) and f"diagnosis: asked Zoho about {asked} leads " in out, out
    assert f"({asked * 5} credits): {said}" in out, out

    assert main([*base, "--out", "out"]) == 0  # the same command: resumed, nothing sent
    rerun = capsys.readouterr()
    assert "calls: 0 (none)" in rerun.out and "retry round" not in rerun.out
    said = "note: the store has this input already (batch 1): resumed, its jobs are not sent"
    assert said in rerun.err, rerun.err  # not "nothing is sent": a retry round may send
    some = pd.read_csv(tmp_path / "leads.csv", dtype=str)
    some[~some["lead_id"].isin(again["lead_id"])].iloc[:3].to_csv("some.csv", index=False)
    assert main(["convert", "some.csv", *base[2:], "--out", "o2"]) == 0
    assert "note: left out: 3 converted already: their" in capsys.readouterr().err


def test_a_retry_on_a_resumed_input_says_what_it_sent_and_a_rerun_its_earlier_round(
    tmp_path, quiet_sim, monkeypatch, capsys
):
    """Trial 5: a retry asked for on an input the store holds sends the leads not converted
    once more; the resumed note says so (not "its jobs are not sent again"), and the same
    command again (nothing sent) still reports that round, made by an earlier run."""
    from zcrm_notebook.cli.entry import main

    monkeypatch.chdir(tmp_path)
    base = ["convert", "leads.csv", "--config", "sim.toml", "--store", "run.sqlite", *FAST]
    assert main([*base, "--out", "out"]) == 0
    capsys.readouterr()
    assert main([*base, "--out", "out", "--retry-not-converted"]) == 0
    run = capsys.readouterr()
    sent = read_lead_outcomes(tmp_path / "out" / "leads.csv").query("attempt == 2")
    jobs = chunks_of(tmp_path / "run.sqlite").query("attempt == 2")
    assert len(sent) and len(jobs)
    said = (
        "note: the store has this input already (batch 1): resumed, jobs already made are "
        f"not sent again; the retry round (1) sent {len(sent)} leads in {len(jobs)} new job"
    )
    assert said in run.err and "its jobs are not sent again" not in run.err, run.err
    assert f"retry round 1: {len(sent)} leads sent again" in run.out, run.out
    assert main([*base, "--out", "out", "--retry-not-converted"]) == 0
    rerun = capsys.readouterr()
    assert "calls: 0 (none)" in rerun.out
    earlier = f"retry round 1 (made by an earlier run): {len(sent)} leads sent again"
    assert earlier in rerun.out, rerun.out
    assert "resumed, its jobs are not sent again" in rerun.err, rerun.err


def test_a_lead_not_converted_earlier_is_left_out_unless_retry_is_given(
    tmp_path, quiet_sim, monkeypatch, capsys
):
    """Trial 5: a subset of leads done in the store, one of them not converted (final):
    without --retry-not-converted nothing is sent and the note counts it; with it, it is
    sent again (attempt 2)."""
    from zcrm_notebook.cli.entry import main

    monkeypatch.chdir(tmp_path)
    base = ["--config", "sim.toml", "--store", "run.sqlite", *FAST]
    assert main(["convert", "leads.csv", *base, "--out", "out"]) == 0
    capsys.readouterr()
    leads = read_lead_outcomes(tmp_path / "out" / "leads.csv")
    done = leads[leads["outcome"] == "converted"].iloc[:3]
    failed = leads[leads["outcome"] == "not_converted"].iloc[:1]
    assert len(done) == 3 and len(failed) == 1
    pd.concat([done, failed])[["org", "lead_id"]].to_csv("subset.csv", index=False)
    posts = quiet_sim.stats.schedule_requests.total()
    assert main(["convert", "subset.csv", *base, "--out", "o2"]) == 0
    err = capsys.readouterr().err
    assert quiet_sim.stats.schedule_requests.total() == posts  # no credit spent
    said = "left out: 3 converted already, 1 not converted earlier (--retry-not-converted "
    assert f"note: {said}sends it again)" in err, err
    kept = read_lead_outcomes(tmp_path / "o2" / "leads.csv").set_index("lead_id")
    assert kept.loc[failed["lead_id"].iloc[0], "attempt"] == 1
    assert main(["convert", "subset.csv", *base, "--out", "o3", "--retry-not-converted"]) == 0
    assert quiet_sim.stats.schedule_requests.total() > posts
    again = read_lead_outcomes(tmp_path / "o3" / "leads.csv").set_index("lead_id")
    assert again.loc[failed["lead_id"].iloc[0], "attempt"] >= 2
