"""The simulator's leads (simulator/leads.py): the POST's checks, jobs that convert their
leads one by one, Get Records with converted semantics, the single convert, the POST faults.
Spoken to over loopback HTTP; answers checked against tests/contracts' schemas."""

from __future__ import annotations

import http.client
import json
import sys
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from test_simulator import call, token

from zcrm_notebook.simulator import Faults, SimClock, SimLead, SimOrg, Simulator, default_scenario

sys.path.insert(0, str(Path(__file__).parent / "contracts"))
from contract_schemas import validator  # noqa: E402

T0 = 1_767_225_600.0
GOOD, GOOD2, DUP, DEALLESS, NOCO = "11", "12", "13", "14", "15"
OTHER = "21"  # eu-org's


def org(name, dc, **kw):
    return SimOrg(name, dc, f"1000.{name.upper()}", f"secret-{name}", f"1000.rt.{name}", **kw)


ORGS = [
    org("us-org", "us", users=("900",)),
    org("eu-org", "eu", pipelines=True),
    org("us-readonly", "us", scopes=("ZohoCRM.mass_convert.leads.ALL",)),
]
LEADS = [
    SimLead(GOOD, "us-org", "Ann"),
    SimLead(GOOD2, "us-org", "Bob"),
    SimLead(DUP, "us-org", "Cid", "DUPLICATE_DATA"),
    SimLead(DEALLESS, "us-org", "Dee", "MANDATORY_NOT_FOUND"),
    SimLead(NOCO, "us-org", "Eve", company=False),
    SimLead(OTHER, "eu-org", "Fay"),
]
DEAL = {"Deal_Name": "d", "Stage": "Qualification", "Closing_Date": "2026-03-01"}


@pytest.fixture
def clock():
    return SimClock(start=T0)


@pytest.fixture
def sim(clock):
    with Simulator(ORGS, leads=LEADS, clock=clock, post_timing=(0.0, 1.0)) as s:
        yield s


def headers(sim, name="us-org"):
    return {"Authorization": f"Zoho-oauthtoken {token(sim, name)}"}


def post(sim, body, *, dc="us", version="v8", name="us-org", raw=None):
    url = f"{sim.api_domain(dc)}/crm/{version}/Leads/actions/mass_convert"
    data = raw if raw is not None else json.dumps(body)
    status, _, answer = call(url, "POST", body=data, headers=headers(sim, name))
    return status, json.loads(answer)


def records(
    sim,
    ids=(),
    *,
    converted=None,
    fields="Converted__s,Converted_Date_Time,Converted_Contact,Converted_Account,Converted_Deal",
    name="us-org",
    dc="us",
):
    query = {"fields": fields, **({"ids": ",".join(ids)} if ids else {})}
    query |= {"converted": converted} if converted else {}
    url = f"{sim.api_domain(dc)}/crm/v8/Leads?{urlencode(query)}"
    status, _, body = call(url, headers=headers(sim, name))
    return status, (json.loads(body) if body else None)


def convert(sim, lead, body=None, name="us-org"):
    url = f"{sim.api_domain('us')}/crm/v8/Leads/{lead}/actions/convert"
    status, _, answer = call(url, "POST", body=json.dumps(body or {}), headers=headers(sim, name))
    return status, json.loads(answer)


def schedule(sim, clock, ids, **options):
    status, answer = post(sim, {"ids": list(ids), **options})
    assert status == 200, answer
    return answer["details"]["job_id"]


