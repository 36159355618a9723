"""The polling engine against the simulator, on a manual clock (no real sleeps)."""

import inspect
import os
import pydoc
import re
import signal
import statistics
import warnings

import pandas as pd
import pytest
from conftest import overlapping, sim_orgs

import zcrm_notebook as zn
from zcrm_notebook.errors import DataQualityWarning
from zcrm_notebook.poll import Poller, poll_jobs
from zcrm_notebook.poll.policy import PollPolicy
from zcrm_notebook.simulator import Faults, SimClock, SimJob, SimOrg, Simulator, default_scenario
from zcrm_notebook.snapshots.frame import SNAPSHOT_COLUMNS
from zcrm_notebook.snapshots.store import read_store

POLICY = PollPolicy(seed=1)


def run(sim, clock, jobs=None, policy=POLICY, **kw):
    orgs = sim_orgs(sim)
    jobs = jobs if jobs is not None else {o: sim.job_ids(o) for o in orgs}
    p = Poller(jobs, orgs, clock=clock.time, sleep=clock.sleep, policy=policy, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        df = p.run()
    return p, df


def last_status(df):
    return df.groupby("job_id", observed=True)["status"].last().astype(str).to_dict()


def test_default_scenario_end_to_end(scenario, clock):
    p, df = run(scenario, clock)
    assert p.stopped_reason == "finished"
    assert list(df.columns) == SNAPSHOT_COLUMNS
    assert df["dc"].nunique() >= 4
    final = last_status(df)
    unknown = scenario.unknown_job_id
    assert final.pop(unknown) == "error"
    assert set(final.values()) <= {"completed", "failed"} and "failed" in final.values()
    errs = df[df["job_id"] == unknown]
    assert (errs["error_code"] == "INVALID_DATA").all()
    assert len(errs) == POLICY.not_found_confirmations
    assert (df.loc[df["job_id"] != unknown, "status"] != "error").all()


def test_finished_jobs_are_not_polled_again(scenario, clock):
    _, df = run(scenario, clock)
    for _, g in df.groupby("job_id"):
        final = g["status"].isin(["completed", "failed"]).to_numpy()
        if final.any():
            assert final.argmax() == len(g) - 1  # the first final row is the last row


def test_counts_match_the_simulator_truth(scenario, clock):
    _, df = run(scenario, clock)
    done = df[df["status"] == "completed"].drop_duplicates("job_id")
    for row in done.itertuples():
        job = scenario.jobs[row.job_id]
        assert row.total_count == job.total
        assert row.failed_count == job.failed
        assert row.polled_at.timestamp() >= scenario.true_finish_at(row.job_id) - 1e-3


def test_documented_error_answers_become_error_rows_for_that_job_only(clock):
    org = SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1")
    jobs = [SimJob("3652397000009835020", "us-org", 10), SimJob("3652397000009835021", "us-org", 5)]
    faults = Faults(script={"3652397000009835021": ["invalid_data"] * 3})
    with Simulator([org], jobs, clock=clock, faults=faults) as sim:
        _, df = run(sim, clock)
    final = last_status(df)
    assert final == {"3652397000009835020": "completed", "3652397000009835021": "error"}
    assert set(df.loc[df.status == "error", "error_code"]) == {"INVALID_DATA"}


def one_job_sim(clock, script, total=10, rate=1.0, **fault_kw):
    org = SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1")
    job = SimJob("1111111111111111111", "us-org", total, leads_per_s=rate)
    return Simulator(
        [org], [job], clock=clock, faults=Faults(script={job.job_id: script}, **fault_kw)
    )


@pytest.mark.parametrize(
    "script, final, code, max_requests",
    [
        (["429"] * 3, "completed", None, 12),
        (["500", "503"], "completed", None, 12),
        (["reset", "reset"], "completed", None, 12),
        (["html"], "completed", "RESPONSE_FORMAT", 12),
        (["truncated"], "completed", "RESPONSE_FORMAT", 12),
        (["missing_data"], "completed", "RESPONSE_FORMAT", 12),
        (["unknown_status", "unknown_status"], "completed", None, 12),
        (["backwards"], "completed", None, 12),
        (["204"] * 3, "error", "NO_CONTENT", 4),
        (["404"] * 3, "error", "INVALID_URL_PATTERN", 1),  # ends the org at once
        (["required_param_missing"], "error", "REQUIRED_PARAM_MISSING", 1),
        (["500"] * 4, "completed", "INTERNAL_ERROR", 16),
        (["429"] * 20, "error", "TOO_MANY_REQUESTS", 24),
    ],
)
def test_fault_matrix(clock, script, final, code, max_requests):
    with one_job_sim(clock, script) as sim:
        p, df = run(sim, clock)
        requests = sim.stats.status_requests["us-org"]
    assert p.stopped_reason == "finished"
    assert df["status"].astype(str).iloc[-1] == final
    assert requests <= max_requests
    codes = set(df["error_code"].dropna())
    assert codes == ({code} if code else set())


def test_slow_answers_time_out_and_are_retried(clock):
    with one_job_sim(clock, ["slow"], slow_s=1.0) as sim:
        p, df = run(sim, clock, policy=PollPolicy(seed=1, timeout_s=0.2))
    assert df["status"].astype(str).iloc[-1] == "completed"
    assert p.org_stats().loc[0, "retries"] >= 1


def test_unknown_status_is_recorded_and_polling_goes_on(clock):
    with one_job_sim(clock, ["unknown_status"]) as sim:
        _, df = run(sim, clock)
    assert df["status"].iloc[0] == "unknown" and df["raw_status"].iloc[0] == "PAUSED"
    assert df["status"].iloc[-1] == "completed"


def test_backwards_counts_are_kept_and_warned(clock):
    with one_job_sim(clock, ["ok", "ok", "backwards"], total=40) as sim:
        orgs = sim_orgs(sim)
        p = Poller(
            {"us-org": sim.job_ids()}, orgs, clock=clock.time, sleep=clock.sleep, policy=POLICY
        )
        with pytest.warns(DataQualityWarning, match="backwards"):
            df = p.run()
    conv = df["converted_count"].dropna().tolist()
    assert any(b < a for a, b in zip(conv, conv[1:]))  # kept as received, not "fixed"


def test_concurrency_cap_is_never_exceeded(clock):
    orgs = [SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1", concurrency_cap=3)]
    jobs = [SimJob(str(1000000000000000000 + i), "us-org", 5) for i in range(40)]
    with overlapping(Simulator(orgs, jobs, clock=clock), n=3) as sim:
        p, df = run(sim, clock, policy=PollPolicy(seed=1, max_in_flight=3))
        assert sim.stats.max_in_flight["us-org"] == 3
        assert sim.stats.answers[("us-org", 429)] == 0
    assert set(last_status(df).values()) == {"completed"}


def test_429_under_a_lower_server_cap_backs_off_the_org_and_finishes(clock):
    orgs = [SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1", concurrency_cap=2)]
    jobs = [SimJob(str(2000000000000000000 + i), "us-org", 5) for i in range(30)]
    with Simulator(orgs, jobs, clock=clock, faults=Faults(latency_s=0.01)) as sim:
        p, df = run(sim, clock, policy=PollPolicy(seed=1, max_in_flight=5, max_retries=6))
        status_calls = sim.stats.status_requests["us-org"]
    stats = p.org_stats().iloc[0]
    assert stats["rate_limited"] > 0
    assert set(last_status(df).values()) == {"completed"}
    assert status_calls < 30 * 12


def test_two_orgs_in_two_dcs_poll_in_one_run_and_an_auth_failure_stays_in_its_org(clock):
    orgs = [
        SimOrg("us-org", "us", "c1", "csecret-1", "rtoken-1"),
        SimOrg("eu-org", "eu", "c2", "csecret-2", "rtoken-2", no_permission=True),
    ]
    jobs = [
        SimJob("11", "us-org", 5),
        SimJob("12", "us-org", 5),
        SimJob("21", "eu-org", 5),
        SimJob("22", "eu-org", 5),
    ]
    with Simulator(orgs, jobs, clock=clock) as sim:
        p, df = run(sim, clock)
    final = last_status(df)
    assert final == {"11": "completed", "12": "completed", "21": "error", "22": "error"}
    assert set(df.loc[df.org == "eu-org", "error_code"]) == {"NO_PERMISSION"}
    assert p.org_stats().set_index("org").loc["eu-org", "failed_reason"] == "NO_PERMISSION"


def test_invalid_url_pattern_ends_its_org_after_one_call_per_job_in_flight(clock):
    """404 INVALID_URL_PATTERN: a wrong api_domain / api_version, never a lost job."""
    orgs = [
        SimOrg("us-org", "us", "c1", "csecret-1", "rtoken-1"),
        SimOrg("eu-org", "eu", "c2", "csecret-2", "rtoken-2"),
    ]
    us_jobs = [SimJob(f"1{i:02d}", "us-org", 5) for i in range(12)]
    jobs = [*us_jobs, SimJob("21", "eu-org", 5), SimJob("22", "eu-org", 5)]
    faults = Faults(script={j.job_id: ["404"] * 5 for j in us_jobs})
    policy = PollPolicy(seed=1, max_in_flight=4)
    with Simulator(orgs, jobs, clock=clock, faults=faults) as sim:
        p, df = run(sim, clock, policy=policy)
        calls = sim.stats.requests_by_job
        us_calls = sim.stats.status_requests["us-org"]
        api_domain = sim.api_domain("us")
    us = df[df.org == "us-org"]
    assert us_calls <= 4 and all(calls[j.job_id] <= 1 for j in us_jobs)
    assert us.groupby("job_id").size().eq(1).all() and len(us) == len(us_jobs)
    assert set(us["error_code"]) == {"INVALID_URL_PATTERN"} and set(us["status"]) == {"error"}
    stats = p.org_stats().set_index("org")
    assert stats.loc["us-org", "failed_reason"] == "INVALID_URL_PATTERN"
    message = stats.loc["us-org", "failed_message"]
    assert "\n" not in message and f"api_domain ({api_domain})" in message
    assert "api_version (v5)" in message and "/crm/v5/Leads/actions/mass_convert" in message
    assert last_status(df[df.org == "eu-org"]) == {"21": "completed", "22": "completed"}
    assert pd.isna(stats.loc["eu-org", "failed_reason"])


def test_api_version_v4_is_accepted_with_a_warning_and_a_404_names_it(clock):
    """Zoho documents the POST from v4 but the status call from v5: the simulator (like a
    Zoho without a v4 status call) answers 404, which ends the org naming api_version."""
    from zcrm_notebook.api.unverified import forget_warnings
    from zcrm_notebook.auth import OrgCredentials
    from zcrm_notebook.errors import UnverifiedFactWarning

    org = SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1")
    with Simulator(
        [org], [SimJob("31", "us-org", 5), SimJob("32", "us-org", 5)], clock=clock
    ) as sim:
        forget_warnings()
        with pytest.warns(UnverifiedFactWarning, match="v4"):
            creds = OrgCredentials(
                org="us-org", **{**sim.org_config("us-org"), "api_version": "v4"}
            )
        p = Poller(
            ["31", "32"], {"us-org": creds}, org="us-org", clock=clock.time, sleep=clock.sleep
        )
        df = p.run()
        assert sim.stats.status_requests["us-org"] <= 2
    assert set(df["error_code"]) == {"INVALID_URL_PATTERN"} and len(df) == 2
    assert "api_version (v4)" in p.org_stats().loc[0, "failed_message"]


def test_deadline_is_stopped_watching_not_failed(clock):
    org = SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1")
    with Simulator([org], [SimJob("5", "us-org", 50, leads_per_s=0.01)], clock=clock) as sim:
        p, df = run(sim, clock, policy=PollPolicy(seed=1, deadline_s=120))
    assert p.stopped_reason == "deadline"
    assert set(df["status"].astype(str)) == {"in_progress"}
    assert clock.time() - df["polled_at"].iloc[0].timestamp() <= 120 + 25


def test_budget_limits_calls_per_org(scenario, clock):
    p, df = run(scenario, clock, policy=PollPolicy(seed=1, budget=10))
    assert (p.org_stats()["requests"] <= 10).all()
    assert p.stopped_reason in ("budget", "finished")


def test_store_journals_every_snapshot_and_reads_back_equal(scenario, clock, tmp_path):
    path = tmp_path / "run.sqlite"
    _, df = run(scenario, clock, store=path)
    pd.testing.assert_frame_equal(read_store(path), df)


def test_resume_keeps_history_and_skips_finished_jobs(scenario, clock, tmp_path):
    path = tmp_path / "run.sqlite"
    calls = {"n": 0}

    def interrupting_sleep(dt):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        clock.sleep(dt)

    orgs = sim_orgs(scenario)
    jobs = {o: scenario.job_ids(o) for o in orgs}
    first = Poller(
        jobs, orgs, clock=clock.time, sleep=interrupting_sleep, policy=POLICY, store=path
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        df1 = first.run()
    assert first.stopped_reason == "interrupted" and len(df1) > 0
    pd.testing.assert_frame_equal(read_store(path), df1)
    finished_before = set(df1.loc[df1.status.isin(["completed", "failed"]), "job_id"])
    clock.advance(1.0)  # the restart takes a moment
    second, df2 = run(scenario, clock, store=path)
    assert second.stopped_reason == "finished"
    pd.testing.assert_frame_equal(df2.iloc[: len(df1)], df1)
    new = df2.iloc[len(df1) :]
    assert not set(new["job_id"]) & finished_before
    assert not df2.duplicated(["org", "job_id", "polled_at"]).any()
    assert set(last_status(df2).values()) <= {"completed", "failed", "error"}


def test_poll_jobs_returns_the_frame(scenario, clock):
    orgs = sim_orgs(scenario, ["us-org"])
    ids = [j for j in scenario.job_ids("us-org") if j != scenario.unknown_job_id]
    df = poll_jobs(ids, orgs, clock=clock.time, sleep=clock.sleep, policy=POLICY)
    assert set(df["job_id"]) == set(ids)


def _economy(policy):
    """(calls, delay by job) of ``policy`` on the realistic scenario, 40 jobs, SimClock."""
    clock = SimClock()
    with default_scenario(n_jobs=40, seed=11, clock=clock, realistic=True) as sim:
        ids = {
            o.name: [j for j in sim.job_ids(o.name) if j != sim.unknown_job_id] for o in sim.orgs
        }
        p, df = run(sim, clock, jobs=ids, policy=policy)
        truth = {j: sim.true_finish_at(j) for js in ids.values() for j in js}
    first_final = df[df.status.isin(["completed", "failed"])].groupby("job_id")["polled_at"].min()
    return len(df), {j: t.timestamp() - truth[j] for j, t in first_final.items()}


def test_adaptive_schedule_economy_vs_fixed():
    """The schedule vs fixed intervals on the realistic scenario (queue 0-5 min, 0.2-5
    leads/s, stalls), through the real poller on the simulator.

    With the delay bound D = 10 s it beats fixed 10 s polling on every count: fewer calls,
    median and p95 no worse, and no finish seen more than D late (the rates are below the
    assumed fastest, 10 leads/s). The default (D = 13 s) spends at most half the calls of
    fixed 5 s polling with a median no worse.
    """
    p95 = lambda d: statistics.quantiles(d, n=20)[18]  # noqa: E731
    n_fixed, d_fixed = _economy(PollPolicy.fixed(10.0, seed=1))
    n_bound, d_bound = _economy(PollPolicy(seed=1, max_delay_s=10.0))
    assert len(d_fixed) == len(d_bound) == 40
    assert n_bound < n_fixed
    assert statistics.median(d_bound.values()) <= statistics.median(d_fixed.values())
    assert p95(list(d_bound.values())) <= p95(list(d_fixed.values()))
    assert max(d_bound.values()) <= 10.0 + 1e-6
    n_fixed5, d_fixed5 = _economy(PollPolicy.fixed(5.0, seed=1))
    n_default, d_default = _economy(POLICY)
    assert n_default <= 0.5 * n_fixed5
    assert statistics.median(d_default.values()) <= statistics.median(d_fixed5.values())
    assert max(d_default.values()) <= POLICY.delay_s + 1e-6


def test_ctrl_c_stops_between_snapshots_and_keeps_them(scenario, clock, tmp_path):
    """SIGINT on the main thread (Ctrl-C, a notebook interrupt) ends the run cleanly."""
    calls = {"n": 0}

    def sleep(dt):
        calls["n"] += 1
        if calls["n"] == 5:
            os.kill(os.getpid(), signal.SIGINT)
        clock.sleep(dt)

    handler_before = signal.getsignal(signal.SIGINT)
    orgs = sim_orgs(scenario)
    p = Poller(
        {o: scenario.job_ids(o) for o in orgs},
        orgs,
        clock=clock.time,
        sleep=sleep,
        policy=POLICY,
        store=tmp_path / "s.sqlite",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        df = p.run()
    assert p.stopped_reason == "interrupted" and len(df) > 0
    assert signal.getsignal(signal.SIGINT) is handler_before
    pd.testing.assert_frame_equal(read_store(tmp_path / "s.sqlite"), df)


def test_credits_header_and_retry_after_are_used(clock):
    org = SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1")
    job = SimJob("1111111111111111111", "us-org", 10, leads_per_s=1.0)
    faults = Faults(
        script={job.job_id: ["429"]}, retry_after_s=7.0, credits_remaining=500, credits_header=True
    )
    with Simulator([org], [job], clock=clock, faults=faults) as sim:
        p, _ = run(sim, clock)
    stats = p.org_stats().iloc[0]
    assert stats["rate_limited"] == 1 and stats["retries"] == 1
    assert 0 < stats["credits_remaining"] < 500
    # the only 429 came first; the retry waited for Retry-After (7 s), not the 2 s backoff
    log = [t for t, kind, *_ in sim.stats.log if kind == "status"]
    assert log[1] - log[0] >= 7.0


def test_stalled_job_is_warned_once(clock):
    org = SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1")
    job = SimJob("1111111111111111111", "us-org", 10, leads_per_s=1.0, stall_s=400)
    with Simulator([org], [job], clock=clock) as sim:
        p = Poller(
            {"us-org": [job.job_id]},
            sim_orgs(sim),
            clock=clock.time,
            sleep=clock.sleep,
            policy=PollPolicy(seed=1, stalled_after_s=120),
        )
        with pytest.warns(DataQualityWarning, match="not moved") as caught:
            df = p.run()
    assert sum("not moved" in str(w.message) for w in caught) == 1
    assert df["status"].iloc[-1] == "completed"


def test_progress_bar_counts_job_ids_done(scenario, clock, capsys):
    # the scenario's 36 jobs and one id Zoho does not know: the bar counts ids, as the
    # report's '36 jobs (+1 with no status)' does not call the unknown one a job
    p, df = run(scenario, clock, progress=True)
    err = capsys.readouterr().err
    assert "job ids done" in err and f"{len(p.jobs)}/{len(p.jobs)}" in err
    assert "jobs finished" not in err


def documented_parameters(func) -> set[str]:
    """Names listed in the numpydoc Parameters section of ``func``'s docstring."""
    section = inspect.getdoc(func).split("Parameters\n", 1)[1].split("Returns\n", 1)[0]
    heads = re.findall(r"^([a-z_][a-z_, ]*?)(?: :.*)?$", section, flags=re.M)
    return {name.strip() for head in heads for name in head.split(",")}


@pytest.mark.parametrize("func", [zn.poll_jobs, zn.watch], ids=["poll_jobs", "watch"])
def test_poll_jobs_and_watch_take_the_pollers_parameters_by_name(func):
    def described(f):
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]

    assert described(func) == described(Poller)  # no **kwargs: names, kinds and defaults
    assert documented_parameters(func) == set(inspect.signature(Poller).parameters)
    shown = pydoc.render_doc(func, renderer=pydoc.plaintext)
    assert "config: 'str | os.PathLike | None' = None" in shown and "**kwargs" not in shown


def test_an_unreachable_accounts_server_holds_the_org_and_spends_no_credit(clock):
    org = SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1")
    jobs = [SimJob(str(2000000000000000000 + i), "us-org", 5) for i in range(20)]
    sim = Simulator([org], jobs, clock=clock).start()
    orgs, ids = sim_orgs(sim), {"us-org": sim.job_ids("us-org")}
    sim.stop()  # nothing listens on its port any more: every token request is refused
    policy = PollPolicy(seed=1, max_in_flight=5)
    p = Poller(ids, orgs, clock=clock.time, sleep=clock.sleep, policy=policy)
    df = p.run()
    stats = p.org_stats().iloc[0]
    assert set(df["status"].astype(str)) == {"error"} and df["job_id"].nunique() == 20
    assert stats["credits_used"] == 0 and stats["answered"] == 0  # no CRM call was made
    # held as one: one try at a time after each backoff (plus the first calls in flight),
    # not every job with its retries (20 x (1 + max_retries) x give_up_after_errors = 400)
    tries = (1 + policy.max_retries) * policy.give_up_after_errors
    assert stats["token_requests"] == stats["requests"] <= tries + policy.max_in_flight
    assert stats["failed_reason"] == "ConnectionError"  # the code of the error rows
    assert len(df) == stats["requests"] + 19  # a row per try, and one for each job not tried
