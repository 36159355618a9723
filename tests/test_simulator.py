"""The Zoho simulator, spoken to over loopback HTTP only (http.client), on a manual clock."""

from __future__ import annotations

import csv
import http.client
import json
import logging
import threading
from urllib.parse import urlencode, urlsplit

import pytest

from zcrm_notebook.simulator import (
    FAULT_NAMES,
    UNKNOWN_ORG,
    Faults,
    SimClock,
    SimJob,
    SimOrg,
    Simulator,
    default_scenario,
)

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

T0 = 1_767_225_600.0
JOB = "3652397000009835020"  # us-org, 10 leads, 2 failed, queue 10 s, 2 leads/s, stall 5 s
JOB_EU = "3652397000009835021"  # eu-org
JOB_FAILS = "3652397000009835022"  # us-org, whole job fails
PATH = "/crm/v5/Leads/actions/mass_convert"


def org(name, dc, **kw):
    return SimOrg(name, dc, f"1000.{name.upper()}", f"secret-{name}", f"1000.rt.{name}", **kw)


ORGS = [
    org("us-org", "us"),
    org("eu-org", "eu"),
    org("us-noperm", "us", no_permission=True),
    org("us-createonly", "us", scopes=("ZohoCRM.mass_convert.leads.CREATE",)),
    org("us-capped", "us", concurrency_cap=2),
]
JOBS = [
    SimJob(JOB, "us-org", 10, queue_delay_s=10, leads_per_s=2, failed=2, stall_s=5),
    SimJob(JOB_EU, "eu-org", 4),
    SimJob(JOB_FAILS, "us-org", 8, leads_per_s=1, outcome="failed", failed=1),
]