# -- the POST's checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, version, code, details",
    [
        ({}, "v8", "MANDATORY_NOT_FOUND", {"api_name": "ids", "json_path": "$.ids"}),
        ({"ids": "11"}, "v8", "INVALID_DATA", {"expected_data_type": "jsonarray"}),
        ({"ids": [GOOD, "1x"]}, "v8", "INVALID_DATA", {"json_path": "$.ids[1]"}),
        ({"ids": [GOOD, "99"]}, "v8", "INVALID_DATA", {"api_name": "ids", "json_path": "$.ids[1]"}),
        ({"ids": [OTHER]}, "v8", "INVALID_DATA", {"json_path": "$.ids[0]"}),
        ({"ids": [str(i) for i in range(1, 52)]}, "v8", "LIMIT_EXCEEDED", {"limit": 50}),
        (
            {"ids": [GOOD], "Deals": {"Deal_Name": "d", "Closing_Date": "2026-03-01"}},
            "v8",
            "MANDATORY_NOT_FOUND",
            {"api_name": "Stage", "json_path": "$.Deals.Stage"},
        ),
        ({"ids": [GOOD], "assign_to": {}}, "v8", "EXPECTED_FIELD_MISSING", {}),
        ({"ids": [GOOD], "assign_to": {"id": "901"}}, "v8", "INVALID_DATA", {"api_name": "id"}),
        (
            {"ids": [GOOD], "related_modules": [{"api_name": "Deals", "id": "5"}]},
            "v8",
            "AMBIGUITY_DURING_PROCESSING",
            {},
        ),
        (
            {"ids": [GOOD], "apply_assignment_threshold": True},
            "v7",
            "INVALID_DATA",
            {"api_name": "apply_assignment_threshold"},
        ),
    ],
)
def test_the_post_refuses_with_zohos_documented_codes(sim, body, version, code, details):
    status, answer = post(sim, body, version=version)
    assert (status, answer["code"], answer["status"]) == (400, code, "error")
    assert details.items() <= answer["details"].items()
    assert not list(validator("mass_convert_post_error.json").iter_errors(answer))
    assert sim.jobs == {}


def test_pipelines_orgs_need_a_pipeline_and_v8_takes_the_threshold(sim):
    status, answer = post(sim, {"ids": [OTHER], "Deals": DEAL}, dc="eu", name="eu-org")
    assert (status, answer["details"]["api_name"]) == (400, "Pipeline")
    body = {"ids": [GOOD], "apply_assignment_threshold": True, "assign_to": {"id": "900"}}
    status, answer = post(sim, body)
    assert status == 200 and not list(
        validator("mass_convert_post_success.json").iter_errors(answer)
    )


# -- jobs convert their leads one by one ----------------------------------------------------


def status_of(sim, job_id):
    url = f"{sim.api_domain('us')}/crm/v8/Leads/actions/mass_convert?job_id={job_id}"
    return json.loads(call(url, headers=headers(sim))[2])["data"][0]


def test_a_job_converts_its_leads_one_by_one_and_its_counts_follow_them(sim, clock):
    job = schedule(sim, clock, [GOOD, DUP, DEALLESS, NOCO])  # 1 lead/s, no queue
    clock.advance(1.0)
    assert status_of(sim, job) | {"Status": "-"} == {
        "Status": "-",
        "Total_Count": 4,
        "Converted_Count": 1,
        "Not_Converted_Count": 3,
        "Failed_Count": 0,
    }
    assert sim.lead_state(GOOD)["by"] == job and not sim.lead_state(NOCO)["converted"]
    clock.advance(3.0)
    final = status_of(sim, job)
    assert (final["Status"], final["Converted_Count"], final["Failed_Count"]) == ("COMPLETED", 3, 1)
    converted = [i for i in (GOOD, DUP, DEALLESS, NOCO) if sim.lead_state(i)["by"] == job]
    assert converted == [GOOD, DEALLESS, NOCO]  # no deal asked: the deal field is no problem


def test_with_a_deal_the_lead_missing_a_deal_field_fails(sim, clock):
    job = schedule(sim, clock, [GOOD, DEALLESS], Deals=DEAL)
    clock.advance(5.0)
    assert (status_of(sim, job)["Converted_Count"], status_of(sim, job)["Failed_Count"]) == (1, 1)
    assert sim.lead_state(GOOD)["deal_id"] is not None


