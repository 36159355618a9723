"""Contract (a): every answer the simulator gives fits the JSON Schema of its endpoint.

The simulator is driven through its scenarios (the default one polled to the end by the
Poller, in each status casing), every scripted fault and every endpoint with every error
it knows (token, revoke, status GET, mass-convert POST, Get Records, single convert, the
POST's faults); each answer is recorded where the
server writes it and validated against ``schemas/`` (Zoho's documented answers). The
deliberately broken faults are excepted, explicitly: :data:`BROKEN`. An error envelope
must also carry the HTTP status Zoho documents for its code. Loopback only, manual clock.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import pytest
from conftest import sim_orgs
from contract_schemas import validator

from zcrm_notebook.api.datacenters import DATA_CENTERS
from zcrm_notebook.poll import Poller
from zcrm_notebook.poll.policy import PollPolicy
from zcrm_notebook.simulator import (
    FAULT_NAMES,
    Faults,
    SimClock,
    SimJob,
    SimLead,
    SimOrg,
    Simulator,
    default_scenario,
)
from zcrm_notebook.simulator.zoho_errors import ERRORS

#: Faults whose answers are deliberately not Zoho's documented answer (``Answer.fault``).
BROKEN = {
    "html": "an HTML page with HTTP 200 (a proxy), not JSON",
    "truncated": "JSON cut in half",
    "503": "a load balancer's HTML page; Zoho documents no 503",
    "204": "no body; a 204 is not documented for the status call",
    "missing_data": '{"info": {}} has no "data"',
    "unknown_status": "status word PAUSED, which no source has",
    "status_casing": "Title case, IN_PROGRESS, RUNNING: casings no source documents here",
    "reset": "no answer at all",
}
STATUS_PATH = "/crm/{v}/Leads/actions/mass_convert"
LOOPBACK_API = re.compile(r"http://127\.0\.0\.1:\d+/(?P<dc>[a-z]+)/api")
JOB, JOB_EU, NEW = "3652397000009835020", "3652397000009835021", "3652397000009835099"


@dataclass
class Seen:
    endpoint: str
    method: str
    status: int
    body: bytes
    fault: str
    headers: dict


def _endpoint(method: str, path: str) -> str:
    if path.endswith("/oauth/v2/token"):
        return "token"
    if path.endswith("/oauth/v2/token/revoke"):
        return "revoke"
    if path.endswith("/Leads/actions/mass_convert"):
        return {"GET": "status", "POST": "mass_convert_post"}.get(method, "other")
    if path.endswith("/Leads") and method == "GET":
        return "records"
    if path.endswith("/actions/convert") and method == "POST":
        return "convert"
    return "other"


def record(sim: Simulator, seen: list[Seen]) -> Simulator:
    """Keep every answer ``sim`` gives (where its server writes them) in ``seen``."""
    handle, lock = sim.handle, threading.Lock()

    def recording(method, target, headers, body):
        answer, done = handle(method, target, headers, body)
        item = Seen(
            _endpoint(method, urlsplit(target).path),
            method,
            answer.status,
            answer.body,
            answer.fault or ("reset" if answer.reset else ""),
            dict(answer.headers),
        )
        with lock:
            seen.append(item)
        return answer, done

    sim.handle = recording  # type: ignore[method-assign]
    return sim


def call(url, method="GET", body=None, headers=None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (ConnectionError, http.client.HTTPException):
        return None, b""
    finally:
        conn.close()


def form(sim, dc, path="/oauth/v2/token", **fields):
    head = {"Content-Type": "application/x-www-form-urlencoded"}
    status, body = call(f"{sim.accounts_url(dc)}{path}", "POST", urlencode(fields), head)
    return json.loads(body) if body else {}


def refresh(sim, name, **override):
    cfg = sim.org_config(name)
    fields = {k: cfg[k] for k in ("client_id", "client_secret", "refresh_token")}
    return form(sim, cfg["dc"], **{"grant_type": "refresh_token", **fields, **override})


def crm(sim, dc, token, method="GET", version="v5", query="", body=None, scheme="Zoho-oauthtoken"):
    url = sim.api_domain(dc) + STATUS_PATH.format(v=version) + (f"?{query}" if query else "")
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return call(url, method, body, headers)


# -- driving the simulator --------------------------------------------------------------


def poll_scenarios(seen):
    """The default scenario polled to the end, in each status casing (Poller, manual clock)."""
    for casing, n_jobs in (("documented", 36), ("lower", 8), ("wild", 8)):
        clock = SimClock()
        faults = Faults(status_casing=casing, seed=2)
        with record(default_scenario(n_jobs=n_jobs, clock=clock, faults=faults), seen) as sim:
            jobs = {o.name: sim.job_ids(o.name) for o in sim.orgs}
            policy = PollPolicy(seed=1)
            Poller(jobs, sim_orgs(sim), clock=clock.time, sleep=clock.sleep, policy=policy).run()


ORGS = [
    SimOrg("us-org", "us", "1000.US", "secret-us", "1000.rt.us", concurrency_cap=1),
    SimOrg("eu-org", "eu", "1000.EU", "secret-eu", "1000.rt.eu"),
    SimOrg("noperm", "us", "1000.NP", "secret-np", "1000.rt.np", no_permission=True),
    SimOrg("readonly", "us", "1000.RO", "secret-ro", "1000.rt.ro", scopes=("x.READ",)),
]
JOBS = [SimJob(JOB, "us-org", 10, leads_per_s=2), SimJob(JOB_EU, "eu-org", 4)]


def every_fault(seen):
    """Each scripted fault once, in order, then a normal answer; each Faults option."""
    clock = SimClock()
    faults = Faults(script={JOB: sorted(FAULT_NAMES)}, slow_s=0.01)
    with record(Simulator(ORGS, JOBS, clock=clock, faults=faults), seen) as sim:
        tok = refresh(sim, "us-org")["access_token"]
        for _ in range(len(FAULT_NAMES) + 1):
            crm(sim, "us", tok, query=f"job_id={JOB}")
    options = Faults(
        rate_429=0.5, rate_5xx=0.5, retry_after_s=1.5, credits_remaining=6, credits_header=True
    )
    with record(Simulator(ORGS, JOBS, clock=clock, faults=options), seen) as sim:
        tok = refresh(sim, "us-org")["access_token"]
        for _ in range(8):  # random 500 / 429, then credits exhausted
            crm(sim, "us", tok, query=f"job_id={JOB}")


def every_crm_error(seen):
    clock = SimClock()
    with record(Simulator(ORGS, JOBS, clock=clock), seen) as sim:
        tok = refresh(sim, "us-org")["access_token"]
        ids = json.dumps({"ids": ["111", "222"]})
        crm(sim, "us", None, query=f"job_id={JOB}")  # AUTHENTICATION_FAILURE
        crm(sim, "us", tok, scheme="Bearer", query=f"job_id={JOB}")
        crm(sim, "us", "1000.made.up", query=f"job_id={JOB}")  # INVALID_TOKEN
        crm(sim, "eu", tok, query=f"job_id={JOB_EU}")  # token of another DC
        crm(sim, "us", refresh(sim, "readonly")["access_token"], query=f"job_id={JOB}")
        crm(sim, "us", refresh(sim, "noperm")["access_token"], query=f"job_id={JOB}")
        crm(sim, "us", refresh(sim, "noperm")["access_token"], "POST", body=ids)
        crm(sim, "us", refresh(sim, "readonly")["access_token"], "POST", body=ids)
        for query in (f"job_id={JOB_EU}", "job_id=1234567890123456789", "job_id=abc", ""):
            crm(sim, "us", tok, query=query)  # INVALID_DATA, REQUIRED_PARAM_MISSING
        for version in ("v4", "v9"):
            crm(sim, "us", tok, version=version, query=f"job_id={JOB}")  # INVALID_URL_PATTERN
        crm(sim, "us", tok, "PUT", query=f"job_id={JOB}")  # INVALID_REQUEST_METHOD
        call(f"{sim.api_domain('us')}/crm/v5/Deals", headers={"Authorization": "x"})
        call(f"{sim.base_url}/zz/api/crm/v5/Leads")
        sim.faults.latency_s = 0.2  # real seconds: three calls overlap the org's cap of 1
        threads = [
            threading.Thread(target=crm, args=(sim, "us", tok), kwargs={"query": f"job_id={JOB}"})
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)  # over the cap of 1: TOO_MANY_REQUESTS
        sim.faults.latency_s = 0.0
        for version in ("v4", "v8"):
            crm(sim, "us", tok, "POST", version=version, body=ids)  # SCHEDULED
        for body in ({"Deals": {}}, {"ids": ["1", "x"]}, {"ids": "1"}, {"ids": ["1"] * 51}):
            crm(sim, "us", tok, "POST", body=json.dumps(body))
        crm(sim, "us", tok, "POST", body="{not json")
        clock.advance(3601)
        crm(sim, "us", tok, query=f"job_id={JOB}")  # expired: INVALID_TOKEN
    with record(Simulator(ORGS, JOBS, clock=clock, faults=Faults(schedule_status=202)), seen) as s:
        crm(s, "us", refresh(s, "us-org")["access_token"], "POST", body=ids)


LEADS = [
    SimLead("11", "us-org", "Ann"),
    SimLead("12", "us-org", "Bob", "DUPLICATE_DATA"),
    SimLead("13", "us-org", "Cid", "RECORD_LOCKED"),
    SimLead("14", "us-org", "Dee", "NOT_APPROVED"),
    SimLead("15", "us-org", "Eve", "MANDATORY_NOT_FOUND"),
    SimLead("16", "us-org", "Fay"),
    SimLead("17", "us-org", "Gus"),
]
DEAL = {"Deal_Name": "d", "Stage": "Qualification", "Closing_Date": "2026-03-01"}


def lead_call(sim, tok, method, path, body=None):
    head = {"Authorization": f"Zoho-oauthtoken {tok}", "Content-Type": "application/json"}
    return call(f"{sim.api_domain('us')}/crm/v8{path}", method, body, head)


def every_lead_answer(seen):
    """The POST's checks on lead records, its faults, Get Records, the single convert."""
    clock = SimClock()
    faults = Faults(post_script=["ok", "429", "500", "reset", "post_500_after_create"])
    uncapped = SimOrg("us-org", "us", "1000.US", "secret-us", "1000.rt.us")  # calls in order
    sim = Simulator([uncapped], leads=LEADS, clock=clock, faults=faults, post_timing=(0, 5))
    with record(sim, seen):
        tok = refresh(sim, "us-org")["access_token"]
        post = "/Leads/actions/mass_convert"
        for _ in range(5):  # SCHEDULED, then the script: 429, 500, reset, 500 after create
            lead_call(sim, tok, "POST", post, json.dumps({"ids": ["11", "12", "16"]}))
        for body in (
            {"ids": ["11", "99"]},  # INVALID_DATA: not a lead of this org
            {"ids": ["11"], "Deals": {"Deal_Name": "d"}},  # MANDATORY_NOT_FOUND Stage
            {"ids": ["11"], "assign_to": {}},  # EXPECTED_FIELD_MISSING
            {"ids": ["11"], "related_modules": [{"api_name": "Deals", "id": "1"}]},
            {"ids": ["11"], "apply_assignment_threshold": True, "Deals": DEAL},
        ):
            lead_call(sim, tok, "POST", post, json.dumps(body))
        clock.advance(60)
        fields = "fields=Converted__s,Converted_Date_Time,Converted_Contact,Converted_Deal"
        for query in ("ids=11,12,16&converted=both", "ids=11", "ids=99&converted=both", "ids=11"):
            lead_call(sim, tok, "GET", f"/Leads?{query}&{fields}")  # 200, 200, 204, 204
        lead_call(sim, tok, "GET", "/Leads?ids=11")  # REQUIRED_PARAM_MISSING fields
        lead_call(sim, tok, "GET", f"/Leads?ids=11&converted=maybe&{fields}")  # INVALID_DATA
        deal = json.dumps({"data": [{"Deals": DEAL}]})
        for lead in ("11", "12", "13", "14", "15", "99"):  # converted already, the problems
            lead_call(sim, tok, "POST", f"/Leads/{lead}/actions/convert", deal)
        lead_call(sim, tok, "POST", "/Leads/17/actions/convert", "{}")  # SUCCESS, no deal


