"""The CRM client: the Zoho-oauthtoken header, timeouts, token destinations, 401 handling."""

from __future__ import annotations

import pytest
from helpers_http import JOB, URL, response
from requests.adapters import BaseAdapter

from zcrm_notebook import auth
from zcrm_notebook.api.status import JobState
from zcrm_notebook.auth import AccessToken, OrgCredentials, TokenCache
from zcrm_notebook.client import ZohoClient
from zcrm_notebook.errors import (
    BadRequestError,
    EndpointConfigError,
    InvalidTokenError,
    NoPermissionError,
    ScopeError,
    TransportError,
    UnsafeEndpointError,
)
from zcrm_notebook.simulator import Faults, SimClock, SimJob, SimOrg, Simulator

READ = auth.MASS_CONVERT_READ_SCOPE
CREATE = "ZohoCRM.mass_convert.leads.CREATE"


# a private token store (conftest's autouse _private_token_store) and empty token caches
pytestmark = pytest.mark.usefixtures("fresh_token_caches")


# --- interpret_answer: one test per row of its table -----------------------------------------


# --- the request itself (no network: a capturing transport adapter) -----------------------


class Capture(BaseAdapter):
    def __init__(self, status=200, body=None):
        super().__init__()
        self.sent, self.status = [], status
        self.body = body or {"data": [{"Status": "completed", "Total_Count": 1}]}

    def send(self, request, **kwargs):
        self.sent.append((request, kwargs))
        return response(self.status, self.body)

    def close(self):
        pass


def creds(dc="eu", **kw) -> OrgCredentials:
    return OrgCredentials("acme", dc, "1000.ID", "client-secret-x", "1000.refresh.x", **kw)


def fixed_cache(c: OrgCredentials, api_domain: str | None = None) -> TokenCache:
    tok = AccessToken("1000.access.token.x", api_domain or c.api_domain, 2e9, 1.0)
    return TokenCache(c, initial=tok, clock=lambda: 1e9)


def test_header_is_zoho_oauthtoken_with_timeout_and_no_token_in_url():
    c = creds()
    client = ZohoClient(c, token_cache=fixed_cache(c), timeout_s=4.5)
    cap = Capture()
    client.session.mount("https://", cap)
    answer = client.get_status(JOB)
    assert answer.http_status == 200 and answer.status.status == JobState.COMPLETED
    request, kwargs = cap.sent[0]
    assert request.headers["Authorization"] == "Zoho-oauthtoken 1000.access.token.x"
    assert "access.token" not in request.url and request.url == URL
    assert kwargs["timeout"] == 4.5
    assert client.creds.api_domain == "https://www.zohoapis.eu"


@pytest.mark.parametrize(
    "api_domain", ["https://evil.example.com", "http://www.zohoapis.eu", "http://127.0.0.1:9"]
)
def test_token_never_sent_to_an_unsafe_api_domain(api_domain):
    c = creds()
    client = ZohoClient(c, token_cache=fixed_cache(c, api_domain))
    cap = Capture()
    client.session.mount("https://", cap)
    client.session.mount("http://", cap)
    with pytest.raises(UnsafeEndpointError, match="refusing to send a token"):
        client.get_status(JOB)
    assert cap.sent == []


def test_unsafe_api_domain_in_token_answer_refused_before_any_call():
    c = creds()
    answer = {
        "access_token": "1000.access.evil",
        "expires_in": 3600,
        "api_domain": "https://zohoapis.eu.attacker.example",
    }
    client = ZohoClient(c, token_cache=TokenCache(c, refresh=lambda _: answer))
    cap = Capture()
    client.session.mount("https://", cap)
    with pytest.raises(UnsafeEndpointError, match="attacker.example"):
        client.get_status(JOB)
    assert cap.sent == []


def envelope(code: str, **details) -> dict:
    return {"code": code, "details": details, "message": "m", "status": "error"}