def test_a_lead_sent_again_converts_once_and_the_second_job_fails_it(sim, clock):
    first = schedule(sim, clock, [GOOD])
    second = schedule(sim, clock, [GOOD, GOOD2])
    clock.advance(5.0)
    assert status_of(sim, first)["Converted_Count"] == 1
    assert (status_of(sim, second)["Converted_Count"], status_of(sim, second)["Failed_Count"]) == (
        1,
        1,
    )
    assert sim.lead_state(GOOD)["by"] == first and sim.lead_state(GOOD)["jobs"] == [first, second]
    assert sim.reprocessed_leads() == {GOOD: 1}


# -- Get Records ------------------------------------------------------------------------------


def test_records_hide_converted_leads_unless_asked_and_answer_204_when_none_match(sim, clock):
    schedule(sim, clock, [GOOD, NOCO])
    clock.advance(5.0)
    ids = [GOOD, NOCO, GOOD2]
    status, body = records(sim, ids)  # converted defaults to false
    assert status == 200 and [r["id"] for r in body["data"]] == [GOOD2]
    status, body = records(sim, ids, converted="true")
    assert [r["id"] for r in body["data"]] == [GOOD, NOCO]
    status, body = records(sim, ids, converted="both")
    assert [r["id"] for r in body["data"]] == [GOOD, NOCO, GOOD2]
    assert not list(validator("records_success.json").iter_errors(body))
    ann, eve, bob = body["data"]
    assert (
        ann["Converted__s"] and ann["Converted_Contact"]["id"] == sim.lead_state(GOOD)["contact_id"]
    )
    assert ann["Converted_Date_Time"] == "2025-12-31T17:00:01-07:00"  # T0 + 1 s, us offset
    assert ann["Converted_Deal"] is None and eve["Converted_Account"] is None
    assert not bob["Converted__s"] and bob["Converted_Contact"] is None
    assert records(sim, ["99", OTHER], converted="both") == (204, None)
    assert records(sim, [GOOD2], converted="true") == (204, None)


def test_records_need_fields_and_give_only_those(sim):
    status, body = records(sim, [GOOD], fields="")
    assert (status, body["code"], body["details"]) == (
        400,
        "REQUIRED_PARAM_MISSING",
        {"param_name": "fields"},
    )
    assert not list(validator("records_error.json").iter_errors(body))
    status, body = records(sim, [GOOD], fields="Converted__s")
    assert body["data"] == [{"id": GOOD, "Converted__s": False}]


def test_records_need_the_leads_read_scope(sim):
    status, body = records(sim, [GOOD], name="us-readonly")
    assert (status, body["code"]) == (401, "OAUTH_SCOPE_MISMATCH")


def test_a_deleted_lead_is_gone_from_records_and_refused_by_the_post(sim):
    sim.delete_lead(GOOD)
    assert records(sim, [GOOD], converted="both") == (204, None)
    status, answer = post(sim, {"ids": [GOOD]})
    assert (status, answer["code"]) == (400, "INVALID_DATA")
    assert GOOD not in sim.lead_ids("us-org")


# -- the single convert ---------------------------------------------------------------------


def test_the_single_convert_converts_once_then_says_already_converted(clock):
    faults = Faults(credits_remaining=100)
    with Simulator(ORGS, leads=LEADS, clock=clock, faults=faults) as sim:
        status, body = convert(sim, GOOD, {"data": [{"Deals": DEAL}]})
        assert status == 200 and body["data"][0]["code"] == "SUCCESS"
        assert not list(validator("convert_success.json").iter_errors(body))
        assert body["data"][0]["details"]["Deals"]["id"] == sim.lead_state(GOOD)["deal_id"]
        status, body = convert(sim, GOOD)
        assert (status, body["code"]) == (400, "ID_ALREADY_CONVERTED")
        assert sim._credits["us-org"] == 90  # 5 credits a call
        assert sim.stats.convert_requests["us-org"] == 2


@pytest.mark.parametrize(
    "lead, body, code, in_data",
    [
        (DUP, None, "DUPLICATE_DATA", False),
        (DEALLESS, {"data": [{"Deals": DEAL}]}, "MANDATORY_NOT_FOUND", True),
        ("99", None, "INVALID_DATA", False),
        (GOOD, {"data": [{"Deals": {"Deal_Name": "x"}}]}, "MANDATORY_NOT_FOUND", True),
    ],
)
def test_the_single_convert_tells_the_leads_reason(sim, lead, body, code, in_data):
    status, answer = convert(sim, lead, body)
    item = answer["data"][0] if in_data else answer
    assert (status, item["code"]) == (400, code)
    assert not list(validator("convert_error.json").iter_errors(answer))
    assert not sim.lead_state(GOOD)["converted"]