def every_accounts_answer(seen):
    clock = SimClock()
    sims = (
        Simulator(ORGS, JOBS, clock=clock, token_throttle=(2, 600.0), max_active_access_tokens=1),
        Simulator(ORGS, JOBS, clock=clock, expires_in_style="ms"),
    )
    for sim in sims:
        with record(sim, seen):
            cfg = sim.org_config("us-org")
            first = refresh(sim, "us-org")["access_token"]
            refresh(sim, "us-org")  # invalidates the first (max 1 active here)
            refresh(sim, "us-org")  # Access Denied (throttle 2 here)
            crm(sim, "us", first, query=f"job_id={JOB}")  # INVALID_TOKEN
            refresh(sim, "us-org", client_id="1000.NOPE")  # invalid_client
            refresh(sim, "us-org", client_secret="wrong")  # invalid_client_secret
            refresh(sim, "us-org", refresh_token="1000.x.y")  # invalid_code
            refresh(sim, "us-org", grant_type="password")  # unsupported_grant_type
            form(sim, "eu", grant_type="refresh_token", **{k: cfg[k] for k in ("client_id",)})
            call(
                f"{cfg['accounts_url']}/oauth/v2/token",
                "POST",
                json.dumps({"grant_type": "refresh_token", **cfg}),
                {"Content-Type": "application/json"},
            )
            grant = {"client_id": cfg["client_id"], "client_secret": cfg["client_secret"]}
            code = sim.issue_grant_token("us-org")
            for _ in range(2):  # success, then invalid_code (used)
                form(sim, "us", grant_type="authorization_code", code=code, **grant)
            form(sim, "us", "/oauth/v2/token/revoke", token=cfg["refresh_token"])
            form(sim, "us", "/oauth/v2/token/revoke", token=cfg["refresh_token"])  # 400