@pytest.mark.parametrize(
    "status, body, error, said",
    [
        (
            404,
            envelope("INVALID_URL_PATTERN"),
            EndpointConfigError,
            "api_domain (https://www.zohoapis.eu) and api_version (v6)",
        ),
        (
            404,
            b"<html>Not Found</html>",
            EndpointConfigError,
            "api_domain (https://www.zohoapis.eu)",
        ),
        (
            400,
            envelope("API_NOT_SUPPORTED", supported_version=8),
            EndpointConfigError,
            "v6 does not have GET /crm/v6/",
        ),
        (
            400,
            envelope("REQUIRED_PARAM_MISSING", param_name="job_id"),
            BadRequestError,
            "?job_id=<19-digit id>",
        ),
        (404, envelope("REQUIRED_PARAM_MISSING"), BadRequestError, "a proxy may be rewriting"),
    ],
)
def test_an_answer_that_ends_the_org_says_what_to_check_in_one_line(status, body, error, said):
    c = creds(api_version="v6")
    client = ZohoClient(c, token_cache=fixed_cache(c))
    cap = Capture(status, body)
    client.session.mount("https://", cap)
    with pytest.raises(error) as err:
        client.get_status(JOB)
    assert said in str(err.value) and "\n" not in str(err.value) and len(cap.sent) == 1
    assert err.value.http_status == status and "access.token" not in str(err.value)
    if err.value.code == "API_NOT_SUPPORTED":
        assert "8" in str(err.value) and err.value.details == {"supported_version": 8}


# --- against the simulator --------------------------------------------------------------------


def sim_org(**kw) -> SimOrg:
    return SimOrg("us-org", "us", "1000.USCLIENT", "us-client-secret", "1000.us.refresh", **kw)


def run_one(faults=None, org=None, **client_kw):
    clock = SimClock()
    with Simulator(
        [org or sim_org()], [SimJob(JOB, "us-org", 10)], clock=clock, faults=faults
    ) as sim:
        c = OrgCredentials(org="us-org", **sim.org_config("us-org"))
        client = ZohoClient(c, clock=clock.time, **client_kw)
        try:
            return client.get_status(JOB), sim.stats
        except Exception as exc:
            exc.stats = sim.stats  # type: ignore[attr-defined]
            raise


def test_slow_answer_beyond_timeout_is_a_transport_error():
    with pytest.raises(TransportError) as err:
        run_one(Faults(script={JOB: ["slow"]}, slow_s=1.0), timeout_s=0.2)
    # the whole call is bounded (not each read): the call's own deadline ends it
    assert err.value.code == "CallTimeout" and err.value.http_status is None
    assert "127.0.0.1" in str(err.value)


@pytest.mark.parametrize("fault", ["invalid_token", "auth_failure"])
def test_one_401_refreshes_once_and_retries(fault):
    answer, stats = run_one(Faults(script={JOB: [fault]}))
    assert answer.http_status == 200
    assert stats.token_requests["us-org"] == 2 and stats.status_requests["us-org"] == 2


def test_invalid_token_right_after_a_fresh_token_suggests_a_dc_mismatch():
    with pytest.raises(InvalidTokenError) as err:
        run_one(Faults(script={JOB: ["invalid_token", "invalid_token", "invalid_token"]}))
    text = str(err.value)
    assert "data center (us)" in text and "/us/api" in text and "do not match" in text
    assert err.value.stats.token_requests["us-org"] == 2  # one refresh, never a loop
    assert err.value.stats.status_requests["us-org"] == 2


def test_authentication_failure_twice_says_reauthorize():
    with pytest.raises(InvalidTokenError, match="re-authorize") as err:
        run_one(Faults(script={JOB: ["auth_failure", "auth_failure"]}))
    assert err.value.code == "AUTHENTICATION_FAILURE"


def test_scope_mismatch_no_refresh():
    with pytest.raises(ScopeError, match=READ) as err:
        run_one(org=sim_org(scopes=(CREATE,)))
    assert err.value.stats.token_requests["us-org"] == 1


def test_no_permission_no_refresh():
    with pytest.raises(NoPermissionError, match="mass-convert") as err:
        run_one(org=sim_org(no_permission=True))
    assert err.value.stats.token_requests["us-org"] == 1


def test_the_test_suite_cannot_reach_the_internet():
    import socket

    with pytest.raises(OSError, match="only use loopback"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
