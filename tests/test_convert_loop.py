"""The conversion loop against the simulator, on a manual clock (no real sleeps): every lead
accounted for once, counts checked, reruns schedule nothing, lost POSTs never re-sent
blindly, refusals before any POST, diagnosis and retries."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pandas as pd
import pytest
from conftest import sim_orgs

from zcrm_notebook.convert import ConvertOptions, Ledger
from zcrm_notebook.convert.loop import convert_leads
from zcrm_notebook.convert.plan import plan_conversions
from zcrm_notebook.convert.reconcile import DELETED, LOST_JOB
from zcrm_notebook.convert.retry import retry_not_converted
from zcrm_notebook.convert.send import schedule_conversions
from zcrm_notebook.errors import ConfigError, DataQualityWarning, LeadInputError
from zcrm_notebook.poll.policy import PollPolicy
from zcrm_notebook.simulator import Faults, SimClock, SimOrg, Simulator, default_scenario
from zcrm_notebook.simulator.scenario import build_default_leads
from zcrm_notebook.snapshots.store import SnapshotStore, read_store

pytestmark = pytest.mark.usefixtures("fresh_token_caches")

POLICY = PollPolicy(seed=1, timeout_s=5)
DEAL = {"Deal_Name": "Renewal", "Stage": "Qualification", "Closing_Date": "2026-03-31"}


@pytest.fixture
def clock():
    return SimClock()


def make_sim(clock, **kw):
    kw.setdefault("post_timing", (2.0, 5.0))
    return default_scenario(n_jobs=1, n_leads=60, dcs=("us", "eu"), clock=clock, **kw)


@pytest.fixture
def sim(clock):
    with make_sim(clock) as s:
        yield s


def run(sim, clock, leads=None, store=None, **kw):
    leads = leads if leads is not None else {o.name: sim.lead_ids(o.name) for o in sim.orgs}
    kw.setdefault("policy", POLICY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return convert_leads(
            leads, sim_orgs(sim), store=store, clock=clock.time, sleep=clock.sleep, **kw
        )


def converted_once(sim):
    """The simulator's truth: no lead reached by a job after it was converted, each
    converted lead converted by exactly one job or single convert."""
    return not sim.reprocessed_leads()


# -- the whole loop -----------------------------------------------------------------------------


def test_every_lead_once_with_its_fate_and_per_job_counts_that_match(sim, clock, tmp_path):
    store = tmp_path / "run.sqlite"
    res = run(sim, clock, store=store)
    leads = res.leads
    assert res.stopped_reason == "finished"
    assert sorted(leads["lead_id"]) == sorted(sim.lead_ids()) and leads["lead_id"].is_unique
    assert res.ledger["leads"].max() <= 50 and (res.ledger["state"] == "scheduled").all()
    truth = {i: sim.lead_state(i) for i in sim.lead_ids()}
    for row in leads.itertuples():
        t = truth[row.lead_id]
        assert (row.outcome == "converted") == t["converted"]
        if t["converted"]:
            assert (row.job_id, row.contact_id) == (t["by"], t["contact_id"])
            assert (None if pd.isna(row.account_id) else row.account_id) == t["account_id"]
            assert pd.isna(row.deal_id)
            assert row.converted_at.timestamp() == int(t["converted_at"])  # Zoho: whole seconds
    assert set(leads["outcome"]) == {"converted", "not_converted"}
    assert leads["account_id"].isna().any() and leads["contact_id"].notna().sum() == 108
    last = res.snapshots.groupby("job_id")["converted_count"].last()
    per_job = leads[leads["outcome"] == "converted"].groupby("job_id").size()
    assert per_job.to_dict() == last[per_job.index].to_dict()
    assert not res.ledger["count_mismatch"].any() and converted_once(sim)
    assert res.stats.set_index(["org", "kind"]).loc[("us-org", "records"), "calls"] == 1
    pd.testing.assert_frame_equal(read_store(store), res.snapshots)  # the same snapshots

    posts = sim.stats.schedule_requests.total()
    again = run(sim, clock, store=store)
    assert sim.stats.schedule_requests.total() == posts  # schedules nothing twice
    assert again.stats["calls"].sum() == 0
    pd.testing.assert_frame_equal(again.leads, leads)


def test_a_rerun_without_a_store_credits_no_new_job_with_a_lead_converted_before_it(sim, clock):
    """Fifth trial: run twice without a store, the second run sends every lead again and
    read the leads the first run converted as converted by its new jobs. They were
    converted before those jobs were made (Zoho's clock: Converted_Date_Time against the
    POST answer's Date): already_converted, not counted for the new jobs."""
    leads = {"us-org": sim.lead_ids("us-org")}
    first = run(sim, clock, leads)  # no store: nothing journaled
    done = first.leads[first.leads["outcome"] == "converted"].set_index("lead_id")
    assert len(done) and set(first.leads["outcome"]) == {"converted", "not_converted"}
    posts = sim.stats.schedule_requests.total()
    again = run(sim, clock, leads)
    assert sim.stats.schedule_requests.total() > posts  # sent again: new jobs
    got = again.leads.set_index("lead_id")
    rows = got.loc[done.index]
    assert set(rows["outcome"]) == {"already_converted"}
    assert not rows["job_id"].isin(done["job_id"]).any()  # the rerun's jobs had them
    assert rows["converted_at"].equals(done["converted_at"])  # when the first run did it
    assert rows["contact_id"].equals(done["contact_id"])
    assert rows["reason"].str.contains(r"before job \d+ was made", regex=True).all()
    assert set(got.drop(index=done.index)["outcome"]) == {"not_converted"}
    assert not again.ledger["count_mismatch"].any()  # the jobs' counts agree: 0 converted
    assert f"{len(done)} already converted" in again.summary()
    assert any(f"{len(done)} leads were converted before their job" in n for n in again.notes)


def test_a_date_a_few_seconds_fast_credits_the_job_with_the_leads_it_counts(
    sim, clock, monkeypatch
):
    """Zoho's Date 3 s ahead of its record clock: the leads this run converted precede the
    POST's Date on the record clock, but the job's Converted_Count covers them: the job's."""
    import http.server

    from zcrm_notebook.simulator import server

    def fast(self, timestamp=None):
        made = getattr(self, "_made_at", None)
        return http.server.BaseHTTPRequestHandler.date_time_string(
            self, made + 3.0 if made else timestamp
        )

    monkeypatch.setattr(server._Handler, "date_time_string", fast)
    res = run(sim, clock, {"us-org": sim.lead_ids("us-org")})
    truth = sum(sim.lead_state(i)["converted"] for i in sim.lead_ids("us-org"))
    assert truth and (res.leads["outcome"] == "converted").sum() == truth
    assert "already_converted" not in set(res.leads["outcome"])
    assert not any("before their job" in n or "before its job" in n for n in res.notes)


def test_a_job_given_up_before_it_was_final_has_no_count_and_no_mismatch(clock):
    """Hostile review: a job seen ``scheduled`` (Converted_Count 0), then only "not found"
    until given up, kept 0 as its count: a false count mismatch (and, with leads converted
    shortly before its POST, false already_converted). Only a final status's count counts."""
    with make_sim(clock) as sim:  # the same seed makes the same job ids: learn the first
        first_job = run(sim, clock, {"us-org": sim.lead_ids("us-org")}).ledger["job_id"][0]
    clock = SimClock()
    script = {first_job: ["ok"] + ["invalid_data"] * POLICY.not_found_confirmations}
    with make_sim(clock, faults=Faults(script=script)) as sim:
        res = run(sim, clock, {"us-org": sim.lead_ids("us-org")})
    seen = res.snapshots[res.snapshots["job_id"] == first_job]
    assert list(seen["status"].astype(str)) == ["scheduled", "error", "error", "error"]
    job = res.ledger.set_index("job_id").loc[first_job]
    assert pd.isna(job["converted_count"]) and not job["count_mismatch"]
    assert not any("Converted_Count" in note for note in res.notes)
    assert "already_converted" not in set(res.leads["outcome"])
    assert (res.leads["outcome"] == "converted").sum() > 0  # its leads read back, credited


def test_only_the_leads_a_jobs_count_leaves_out_are_converted_before_it():
    from zcrm_notebook.api.conversion import LeadRecord
    from zcrm_notebook.convert.reconcile import earlier_leads

    t = 1_767_225_600.0
    (chunk,) = _one_chunk()
    sent = replace(chunk, posted_at=t, answered_at=t, answer_date=t + 100.0)
    reads = [
        LeadRecord("1", True, t + 10),
        LeadRecord("2", True, t + 98),
        LeadRecord("3", True, t + 100),
        LeadRecord("4", False, None),
    ]
    assert earlier_leads(sent, reads, 3) == set()  # the job counts all three: its own
    assert earlier_leads(sent, reads, 2) == {"1"}  # one too many: the earliest before it
    assert earlier_leads(sent, reads, 0) == {"1", "2"}  # the third is not before the job
    assert earlier_leads(sent, reads, None) == {"1"}  # no count: a minute before, at least


def test_a_lead_is_converted_before_its_job_only_by_a_second_on_zohos_clock():
    from zcrm_notebook.api.conversion import LeadRecord
    from zcrm_notebook.convert.reconcile import converted_before

    t = 1_767_225_600.0
    (chunk,) = _one_chunk()
    sent = replace(chunk, posted_at=t + 500.0, answered_at=t + 502.0, answer_date=t + 10.0)
    assert sent.posted_at_zoho == t + 8.0  # Zoho's Date less the round trip: its clock only
    lead = "3652397000009851001"
    assert converted_before(sent, LeadRecord(lead, True, t + 7.0))
    assert not converted_before(sent, LeadRecord(lead, True, t + 7.5))  # within the second
    assert not converted_before(sent, LeadRecord(lead, True, None))
    assert not converted_before(replace(sent, answer_date=None), LeadRecord(lead, True, t))


def test_a_hostile_time_reads_as_unknown_and_the_outcome_is_still_made():
    """A Date header in year 10000 (UTC) is no date: no before-the-job check; a stored
    hostile answer_date or Converted_Date_Time is shown as an unknown time, never raised."""
    from requests.structures import CaseInsensitiveDict

    from zcrm_notebook.api.answers import answer_date
    from zcrm_notebook.api.conversion import LeadRecord
    from zcrm_notebook.convert.reconcile import _utc, outcome_of_record

    t = 1_767_225_600.0
    (chunk,) = _one_chunk()
    hostile = answer_date(CaseInsensitiveDict({"Date": "Fri, 31 Dec 9999 23:59:59 -2359"}))
    sent = replace(chunk, posted_at=t, answered_at=t + 1, answer_date=hostile, job_id="7")
    read = LeadRecord(chunk.leads[0].lead_id, True, t)
    assert outcome_of_record(sent, chunk.leads[0], read, job_id="7").outcome == "converted"
    assert [_utc(x) for x in (253_402_300_799.0 + 86_340, -62_135_596_800.0, 1e308, "x")] == [
        "an unknown time"
    ] * 4
    assert _utc(t) == "2026-01-01 00:00:00Z"


def _one_chunk():
    from conftest import make_creds

    orgs = {"us-org": make_creds("us-org", "us")}
    with SnapshotStore(":memory:") as store:
        ledger = Ledger(store)
        ledger.add_batch(plan_conversions(["3652397000009851001"], orgs, org="us-org"), at=0.0)
        return ledger.chunks()


def test_a_deal_per_lead_and_the_lead_missing_a_deal_field(sim, clock):
    res = run(
        sim, clock, leads={"us-org": sim.lead_ids("us-org")}, options=ConvertOptions(deal=DEAL)
    )
    converted = res.leads[res.leads["outcome"] == "converted"]
    assert converted["deal_id"].notna().all()
    bad = [i for i, lead in sim.leads.items() if lead.problem and lead.org == "us-org"]
    assert set(res.leads.loc[res.leads["outcome"] == "not_converted", "lead_id"]) == set(bad)


# -- POSTs whose outcome is unknown ----------------------------------------------------------


def post_times(sim):
    return [t for t, kind, *_ in sim.stats.log if kind == "schedule"]


def test_a_post_that_times_out_after_its_job_was_made_is_never_sent_blindly(clock, tmp_path):
    faults = Faults(post_script=["post_timeout_after_create"], post_hold_s=1.0)
    with make_sim(clock, faults=faults) as sim:
        leads = {"us-org": sim.lead_ids("us-org")[:40]}
        policy = PollPolicy(seed=1, timeout_s=0.3)
        res = run(sim, clock, leads, store=tmp_path / "s.sqlite", policy=policy, settle_s=600)
        assert res.stopped_reason == "finished" and converted_once(sim)
        lost, *retried = res.ledger.itertuples()
        assert lost.state == "unknown" and pd.isna(lost.job_id)
        assert lost.error_code in ("ReadTimeout", "CallTimeout")  # socket or whole-call bound
        times = post_times(sim)
        assert len(times) == 2 and times[1] >= times[0] + 600  # only after it settled
        got = res.leads.set_index("lead_id")
        converted = got[got["outcome"] == "converted"]
        assert len(converted) == 36 and (converted["reason"] == LOST_JOB).all()
        assert converted["job_id"].isna().all()  # the lost job's id is not known
        failed = got[got["outcome"] == "not_converted"]
        assert len(failed) == 4 and (failed["attempt"] == 2).all()  # tried once more
        assert [r.attempt for r in retried] == [2] and len(got) == 40


@pytest.mark.parametrize("fault, jobs", [("500", 1), ("post_500_after_create", 1)])
def test_a_500_is_an_unknown_outcome_read_back_before_anything_is_sent_again(clock, fault, jobs):
    with make_sim(clock, faults=Faults(post_script=[fault])) as sim:
        leads = {"eu-org": sim.lead_ids("eu-org")[:10]}
        res = run(sim, clock, leads, settle_s=300)
        assert converted_once(sim) and res.stopped_reason == "finished"
        assert res.ledger.loc[0, ["state", "error_code"]].tolist() == ["unknown", "INTERNAL_ERROR"]
        expected = {"500": 2, "post_500_after_create": 2}[fault]  # the lost job made, or not
        posts = post_times(sim)
        assert len(posts) == expected and posts[1] >= posts[0] + 300
        assert res.counts["converted"] == 9 and len(res.leads) == 10


def test_waiting_for_a_lost_post_to_settle_stops_at_the_deadline(clock):
    with make_sim(clock, faults=Faults(post_script=["500"])) as sim:
        start = clock.time()
        res = run(sim, clock, {"eu-org": sim.lead_ids("eu-org")[:3]}, deadline_s=10)
        assert res.stopped_reason == "deadline" and set(res.leads["outcome"]) == {"unknown"}
        assert clock.time() - start <= 10 + 1  # not the next 60 s slice of the 1800 s wait


def one_chunk_left_in(store, sim, clock, state, **mark):
    """A store whose one chunk of 20 us-org leads was left ``state`` (what a run left)."""
    leads = sim.lead_ids("us-org")[:20]
    with SnapshotStore(store) as s:
        ledger = Ledger(s)
        plan = plan_conversions(leads, sim_orgs(sim), org="us-org", ledger=ledger)
        ledger.add_batch(plan, at=clock.time())
        ledger.mark(1, state, durable=True, posted_at=clock.time(), **mark)
    return leads


def test_a_kill_between_the_post_and_its_answer_is_recovered_on_the_next_run(sim, clock, tmp_path):
    """What a kill -9 leaves: the chunk committed `sending`, the job made by Zoho."""
    store = tmp_path / "s.sqlite"
    leads = one_chunk_left_in(store, sim, clock, "sending")
    # ... and the POST got there: Zoho made the job, whose id nobody recorded
    sim.schedule("us-org", leads, lead_ids=tuple(leads), queue_delay_s=5, leads_per_s=2)
    killed_at = clock.time()
    res = run(sim, clock, {"us-org": leads}, store=store, settle_s=120)
    assert res.ledger.loc[0, ["state", "error_code"]].tolist() == ["unknown", "INTERRUPTED"]
    got = res.leads.set_index("lead_id")
    converted = got.query("outcome == 'converted'")
    assert len(converted) == 18 and (converted["reason"] == LOST_JOB).all()  # read back
    bad = [i for i in leads if sim.leads[i].problem]
    assert sorted(got.query("outcome == 'not_converted'").index) == sorted(bad)
    assert (got.loc[bad, "attempt"] == 2).all() and res.counts["pending"] == 0
    (sent,) = post_times(sim)  # only the two leads the lost job did not convert
    assert sent >= killed_at + 120 and res.ledger.loc[1, "leads"] == 2
    assert converted_once(sim)


def test_a_store_holding_a_job_id_over_20_digits_is_read_back_not_jammed(sim, clock, tmp_path):
    """A store an older version wrote: a SCHEDULED answer's 10,240-digit job id in the ledger."""
    store = tmp_path / "s.sqlite"
    leads = one_chunk_left_in(store, sim, clock, "scheduled", job_id="9" * 10240)
    sim.schedule("us-org", leads, lead_ids=tuple(leads), queue_delay_s=5, leads_per_s=2)
    res = run(sim, clock, {"us-org": leads}, store=store, settle_s=120)
    assert res.stopped_reason == "finished" and len(res.leads) == 20
    assert res.ledger.loc[0, ["state", "error_code"]].tolist() == ["unknown", "RESPONSE_FORMAT"]
    assert pd.isna(res.ledger.loc[0, "job_id"]) and res.leads["job_id"].str.len().max() <= 20
    (note,) = [n for n in res.notes if "chunk 1:" in n]
    assert "10240 digits (at most 20)" in note and len(note) < 300
    assert res.counts["converted"] == 18 and converted_once(sim)


def test_a_429_sends_the_same_chunk_again_later(clock):
    faults = Faults(post_script=["429", "429"], retry_after_s=3)
    with make_sim(clock, faults=faults) as sim:
        res = run(sim, clock, {"us-org": sim.lead_ids("us-org")[:5]})
        assert len(res.ledger) == 1 and res.ledger.loc[0, "state"] == "scheduled"
        times = post_times(sim)
        assert len(times) == 3 and times[2] - times[0] >= 6
        assert res.stats.query("kind == 'post'")["calls"].sum() == 3


# -- refusals and partial refusals ------------------------------------------------------------


def test_one_unknown_lead_refused_by_zoho_does_not_sink_its_chunk(sim, clock):
    leads = sim.lead_ids("us-org")[:10]
    sim.delete_lead(leads[3])
    res = run(sim, clock, {"us-org": leads})
    got = res.leads.set_index("lead_id")
    assert got.loc[leads[3], ["outcome", "error_code"]].tolist() == [
        "not_scheduled",
        "INVALID_DATA",
    ]
    assert res.ledger["state"].tolist() == ["rejected", "scheduled"]
    assert (
        res.ledger.loc[1, "leads"] == 9 and (got.drop(leads[3])["outcome"] != "not_scheduled").all()
    )


def test_options_zoho_refuses_reject_the_orgs_other_chunks_unsent(clock):
    org = SimOrg("eu-org", "eu", "1000.EU", "secret-eu", "1000.rt.eu", pipelines=True)
    leads = build_default_leads([org], n_leads=60)
    with Simulator([org], leads=leads, clock=clock) as sim:
        res = run(sim, clock, {"eu-org": sim.lead_ids("eu-org")}, options=ConvertOptions(deal=DEAL))
    assert (res.ledger["state"] == "rejected").all() and len(res.ledger) == 2
    assert sim.stats.schedule_requests["eu-org"] == 1  # the second chunk was not sent
    assert set(res.leads["error_code"]) == {"MANDATORY_NOT_FOUND"}
    assert (res.leads["outcome"] == "not_scheduled").all()


@pytest.mark.parametrize(
    "leads, kwargs, match",
    [
        (["3652397000009851001", "12.5"], {}, "row 2: '12.5'"),
        ({"mars-org": ["3652397000009851001"]}, {}, "unknown org 'mars-org'"),
        (None, {"max_credits": 3}, "exceed max_credits 3"),
    ],
)
def test_bad_input_is_refused_before_any_post(sim, clock, leads, kwargs, match):
    leads = leads if leads is not None else {"us-org": sim.lead_ids("us-org")}
    org = "us-org" if isinstance(leads, list) else None
    with pytest.raises((LeadInputError, ConfigError), match=match):
        run(sim, clock, leads, org=org, **kwargs)
    assert sim.stats.schedule_requests.total() == 0


def test_a_lead_in_an_open_job_is_refused_unless_forced(sim, clock, tmp_path):
    store, orgs, leads = tmp_path / "s.sqlite", sim_orgs(sim), sim.lead_ids("us-org")
    plan = plan_conversions(leads[:5], orgs, org="us-org")
    schedule_conversions(plan, orgs, store=store, clock=clock.time, sleep=clock.sleep)
    posts = sim.stats.schedule_requests.total()
    with pytest.raises(LeadInputError, match=r"row 2: .*in an open job: job \d+ \(chunk 1\)"):
        run(sim, clock, {"us-org": [leads[10], leads[1]]}, store=store)
    assert sim.stats.schedule_requests.total() == posts
    res = run(sim, clock, {"us-org": [leads[10], leads[1]]}, store=store, force=True)
    assert sim.stats.schedule_requests.total() == posts + 1 and res.counts["converted"] == 2
    assert converted_once(sim) is False  # forced: the lead was sent twice (Zoho failed it)


def test_the_same_input_resumes_what_a_deadline_left_open(sim, clock, tmp_path):
    store, leads = tmp_path / "s.sqlite", {"us-org": sim.lead_ids("us-org")}
    first = run(sim, clock, leads, store=store, deadline_s=1.0)
    assert first.stopped_reason == "deadline" and set(first.leads["outcome"]) == {"pending"}
    posts = sim.stats.schedule_requests.total()
    assert "stopped at the deadline (run the same command" in first.summary()
    stopped = replace(first, stopped_reason="stopped").summary()
    assert "stopped on request (Ctrl-C, SIGTERM or stop)" in stopped and "stopped: " not in stopped
    second = run(sim, clock, leads, store=store)
    assert second.stopped_reason == "finished" and sim.stats.schedule_requests.total() == posts
    assert "not converted" in second.summary() and "not_converted" not in second.summary()
    assert second.counts["pending"] == 0 and converted_once(sim)


# -- diagnosis and retry -------------------------------------------------------------------------


def test_the_diagnosis_records_zohos_reason_within_its_budget(sim, clock):
    res = run(sim, clock, {"us-org": sim.lead_ids("us-org")}, diagnose_credits=12)
    assert sim.stats.convert_requests["us-org"] == 2  # 12 credits: two single converts
    reasons = res.leads.dropna(subset=["error_code"])
    assert len(reasons) == 2 and set(reasons["outcome"]) == {"not_converted"}
    assert set(reasons["error_code"]) <= {"DUPLICATE_DATA", "NOT_APPROVED"}
    assert res.stats.set_index(["org", "kind"]).loc[("us-org", "convert"), "credits"] == 10


def test_retry_plans_not_converted_leads_again_with_their_lineage(sim, clock, tmp_path):
    store, leads = tmp_path / "s.sqlite", {"us-org": sim.lead_ids("us-org")}
    first = run(sim, clock, leads, store=store, options=ConvertOptions(deal=DEAL))
    failed = set(first.leads.query("outcome == 'not_converted'")["lead_id"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        res = retry_not_converted(
            store, sim_orgs(sim), options=ConvertOptions(), clock=clock.time, sleep=clock.sleep
        )
    assert set(res.leads["lead_id"]) == failed and (res.leads["attempt"] == 2).all()
    deal_only = {i for i, x in sim.leads.items() if x.problem == "MANDATORY_NOT_FOUND"} & failed
    assert set(res.leads.query("outcome == 'converted'")["lead_id"]) == deal_only
    chunk = res.ledger.iloc[-1]
    assert chunk["attempt"] == 2 and chunk["batch_id"] == 2


def test_the_same_retry_command_again_resumes_its_round_and_sends_nothing(sim, clock, tmp_path):
    store, leads = tmp_path / "s.sqlite", {"us-org": sim.lead_ids("us-org")}
    first = run(sim, clock, leads, store=store, retry_not_converted=True)
    assert first.ledger["attempt"].max() == 2 and first.counts["not_converted"] > 0
    posts = sim.stats.schedule_requests.total()
    again = run(sim, clock, leads, store=store, retry_not_converted=True)
    assert sim.stats.schedule_requests.total() == posts  # no attempt 3
    assert again.ledger["attempt"].max() == 2 and again.leads.equals(first.leads)
    more = run(sim, clock, leads, store=store, retry_not_converted=2)  # asked for: round 2
    assert sim.stats.schedule_requests.total() > posts and more.ledger["attempt"].max() == 3
    posts = sim.stats.schedule_requests.total()
    run(sim, clock, leads, store=store, retry_not_converted=2)
    assert sim.stats.schedule_requests.total() == posts


def test_the_dry_run_of_a_done_input_shows_the_retry_and_diagnosis_the_run_would_do(
    sim, clock, tmp_path
):
    store, leads = tmp_path / "s.sqlite", {"us-org": sim.lead_ids("us-org")}
    first = run(sim, clock, leads, store=store)
    failed = int(first.counts["not_converted"])
    posts = sim.stats.schedule_requests.total()
    dry = run(sim, clock, leads, store=store, dry_run=True, retry_not_converted=True)
    text = dry.describe()
    assert "schedules nothing new" not in text and dry.retry is not None
    assert f"retry round 1: {failed} leads not converted -> 1 mass-convert job of {failed}" in text
    assert dry.estimate.calls["post"] == 1 and sim.stats.schedule_requests.total() == posts
    real = run(sim, clock, leads, store=store, retry_not_converted=True)
    assert sim.stats.schedule_requests.total() == posts + dry.estimate.calls["post"]
    left = int(real.counts["not_converted"])
    diag = run(sim, clock, leads, store=store, dry_run=True, diagnose_credits=20).describe()
    assert f"convert {min(left, 4) * 5}" in diag and "the diagnosis: up to 20 credits" in diag
    nothing = run(sim, clock, leads, store=store, dry_run=True, retry_not_converted=True)
    assert nothing.describe().endswith("schedules nothing new")  # the round is made already


def test_a_diagnosed_reason_is_carried_to_the_leads_later_attempts(sim, clock, tmp_path):
    store, leads = tmp_path / "s.sqlite", {"us-org": sim.lead_ids("us-org")}
    first = run(sim, clock, leads, store=store, diagnose_credits=100)
    why = first.leads.dropna(subset=["error_code"]).set_index("lead_id")
    kept = why[why["error_code"].isin(["DUPLICATE_DATA", "NOT_APPROVED"])]
    assert len(kept) and set(kept["outcome"]) == {"not_converted"}
    again = run(sim, clock, leads, store=store, retry_not_converted=True)
    rows = again.leads.set_index("lead_id").loc[kept.index]
    assert (rows["attempt"] == 2).all() and set(rows["outcome"]) == {"not_converted"}
    assert rows["error_code"].tolist() == kept["error_code"].tolist()
    assert rows["reason"].tolist() == kept["reason"].tolist()  # Zoho's words, unmarked
    assert (rows["reason_attempt"] == 1).all()  # learnt by attempt 1
    from zcrm_notebook.convert.ledger import load_lead_outcomes

    stored = load_lead_outcomes(store).set_index("lead_id").loc[kept.index]
    assert stored["error_code"].tolist() == kept["error_code"].tolist()  # the store's view too


def test_a_deleted_lead_is_reported_deleted(sim, clock, tmp_path):
    store, leads = tmp_path / "s.sqlite", sim.lead_ids("eu-org")[:5]
    plan = plan_conversions(leads, sim_orgs(sim), org="eu-org")
    schedule_conversions(plan, sim_orgs(sim), store=store, clock=clock.time, sleep=clock.sleep)
    sim.delete_lead(leads[0])
    res = run(sim, clock, {"eu-org": leads}, store=store)
    row = res.leads.set_index("lead_id").loc[leads[0]]
    assert (row["outcome"], row["reason"]) == ("deleted", DELETED)


def test_each_step_on_its_own_schedule_watch_reconcile_diagnose(sim, clock, tmp_path):
    import zcrm_notebook as zn

    store, orgs, leads = tmp_path / "s.sqlite", sim_orgs(sim), sim.lead_ids("us-org")[:30]
    plan = zn.plan_conversions(leads, orgs, org="us-org")
    chunks = zn.schedule_conversions(plan, orgs, store=store, clock=clock.time, sleep=clock.sleep)
    jobs = {"us-org": chunks["job_id"].tolist()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        zn.poll_jobs(jobs, orgs, store=store, clock=clock.time, sleep=clock.sleep, policy=POLICY)
    table = zn.reconcile_conversions(store, orgs, clock=clock.time, sleep=clock.sleep)
    assert table["outcome"].value_counts()[["converted", "not_converted"]].tolist() == [27, 3]
    table = zn.diagnose_not_converted(store, orgs, credits=100, clock=clock.time, sleep=clock.sleep)
    why = table.dropna(subset=["error_code"])
    assert len(why) == 3 and set(why["error_code"]) == {"DUPLICATE_DATA", "NOT_APPROVED"}
    assert sim.stats.convert_requests["us-org"] == 3
    again = zn.diagnose_not_converted(store, orgs, credits=100, clock=clock.time, sleep=clock.sleep)
    assert sim.stats.convert_requests["us-org"] == 3  # once per lead
    pd.testing.assert_frame_equal(again, table)


def test_max_credits_also_bounds_the_retry_rounds(sim, clock, tmp_path):
    """--max-credits refused a plan above it, but the retry rounds spent without a bound."""
    leads = {"us-org": sim.lead_ids("us-org")}
    plan = run(sim, clock, leads, dry_run=True).estimate.total_credits
    store = tmp_path / "s.sqlite"
    held = run(sim, clock, leads, store=store, retry_not_converted=True, max_credits=plan + 1)
    assert held.ledger["attempt"].max() == 1 and held.counts["not_converted"] > 0
    (note,) = [n for n in held.notes if "retry round 1 was not made" in n]
    assert f"above max_credits {plan + 1:,} (command line: --max-credits)" in note
    posts = sim.stats.schedule_requests.total()
    made = run(sim, clock, leads, store=store, retry_not_converted=True, max_credits=plan + 100)
    assert made.ledger["attempt"].max() == 2 and sim.stats.schedule_requests.total() > posts