@pytest.fixture(scope="module")
def seen() -> list[Seen]:
    answers: list[Seen] = []
    drivers = (
        poll_scenarios,
        every_fault,
        every_crm_error,
        every_lead_answer,
        every_accounts_answer,
    )
    for drive in drivers:
        drive(answers)
    return answers


# -- the contract -----------------------------------------------------------------------


def schema_of(item: Seen) -> str | None:
    """The schema an answer must satisfy (None: Zoho documents no body for it)."""
    ok = 200 <= item.status < 300
    if item.endpoint == "token":
        return "token_success.json" if b'"access_token"' in item.body else "token_error.json"
    if item.endpoint == "revoke":
        return "revoke_success.json" if ok else None  # 400: documented status, no body
    if item.endpoint == "status":
        return "status_success.json" if ok else "status_error.json"
    if item.endpoint == "mass_convert_post":
        return "mass_convert_post_success.json" if ok else "mass_convert_post_error.json"
    if item.endpoint == "records" and item.status == 204:
        return None  # no lead matched: 204, no body (v8 status-codes.html)
    if item.endpoint == "records":
        return "records_success.json" if ok else "records_error.json"
    if item.endpoint == "convert":
        return "convert_success.json" if ok else "convert_error.json"
    return "zoho_error.json"