def test_a_job_reaching_a_lead_converted_by_the_single_convert_fails_it(sim, clock):
    job = schedule(sim, clock, [GOOD, GOOD2])
    assert convert(sim, GOOD)[0] == 200
    clock.advance(5.0)
    assert (status_of(sim, job)["Converted_Count"], status_of(sim, job)["Failed_Count"]) == (1, 1)


# -- faults of the POST ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, status, made",
    [("429", 429, 0), ("500", 500, 0), ("post_500_after_create", 500, 1), ("ok", 200, 1)],
)
def test_post_faults_with_and_without_a_job(clock, fault, status, made):
    with Simulator(ORGS, leads=LEADS, clock=clock, faults=Faults(post_script=[fault])) as sim:
        got, _ = post(sim, {"ids": [GOOD]})
        assert (got, len(sim.jobs)) == (status, made)
        assert [e[4] for e in sim.stats.log if e[1] == "schedule"] == [status]


def test_a_reset_post_creates_no_job(clock):
    with Simulator(ORGS, leads=LEADS, clock=clock, faults=Faults(post_script=["reset"])) as sim:
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            post(sim, {"ids": [GOOD]})
        assert sim.jobs == {}


def test_a_post_held_after_create_is_answered_once_released(clock):
    faults = Faults(post_script=["post_hang_after_create"])
    with Simulator(ORGS, leads=LEADS, clock=clock, faults=faults) as sim:
        got = []
        worker = threading.Thread(target=lambda: got.append(post(sim, {"ids": [GOOD]})))
        worker.start()
        assert sim.post_held.wait(10)
        assert len(sim.jobs) == 1 and got == []  # the job exists, its answer does not
        sim.release_held_posts()
        worker.join(10)
        assert got[0][0] == 200 and got[0][1]["details"]["job_id"] in sim.jobs


# -- the default scenario ----------------------------------------------------------------------


def test_default_scenario_holds_leads_of_every_org_and_writes_them(tmp_path):
    with default_scenario(n_jobs=4, n_leads=30, clock=SimClock(start=T0)) as sim:
        sim.write_leads_csv(tmp_path / "leads.csv")
        rows = (tmp_path / "leads.csv").read_text().splitlines()
        problems = [lead.problem for lead in sim.leads.values()]
        ids = sim.lead_ids()
    assert rows[0] == "lead_id,org" and len(rows) == 1 + 4 * 30 == 1 + len(ids)
    assert {r.split(",")[1] for r in rows[1:]} == {"us-org", "eu-org", "in-org", "au-org"}
    assert all(len(i) == 19 for i in ids) and 0 < sum(p is not None for p in problems) < 30
    again = default_scenario(n_jobs=4, n_leads=30, clock=SimClock(start=T0))
    assert again.lead_ids() == ids


def test_a_post_answered_after_the_clients_timeout_has_made_its_job(clock):
    from zcrm_notebook.auth import OrgCredentials
    from zcrm_notebook.client import ZohoClient
    from zcrm_notebook.errors import TransportError

    faults = Faults(post_script=["post_timeout_after_create"], post_hold_s=1.0)
    with Simulator(ORGS, leads=LEADS, clock=clock, faults=faults) as sim:
        creds = OrgCredentials(org="us-org", **sim.org_config("us-org"))
        client = ZohoClient(creds, timeout_s=0.2, clock=clock.time)
        with pytest.raises(TransportError) as err:
            client.schedule_mass_convert({"ids": [GOOD]})
        assert err.value.sent and err.value.code in ("ReadTimeout", "CallTimeout")
        assert [j.lead_ids for j in sim.jobs.values()] == [(GOOD,)]