def call(url, method="GET", *, body=None, headers=None):
    """(status, headers, body bytes) of one request, on a fresh loopback connection."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def token_call(sim, dc, **fields):
    status, _, body = call(
        f"{sim.accounts_url(dc)}/oauth/v2/token",
        "POST",
        body=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200  # Zoho Accounts answers 200 even for errors
    return json.loads(body)


def refresh(sim, name, dc=None, **override):
    cfg = sim.org_config(name)
    fields = {
        "grant_type": "refresh_token",
        "client_id": cfg["client_id"],
        "client_secret": cfg["client_secret"],
        "refresh_token": cfg["refresh_token"],
    }
    return token_call(sim, dc or cfg["dc"], **{**fields, **override})


def token(sim, name):
    answer = refresh(sim, name)
    assert "access_token" in answer, answer
    return answer["access_token"]


def get_status(sim, dc, tok, job_id, *, version="v5", scheme="Zoho-oauthtoken"):
    url = f"{sim.api_domain(dc)}/crm/{version}/Leads/actions/mass_convert?job_id={job_id}"
    headers = {"Authorization": f"{scheme} {tok}"} if tok else {}
    status, hdrs, body = call(url, headers=headers)
    return status, hdrs, (json.loads(body) if body and body.startswith(b"{") else body)


@pytest.fixture
def clock():
    return SimClock(start=T0)


@pytest.fixture
def sim(clock):
    with Simulator(ORGS, JOBS, clock=clock) as s:
        yield s


# -- clock ------------------------------------------------------------------------------


def test_manual_clock_sleep_advances_without_waiting():
    c = SimClock(start=100.0)
    assert c.manual and c.time() == 100.0
    c.sleep(3600)
    c.advance(0.5)
    c.sleep(-5)
    assert c.time() == 3700.5
    with pytest.raises(ValueError):
        c.advance(-1)


def test_accelerated_clock_runs_faster_than_real_time():
    c = SimClock(start=0.0, speed=10_000.0)
    first = c.time()
    c.sleep(10.0)  # 1 ms real
    assert c.time() - first >= 10.0
    with pytest.raises(ValueError):
        SimClock(speed=0)


# -- accounts ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["seconds", "ms"])
def test_refresh_success_in_both_expires_styles(clock, style):
    with Simulator(ORGS, JOBS, clock=clock, expires_in_style=style) as s:
        answer = refresh(s, "eu-org")
        assert answer["api_domain"] == s.api_domain("eu") == f"{s.base_url}/eu/api"
        assert answer["token_type"] == "Bearer"
        assert "refresh_token" not in answer
        if style == "ms":
            assert answer["expires_in"] == 3_600_000 and answer["expires_in_sec"] == 3600
        else:
            assert answer["expires_in"] == 3600 and "expires_in_sec" not in answer
        status, _, _ = get_status(s, "eu", answer["access_token"], JOB_EU)
        assert status == 200


def test_token_errors_come_back_as_http_200(sim):
    us = sim.org_config("us-org")
    assert refresh(sim, "us-org", dc="eu") == {"error": "invalid_client"}  # another DC
    assert refresh(sim, "us-org", client_id="1000.NOPE") == {"error": "invalid_client"}
    secret = " " + us["client_secret"]
    assert refresh(sim, "us-org", client_secret=secret) == {"error": "invalid_client_secret"}
    assert refresh(sim, "us-org", refresh_token="1000.x.y") == {"error": "invalid_code"}
    other_orgs_token = sim.org_config("eu-org")["refresh_token"]
    assert refresh(sim, "us-org", refresh_token=other_orgs_token) == {"error": "invalid_code"}
    status, _, body = call(
        f"{us['accounts_url']}/oauth/v2/token",
        "POST",
        body=json.dumps({"grant_type": "refresh_token", **us}),
        headers={"Content-Type": "application/json"},
    )
    assert (status, json.loads(body)) == (200, {"error": "invalid_client"})
    assert sim.stats.token_requests["us-org"] == 4
    assert sim.stats.token_requests[UNKNOWN_ORG] == 2  # unknown client id, JSON body
    assert sim.stats.token_requests_by_grant["refresh_token"] == 5
    assert sim.stats.token_requests_by_grant[""] == 1  # a JSON body has no form fields


def test_token_creation_is_throttled_per_refresh_token(clock):
    with Simulator(ORGS, JOBS, clock=clock, token_throttle=(3, 600.0)) as s:
        for _ in range(3):
            assert "access_token" in refresh(s, "us-org")
        denied = refresh(s, "us-org")
        assert denied["error"] == "Access Denied" and "too many requests" in str(denied)
        assert "access_token" in refresh(s, "eu-org")  # other refresh token: own budget
        clock.advance(601)
        assert "access_token" in refresh(s, "us-org")


def test_grant_token_is_single_use_and_expires(sim, clock):
    cfg = sim.org_config("us-org")
    code = sim.issue_grant_token("us-org")
    fields = {
        "grant_type": "authorization_code",
        "client_id": cfg["client_id"],
        "client_secret": cfg["client_secret"],
        "redirect_uri": "https://example.invalid/cb",
        "code": code,
    }
    first = token_call(sim, "us", **fields)
    assert first["refresh_token"] != cfg["refresh_token"]
    assert "ZohoCRM.mass_convert.leads.READ" in first["scope"]
    assert token_call(sim, "us", **fields) == {"error": "invalid_code"}
    again = refresh(sim, "us-org", refresh_token=first["refresh_token"])
    assert get_status(sim, "us", again["access_token"], JOB)[0] == 200
    late = sim.issue_grant_token("us-org", lifetime_s=180)
    clock.advance(181)
    assert token_call(sim, "us", **{**fields, "code": late}) == {"error": "invalid_code"}
    elsewhere = sim.issue_grant_token("us-org")
    assert token_call(sim, "eu", **{**fields, "code": elsewhere}) == {"error": "invalid_client"}


def test_revoked_refresh_token_and_its_access_tokens_stop_working(sim):
    tok = token(sim, "us-org")
    rt = sim.org_config("us-org")["refresh_token"]
    status, _, body = call(
        f"{sim.accounts_url('us')}/oauth/v2/token/revoke?{urlencode({'token': rt})}", "POST"
    )
    assert (status, json.loads(body)) == (200, {"status": "success"})
    assert refresh(sim, "us-org") == {"error": "invalid_code"}
    assert get_status(sim, "us", tok, JOB)[0] == 401
    assert [e[1:3] for e in sim.stats.log if e[1] == "revoke"] == [("revoke", "us-org")]


def revoke_call(sim, tok):
    status, _, body = call(
        f"{sim.accounts_url('us')}/oauth/v2/token/revoke",
        "POST",
        body=urlencode({"token": tok}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return status, body


def test_revoking_an_unknown_or_revoked_token_answers_400(sim):
    assert revoke_call(sim, "1000.made.up") == (400, b"")
    rt = sim.org_config("us-org")["refresh_token"]
    assert revoke_call(sim, rt) == (200, b'{"status": "success"}')
    assert revoke_call(sim, rt) == (400, b"")  # already revoked
    assert [e[2:] for e in sim.stats.log] == [
        ("(unknown)", None, 400),
        ("us-org", None, 200),
        ("(unknown)", None, 400),
    ]


def test_the_16th_access_token_invalidates_the_oldest(clock):
    with Simulator(ORGS, JOBS, clock=clock, max_active_access_tokens=3) as s:
        first, second, third = (token(s, "us-org") for _ in range(3))
        assert get_status(s, "us", first, JOB)[0] == 200
        fourth = token(s, "us-org")
        assert get_status(s, "us", first, JOB)[2]["code"] == "INVALID_TOKEN"  # the oldest
        assert all(get_status(s, "us", t, JOB)[0] == 200 for t in (second, third, fourth))
    with Simulator(ORGS, JOBS, clock=clock) as s:  # Zoho's numbers
        tokens = [token(s, "eu-org") for _ in range(10)]
        clock.advance(601)  # past the 10-per-10-minutes window
        tokens += [token(s, "eu-org") for _ in range(6)]
        alive = [get_status(s, "eu", t, JOB_EU)[0] for t in tokens]
        assert alive == [401] + [200] * 15


def test_the_21st_refresh_token_invalidates_the_first(clock):
    with Simulator(ORGS, JOBS, clock=clock) as s:  # Zoho's 20 refresh tokens per user
        cfg = s.org_config("us-org")
        grant = {
            "grant_type": "authorization_code",
            "client_id": cfg["client_id"],
            "client_secret": cfg["client_secret"],
        }
        made = [
            token_call(s, "us", **grant, code=s.issue_grant_token("us-org"))["refresh_token"]
            for _ in range(19)
        ]
        assert "access_token" in refresh(s, "us-org")  # the configured one is the first
        made.append(
            token_call(s, "us", **grant, code=s.issue_grant_token("us-org"))["refresh_token"]
        )
        assert refresh(s, "us-org") == {"error": "invalid_code"}
        assert all("access_token" in refresh(s, "us-org", refresh_token=rt) for rt in made[:5])


# -- CRM status -------------------------------------------------------------------------


def test_status_progresses_with_the_clock_and_finishes_at_true_finish_at(sim, clock):
    tok = token(sim, "us-org")
    finish = sim.true_finish_at(JOB)
    assert finish == pytest.approx(T0 + 10 + 10 / 2 + 5)
    seen, first_completed, previous = [], None, 0
    while first_completed is None:
        status, _, body = get_status(sim, "us", tok, JOB)
        item = body["data"][0]
        assert status == 200 and item["Total_Count"] == 10
        assert item["Converted_Count"] + item["Failed_Count"] + item["Not_Converted_Count"] == 10
        done = item["Converted_Count"] + item["Failed_Count"]
        assert done >= previous
        previous = done
        if not seen or seen[-1] != item["Status"]:
            seen.append(item["Status"])
        if item["Status"] == "COMPLETED":
            first_completed = clock.time()
            assert (item["Converted_Count"], item["Failed_Count"]) == (8, 2)
        clock.advance(0.25)
    assert seen == ["SCHEDULED", "IN PROGRESS", "COMPLETED"]  # the case of Zoho's sample
    assert finish <= first_completed < finish + 0.25
    assert sim.expected_status(JOB, finish)["Status"] == "COMPLETED"
    assert sim.expected_status(JOB, finish - 1e-6)["Status"] == "IN PROGRESS"


def test_stall_pauses_progress_at_half_way(sim):
    half = T0 + 10 + 2.5
    counts = {
        sim.expected_status(JOB, t)["Not_Converted_Count"] for t in (half, half + 2, half + 4.9)
    }
    assert counts == {5}
    assert sim.expected_status(JOB, half + 5.6)["Not_Converted_Count"] == 4


def test_answers_are_a_pure_function_of_time(sim):
    tok = token(sim, "us-org")
    answers = [get_status(sim, "us", tok, JOB)[2] for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["data"][0] == sim.expected_status(JOB)


def test_whole_job_failure(sim, clock):
    tok = token(sim, "us-org")
    clock.advance(sim.true_finish_at(JOB_FAILS) - T0)
    item = get_status(sim, "us", tok, JOB_FAILS)[2]["data"][0]
    assert item["Status"] == "FAILED"
    assert item["Not_Converted_Count"] == 0
    assert item["Converted_Count"] + item["Failed_Count"] == 8 and item["Failed_Count"] >= 4


@pytest.mark.parametrize("version", ["v5", "v6", "v7", "v8"])
def test_every_api_version_answers(sim, version):
    assert get_status(sim, "us", token(sim, "us-org"), JOB, version=version)[0] == 200


def test_job_id_whitespace_is_stripped(sim):
    status, _, body = get_status(sim, "us", token(sim, "us-org"), "%20" + JOB)
    assert status == 200 and sim.stats.requests_by_job[JOB] == 1


def test_bad_job_ids(sim):
    tok = token(sim, "us-org")
    for job_id in ("1234567890123456789", JOB_EU, "abc"):
        status, _, body = get_status(sim, "us", tok, job_id)
        assert status == 400
        assert body == {  # details: OAS InvalidParamError; message: Zoho's for INVALID_DATA
            "code": "INVALID_DATA",
            "details": {"param_name": "job_id"},
            "message": "invalid data",
            "status": "error",
        }
    status, _, body = call(
        f"{sim.api_domain('us')}{PATH}", headers={"Authorization": f"Zoho-oauthtoken {tok}"}
    )
    assert status == 400 and json.loads(body) == {
        "code": "REQUIRED_PARAM_MISSING",
        "details": {"param_name": "job_id", "param": "job_id"},  # OAS common.json
        "message": "One of the expected parameter is missing",
        "status": "error",
    }


def test_invalid_tokens_answer_401(sim, clock):
    tok = token(sim, "us-org")
    invalid = {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }
    no_header = {
        "code": "AUTHENTICATION_FAILURE",
        "details": {},
        "message": "Authentication failed",
        "status": "error",
    }
    assert get_status(sim, "us", None, JOB)[::2] == (401, no_header)
    assert get_status(sim, "us", tok, JOB, scheme="Bearer")[::2] == (401, no_header)  # garbled
    assert get_status(sim, "us", "", JOB, scheme="Zoho-oauthtoken")[::2] == (401, no_header)
    assert get_status(sim, "eu", tok, JOB_EU)[::2] == (401, invalid)  # token of another DC
    assert get_status(sim, "us", "1000.made.up", JOB)[::2] == (401, invalid)
    assert get_status(sim, "us", tok, JOB)[0] == 200
    clock.advance(3600)
    assert get_status(sim, "us", tok, JOB)[::2] == (401, invalid)  # expired
    assert get_status(sim, "us", token(sim, "us-org"), JOB)[0] == 200


def test_scope_mismatch_and_no_permission(sim):
    status, _, body = get_status(sim, "us", token(sim, "us-createonly"), JOB)
    assert (status, body["code"]) == (401, "OAUTH_SCOPE_MISMATCH")
    status, _, body = get_status(sim, "us", token(sim, "us-noperm"), JOB)
    assert status == 403
    assert body == {
        "code": "NO_PERMISSION",
        "details": {"permissions": ["Crm_Implied_Mass_Convert_Leads"]},  # name UNVERIFIED
        "message": "permission denied",
        "status": "error",
    }


def test_unknown_paths_answer_invalid_url_pattern(sim):
    tok = token(sim, "us-org")
    assert get_status(sim, "us", tok, JOB, version="v4")[::2] == (
        404,
        {
            "code": "INVALID_URL_PATTERN",
            "details": {},
            "message": "Please check if the URL trying to access is a correct one",
            "status": "error",
        },
    )
    assert call(f"{sim.base_url}/zz/api{PATH}")[0] == 404
    assert call(f"{sim.base_url}/us/api/crm/v5/Deals")[0] == 404


# -- faults -----------------------------------------------------------------------------

ERRORS = {
    "429": (429, "TOO_MANY_REQUESTS"),
    "500": (500, "INTERNAL_ERROR"),
    "404": (404, "INVALID_URL_PATTERN"),
    "required_param_missing": (400, "REQUIRED_PARAM_MISSING"),
    "invalid_token": (401, "INVALID_TOKEN"),
    "auth_failure": (401, "AUTHENTICATION_FAILURE"),
    "scope_mismatch": (401, "OAUTH_SCOPE_MISMATCH"),
    "no_permission": (403, "NO_PERMISSION"),
    "invalid_data": (400, "INVALID_DATA"),
}


def scripted(clock, *names, **faults):
    return Simulator(ORGS, JOBS, clock=clock, faults=Faults(script={JOB: list(names)}, **faults))


@pytest.mark.parametrize("fault", sorted(ERRORS))
def test_scripted_error_faults(clock, fault):
    with scripted(clock, fault) as s:
        tok = token(s, "us-org")
        status, _, body = get_status(s, "us", tok, JOB)
        assert (status, body["code"], body["status"]) == (*ERRORS[fault], "error")
        assert get_status(s, "us", tok, JOB)[0] == 200  # consumed: next answer is normal


def test_scripted_503_is_an_outage_page_not_zoho_s_envelope(clock):
    with scripted(clock, "503") as s:
        url = f"{s.api_domain('us')}{PATH}?job_id={JOB}"
        status, hdrs, body = call(
            url, headers={"Authorization": f"Zoho-oauthtoken {token(s, 'us-org')}"}
        )
        assert status == 503 and hdrs["Content-Type"].startswith("text/html")
        assert b"Service Unavailable" in body


def test_scripted_format_faults(clock):
    names = ["html", "truncated", "204", "missing_data", "unknown_status"]
    with scripted(clock, *names) as s:
        tok = token(s, "us-org")
        url = f"{s.api_domain('us')}{PATH}?job_id={JOB}"
        auth = {"Authorization": f"Zoho-oauthtoken {tok}"}
        status, hdrs, body = call(url, headers=auth)
        assert status == 200 and hdrs["Content-Type"].startswith("text/html") and b"<html" in body
        status, _, body = call(url, headers=auth)
        with pytest.raises(ValueError):
            json.loads(body)
        assert status == 200 and body.startswith(b'{"data"')
        assert call(url, headers=auth)[::2] == (204, b"")
        assert json.loads(call(url, headers=auth)[2]) == {"info": {}}
        assert json.loads(call(url, headers=auth)[2])["data"][0]["Status"] == "PAUSED"
        assert json.loads(call(url, headers=auth)[2])["data"][0]["Status"] == "SCHEDULED"


def test_scripted_backwards_fault_goes_below_the_previous_answer(clock):
    with scripted(clock) as s:
        tok = token(s, "us-org")
        clock.advance(s.true_finish_at(JOB) - T0)
        before = get_status(s, "us", tok, JOB)[2]["data"][0]
        s.faults.script[JOB].append("backwards")  # appended later: still used
        after = get_status(s, "us", tok, JOB)[2]["data"][0]
        assert before["Status"] == "COMPLETED" and after["Status"] == "IN PROGRESS"
        assert after["Not_Converted_Count"] > before["Not_Converted_Count"]
        assert get_status(s, "us", tok, JOB)[2]["data"][0] == before


def test_scripted_reset_and_slow(clock):
    with scripted(clock, "reset", "slow", slow_s=0.05) as s:
        tok = token(s, "us-org")
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            get_status(s, "us", tok, JOB)
        assert s.stats.answers[("us-org", None)] == 1
        assert get_status(s, "us", tok, JOB)[0] == 200  # slow, then normal
        assert s.stats.requests_by_job[JOB] == 2


def test_unknown_fault_name_is_refused(clock):
    assert "reset" in FAULT_NAMES
    with pytest.raises(ValueError, match="unknown fault"):
        Simulator(ORGS, JOBS, clock=clock, faults=Faults(script={JOB: ["explode"]}))


def test_random_faults_retry_after_and_credits(clock):
    faults = Faults(rate_429=1.0, retry_after_s=2.5, credits_remaining=2, credits_header=True)
    with Simulator(ORGS, JOBS, clock=clock, faults=faults) as s:
        tok = token(s, "us-org")
        status, hdrs, body = get_status(s, "us", tok, JOB)
        assert (status, body["code"], hdrs["Retry-After"]) == (429, "TOO_MANY_REQUESTS", "2.5")
        assert hdrs["X-API-CREDITS-REMAINING"] == "1"
        s.faults.rate_429, s.faults.rate_5xx = 0.0, 1.0
        status, hdrs, body = get_status(s, "us", tok, JOB)
        assert (status, body["code"], hdrs["X-API-CREDITS-REMAINING"]) == (
            500,
            "INTERNAL_ERROR",
            "0",
        )
        s.faults.rate_5xx = 0.0
        status, hdrs, _ = get_status(s, "us", tok, JOB)  # credits exhausted
        assert (status, hdrs["X-API-CREDITS-REMAINING"]) == (429, "0")


def test_credits_are_metered_without_the_undocumented_header_by_default(clock):
    with Simulator(ORGS, JOBS, clock=clock, faults=Faults(credits_remaining=1)) as s:
        tok = token(s, "us-org")
        status, hdrs, _ = get_status(s, "us", tok, JOB)
        assert status == 200 and "X-API-CREDITS-REMAINING" not in hdrs
        status, hdrs, body = get_status(s, "us", tok, JOB)
        assert (status, body["code"]) == (429, "TOO_MANY_REQUESTS")
        assert "X-API-CREDITS-REMAINING" not in hdrs and "Retry-After" not in hdrs


@pytest.mark.parametrize("casing", [True, "wild"])
def test_wild_status_casing_varies(clock, casing):
    with Simulator(ORGS, JOBS, clock=clock, faults=Faults(status_casing=casing, seed=3)) as s:
        tok = token(s, "us-org")
        clock.advance(s.true_finish_at(JOB) - T0)
        words = {get_status(s, "us", tok, JOB)[2]["data"][0]["Status"] for _ in range(20)}
        assert len(words) > 1 and words <= {"completed", "Completed", "COMPLETED"}
        assert s.expected_status(JOB, T0 + 12)["Status"] == "IN PROGRESS"  # documented


def test_lower_status_casing_is_the_page_s_list(clock):
    with Simulator(ORGS, JOBS, clock=clock, faults=Faults(status_casing="lower")) as s:
        tok = token(s, "us-org")
        assert get_status(s, "us", tok, JOB)[2]["data"][0]["Status"] == "scheduled"
        assert s.expected_status(JOB, T0 + 12)["Status"] == "in progress"
    with pytest.raises(ValueError, match="status_casing"):
        Faults(status_casing="Title").validate()


def test_concurrency_cap_answers_429_and_records_max_in_flight(clock, monkeypatch):
    from types import SimpleNamespace

    from zcrm_notebook.simulator import server

    faults = Faults(latency_s=0.3)
    with Simulator(ORGS, [SimJob(JOB, "us-capped", 5)], clock=clock, faults=faults) as s:
        tok = token(s, "us-capped")
        all_in = threading.Event()

        def held(_latency_s):  # every answer waits until all six requests are in flight
            if s.stats.status_requests["us-capped"] == 6:
                all_in.set()
            assert all_in.wait(10)

        monkeypatch.setattr(server, "time", SimpleNamespace(sleep=held))
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(get_status(s, "us", tok, JOB)[0]))
            for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(results) == [200, 200, 429, 429, 429, 429]  # the cap is 2
        assert s.stats.max_in_flight["us-capped"] == 6
        assert s.stats.answers[("us-capped", 429)] == 4
        s.faults.latency_s = 0.0
        assert get_status(s, "us", tok, JOB)[0] == 200  # in-flight count went back down


def test_keep_alive_connection_serves_many_requests(sim):
    tok = token(sim, "us-org")
    parts = urlsplit(sim.api_domain("us"))
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        for _ in range(3):
            conn.request(
                "GET",
                f"{parts.path}{PATH}?job_id={JOB}",
                headers={"Authorization": f"Zoho-oauthtoken {tok}"},
            )
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["data"]
    finally:
        conn.close()


# -- scheduling -------------------------------------------------------------------------


def test_schedule_post_creates_a_pollable_job(sim):
    tok = token(sim, "us-org")
    auth = {"Authorization": f"Zoho-oauthtoken {tok}", "Content-Type": "application/json"}
    url = f"{sim.api_domain('us')}/crm/v8/Leads/actions/mass_convert"
    status, _, body = call(url, "POST", body=json.dumps({"ids": ["111", "222"]}), headers=auth)
    answer = json.loads(body)
    assert (status, answer["code"], answer["status"]) == (200, "SCHEDULED", "success")
    assert answer["message"] == "Mass Convert scheduled successfully"
    job_id = answer["details"]["job_id"]
    assert len(job_id) == 19 and job_id.isdigit() and job_id in sim.job_ids("us-org")
    assert get_status(sim, "us", tok, job_id)[2]["data"][0]["Total_Count"] == 2
    too_many = json.dumps({"ids": [str(i) for i in range(1, 52)]})
    status, _, body = call(url, "POST", body=too_many, headers=auth)
    assert (status, json.loads(body)["code"], json.loads(body)["details"]) == (
        400,
        "LIMIT_EXCEEDED",
        {"limit": 50, "limit_due_to": [{"api_name": "ids", "json_path": "$.ids"}]},
    )
    status, _, body = call(url, "POST", body=json.dumps({"Deals": {}}), headers=auth)
    assert (status, json.loads(body)["code"], json.loads(body)["details"]) == (
        400,
        "MANDATORY_NOT_FOUND",
        {"api_name": "ids", "json_path": "$.ids"},
    )
    status, _, body = call(url, "POST", body=json.dumps({"ids": ["111", "x"]}), headers=auth)
    assert (status, json.loads(body)) == (
        400,
        {
            "code": "INVALID_DATA",
            "details": {"api_name": "ids", "json_path": "$.ids[1]"},
            "message": "invalid data",
            "status": "error",
        },
    )
    schedules = [entry[1:] for entry in sim.stats.log if entry[1] == "schedule"]
    assert schedules == [
        ("schedule", "us-org", job_id, 200),
        ("schedule", "us-org", None, 400),
        ("schedule", "us-org", None, 400),
        ("schedule", "us-org", None, 400),
    ]


def test_schedule_answers_202_behind_its_option(clock):
    with Simulator(ORGS, JOBS, clock=clock, faults=Faults(schedule_status=202)) as s:
        auth = {"Authorization": f"Zoho-oauthtoken {token(s, 'us-org')}"}
        url = f"{s.api_domain('us')}/crm/v4/Leads/actions/mass_convert"  # documented from v4
        status, _, body = call(url, "POST", body=json.dumps({"ids": ["1"]}), headers=auth)
        assert (status, json.loads(body)["code"]) == (202, "SCHEDULED")


def test_schedule_helper(sim, clock):
    job_id = sim.schedule("eu-org", range(7), queue_delay_s=1, leads_per_s=7)
    assert sim.jobs[job_id].created_at == clock.time()
    assert sim.true_finish_at(job_id) == pytest.approx(clock.time() + 2)
    with pytest.raises(ValueError):
        sim.schedule("eu-org", range(51))
    with pytest.raises(KeyError):
        sim.schedule("nowhere", [1])


# -- scenario, config, safety ----------------------------------------------------------


def test_default_scenario_shape(tmp_path):
    clock = SimClock(start=T0)
    with default_scenario(clock=clock) as s:
        jobs = list(s.jobs.values())
        assert len({o.dc for o in s.orgs}) >= 4 and len(jobs) >= 30
        assert {o.name for o in s.orgs} == {"us-org", "eu-org", "in-org", "au-org"}
        assert (
            len({o.client_id for o in s.orgs}) == 4 and len({o.refresh_token for o in s.orgs}) == 4
        )
        assert sum(j.failed > 0 for j in jobs) >= 3
        assert [j.outcome for j in jobs].count("failed") == 1
        assert any(j.stall_s > 0 for j in jobs) and all(1 <= j.total <= 50 for j in jobs)
        assert max(s.true_finish_at(j.job_id) for j in jobs) <= T0 + 180
        ids = s.job_ids()
        assert len(ids) == len(set(ids)) == len(jobs) + 1
        assert all(len(i) == 19 and i.isdigit() and i[0] != "0" for i in ids)
        unknown = s.unknown_job_id
        assert unknown in s.job_ids("us-org") and unknown not in s.jobs
        assert get_status(s, "us", token(s, "us-org"), unknown)[2]["code"] == "INVALID_DATA"

        s.write_jobs_csv(tmp_path / "jobs.csv")
        with open(tmp_path / "jobs.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["job_id", "org"] and [r[0] for r in rows[1:]] == ids
        assert [unknown, "us-org"] in rows

        s.write_config(tmp_path / "orgs.toml")
        config = tomllib.loads((tmp_path / "orgs.toml").read_text())
        assert config["orgs"]["eu-org"] == s.org_config("eu-org")
        assert set(config["orgs"]) == {o.name for o in s.orgs}
    again = default_scenario(clock=SimClock(start=T0))
    assert again.job_ids() == ids and again.orgs == s.orgs
    assert default_scenario(seed=8, clock=clock).job_ids() != ids


def test_realistic_scenario_is_slower():
    s = default_scenario(realistic=True, clock=SimClock(start=T0))
    finishes = [s.true_finish_at(j) for j in s.jobs]
    assert max(finishes) > T0 + 180
    assert any(30 <= j.stall_s <= 120 for j in s.jobs.values())


def test_config_quotes_and_escapes_odd_org_names(clock, tmp_path):
    odd = SimOrg('acme "eu"\\x', "eu", "1000.A", 'sec"ret\n', "1000.rt")
    with Simulator([odd], clock=clock) as s:
        s.write_config(tmp_path / "c.toml")
        parsed = tomllib.loads((tmp_path / "c.toml").read_text())
        assert parsed["orgs"][odd.name]["client_secret"] == 'sec"ret\n'
        assert parsed["orgs"][odd.name]["api_version"] == "v5"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_refuses_non_loopback_hosts(host):
    with pytest.raises(ValueError, match="loopback"):
        Simulator(ORGS, JOBS, host=host)


def test_localhost_binds_to_127_0_0_1(clock):
    with Simulator(ORGS, JOBS, clock=clock, host="localhost") as s:
        assert s.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        s.base_url  # noqa: B018


def test_stats_and_log_never_show_secrets(sim, caplog):
    caplog.set_level(logging.DEBUG)
    tok = token(sim, "us-org")
    get_status(sim, "us", tok, JOB)
    get_status(sim, "us", tok, "999")
    secret = sim.org_config("us-org")["client_secret"]
    assert secret not in repr(sim.orgs) and secret not in repr(sim)
    assert tok not in caplog.text and secret not in caplog.text
    assert sim.stats.status_requests["us-org"] == 2
    assert sim.stats.answers[("us-org", 400)] == 1
    assert [entry[1] for entry in sim.stats.log] == ["token", "status", "status"]
    sim.stats.reset()
    assert sim.stats.log == [] and sim.stats.status_requests["us-org"] == 0


def test_paced_sleep_moves_the_clock_only_while_waiting():
    clock = SimClock()
    start = clock.time()
    sleep = clock.paced_sleep(1e6)
    assert clock.time() == start  # nothing moves until the poller waits
    sleep(30.0)
    assert clock.time() == start + 30.0
    with pytest.raises(ValueError, match="positive"):
        clock.paced_sleep(0)


def test_the_date_header_is_the_simulated_clock_when_the_answer_was_made(sim, clock):
    """Zoho's Date and its record times (Converted_Date_Time) are on one clock: the
    simulated one, not this machine's."""
    tok = token(sim, "us-org")
    clock.sleep(1800.5)
    status, hdrs, _ = get_status(sim, "us", tok, JOB)
    assert status == 200
    assert hdrs["Date"] == "Thu, 01 Jan 2026 00:30:00 GMT"  # T0 + 1800.5 s, whole seconds


def test_the_repr_counts_the_unknown_job_id_of_the_job_list():
    """Trial 5: the repr said jobs=36 while job_ids() (and jobs.csv) held 37 ids."""
    sim = default_scenario(n_jobs=3, n_leads=0)
    assert len(sim.job_ids()) == 4 and len(sim.jobs) == 3
    assert "jobs=3 (+1 unknown id in job_ids/jobs.csv) stopped" in repr(sim)