def as_zoho(body: object) -> object:
    """``body`` with the simulator's loopback ``api_domain`` (``http://127.0.0.1:P/eu/api``)
    replaced by the data center's HTTPS API domain it stands for: the one difference a
    loopback server cannot avoid."""
    if isinstance(body, dict) and isinstance(body.get("api_domain"), str):
        found = LOOPBACK_API.fullmatch(body["api_domain"])
        if found and found["dc"] in DATA_CENTERS:
            return {**body, "api_domain": DATA_CENTERS[found["dc"]].api_domain}
    return body


def problems(item: Seen) -> list[str]:
    """Why ``item`` is not one of Zoho's documented answers ([] when it is)."""
    schema = schema_of(item)
    if schema is None:
        documented = item.body == b"" and (item.status, item.endpoint) in (
            (400, "revoke"),
            (204, "records"),
        )
        return [] if documented else [f"{item.endpoint}: HTTP {item.status} with a body"]
    try:
        body = as_zoho(json.loads(item.body))
    except ValueError:
        return ["not JSON"]
    found = [e.message for e in validator(schema).iter_errors(body)]
    code = body.get("code") if isinstance(body, dict) and body.get("status") == "error" else None
    if code is not None and ERRORS[code].http_status != item.status:
        found.append(f"{code} with HTTP {item.status}, Zoho documents {ERRORS[code].http_status}")
    return found


def test_every_simulator_answer_fits_zoho_s_documented_answer(seen, capsys):
    checked = [s for s in seen if s.fault not in BROKEN]
    bad = [(s.endpoint, s.status, s.fault, problems(s)) for s in checked if problems(s)]
    assert bad == []
    by_endpoint = Counter(s.endpoint for s in checked)
    excepted = Counter(s.fault for s in seen if s.fault in BROKEN)
    with capsys.disabled():
        print(
            f"\ncontract (a): {len(checked)}/{len(checked)} simulator answers valid "
            f"({dict(by_endpoint)}); {sum(excepted.values())} excepted, deliberately "
            f"broken: {dict(excepted)}"
        )


def test_the_exceptions_are_exercised_and_really_broken(seen):
    """Each excepted fault was produced, and each of its answers breaks the contract:
    the list of exceptions is neither stale nor hiding a documented answer."""
    produced = {s.fault for s in seen if s.fault in BROKEN}
    assert produced == set(BROKEN)
    assert all(problems(s) or s.fault == "reset" for s in seen if s.fault in BROKEN)


def test_every_endpoint_answer_and_fault_was_exercised(seen):
    pairs = {(s.endpoint, s.status) for s in seen}
    assert {("token", 200), ("revoke", 200), ("revoke", 400), ("status", 200)} <= pairs
    assert {("mass_convert_post", 200), ("mass_convert_post", 202)} <= pairs
    assert {("records", 200), ("records", 204), ("convert", 200), ("convert", 400)} <= pairs
    codes = {json.loads(s.body).get("code") for s in seen if s.body.startswith(b'{"code"')}
    codes |= {  # a single convert's lead error inside data[0]
        json.loads(s.body)["data"][0].get("code")
        for s in seen
        if s.endpoint == "convert" and s.body.startswith(b'{"data"')
    }
    words = {json.loads(s.body).get("error") for s in seen if s.body.startswith(b'{"error"')}
    served = set(ERRORS)
    assert codes >= (served - {"API_NOT_SUPPORTED"}) | {"SCHEDULED"}
    assert words >= {"invalid_client", "invalid_client_secret", "invalid_code", "Access Denied"}
    assert {s.fault for s in seen if s.endpoint == "mass_convert_post"} >= {
        "429",
        "500",
        "reset",
        "post_500_after_create",
    }
    faults = {s.fault for s in seen}
    assert faults >= (FAULT_NAMES - {"ok"}) | {"rate_5xx", "rate_429", "status_casing"}
