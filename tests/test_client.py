"""The CRM client: answer mapping, the Zoho-oauthtoken header, timeouts, 401 handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from requests.adapters import BaseAdapter

from zcrm_notebook import auth
from zcrm_notebook.api.answers import interpret_answer
from zcrm_notebook.api.status import JobState
from zcrm_notebook.auth import AccessToken, OrgCredentials, TokenCache
from zcrm_notebook.client import ZohoClient
from zcrm_notebook.errors import (
    ApiError,
    InvalidTokenError,
    JobNotFoundError,
    NoPermissionError,
    RateLimitError,
    ResponseFormatError,
    ScopeError,
    TransportError,
    UnsafeEndpointError,
)
from zcrm_notebook.simulator import Faults, SimClock, SimJob, SimOrg, Simulator

DATA = Path(__file__).parent / "data"
JOB = "3652397000009835020"
URL = "https://www.zohoapis.eu/crm/v5/Leads/actions/mass_convert?job_id=" + JOB
READ = auth.MASS_CONVERT_READ_SCOPE
CREATE = "ZohoCRM.mass_convert.leads.CREATE"


# a private token store (conftest's autouse _private_token_store) and empty token caches
pytestmark = pytest.mark.usefixtures("fresh_token_caches")


def response(status: int, body=b"", headers=None) -> requests.Response:
    r = requests.Response()
    r.status_code, r.url = status, URL
    r._content = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    r.headers.update(headers or {"Content-Type": "application/json"})
    return r


def envelope(code: str, message: str = "msg") -> dict:
    return {"code": code, "details": {}, "message": message, "status": "error"}


# --- interpret_answer: one test per row of its table -----------------------------------------


def test_2xx_json_is_a_status():
    body = json.loads((DATA / "status_completed_doc_sample.json").read_text())
    st = interpret_answer(JOB, response(200, body))
    assert st.status == JobState.COMPLETED and st.job_id == JOB
    st = interpret_answer(JOB, response(202, {"data": [{"Status": "RUNNING", "Total_Count": 5}]}))
    assert st.status == JobState.IN_PROGRESS


@pytest.mark.parametrize("status, body", [(204, b""), (200, b"  ")])
def test_no_content_is_job_not_found(status, body):
    with pytest.raises(JobNotFoundError) as err:
        interpret_answer(JOB, response(status, body))
    assert err.value.code == "NO_CONTENT" and JOB in str(err.value)


def test_invalid_data_and_404_are_job_not_found():
    body = json.loads((DATA / "error_invalid_data.json").read_text())
    with pytest.raises(JobNotFoundError) as err:
        interpret_answer(JOB, response(400, body))
    assert err.value.code == "INVALID_DATA" and err.value.details == {"api_name": "job_id"}
    with pytest.raises(JobNotFoundError) as err:
        interpret_answer(JOB, response(404, envelope("INVALID_URL_PATTERN")))
    with pytest.raises(JobNotFoundError, match="non-JSON"):
        interpret_answer(JOB, response(404, b"<html>nf</html>", {"Content-Type": "text/html"}))


def test_required_param_missing_is_an_api_error():
    body = json.loads((DATA / "error_required_param_missing.json").read_text())
    with pytest.raises(ApiError) as err:
        interpret_answer(JOB, response(400, body))
    assert type(err.value) is ApiError and err.value.code == "REQUIRED_PARAM_MISSING"


@pytest.mark.parametrize(
    "status, body, code",
    [
        (401, envelope("INVALID_TOKEN", "invalid oauth token"), "INVALID_TOKEN"),
        (401, envelope("AUTHENTICATION_FAILURE"), "AUTHENTICATION_FAILURE"),
        (401, envelope("SOMETHING_NEW"), "SOMETHING_NEW"),
        (401, {"status": "error"}, "INVALID_TOKEN"),
        (401, b"<html>401</html>", "INVALID_TOKEN"),
        (200, envelope("INVALID_TOKEN"), "INVALID_TOKEN"),
    ],
)
def test_401_variants_are_invalid_token(status, body, code):
    with pytest.raises(InvalidTokenError) as err:
        interpret_answer(JOB, response(status, body))
    assert err.value.code == code


def test_scope_mismatch_names_the_scope():
    with pytest.raises(ScopeError, match=READ) as err:
        interpret_answer(JOB, response(401, envelope("OAUTH_SCOPE_MISMATCH")))
    assert err.value.code == "OAUTH_SCOPE_MISMATCH"


@pytest.mark.parametrize(
    "body", [json.loads((DATA / "error_no_permission.json").read_text()), {"status": "error"}]
)
def test_403_is_no_permission(body):
    with pytest.raises(NoPermissionError, match="mass-convert") as err:
        interpret_answer(JOB, response(403, body))
    assert err.value.code == "NO_PERMISSION" and err.value.http_status == 403


def test_429_with_retry_after():
    with pytest.raises(RateLimitError) as err:
        interpret_answer(JOB, response(429, envelope("TOO_MANY_REQUESTS"), {"Retry-After": "7"}))
    assert err.value.retry_after_s == 7.0
    with pytest.raises(RateLimitError) as err:
        interpret_answer(JOB, response(429, b"busy", {"Retry-After": "soon"}))
    assert err.value.retry_after_s is None


def test_5xx_html_is_an_api_error_naming_the_host():
    html = b"<html><title>502 Bad Gateway</title></html>"
    with pytest.raises(ApiError) as err:
        interpret_answer(JOB, response(502, html, {"Content-Type": "text/html; charset=UTF-8"}))
    assert err.value.code == "HTTP_502" and "www.zohoapis.eu" in str(err.value)
    assert "text/html" in str(err.value)
    with pytest.raises(ApiError) as err:
        interpret_answer(JOB, response(500, envelope("INTERNAL_ERROR")))
    assert err.value.code == "INTERNAL_ERROR"


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"Status": "COMPLETED", "Total_',
        b"<html>ok</html>",
        {"info": {}},
        {"data": []},
        [1, 2],
    ],
)
def test_truncated_or_missing_data_is_a_format_error(body):
    with pytest.raises(ResponseFormatError):
        interpret_answer(JOB, response(200, body))


def test_other_envelope_keeps_zoho_code():
    with pytest.raises(ApiError) as err:
        interpret_answer(JOB, response(400, envelope("LIMIT_EXCEEDED")))
    assert err.value.code == "LIMIT_EXCEEDED" and err.value.http_status == 400


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
    assert err.value.code == "ReadTimeout" and err.value.http_status is None
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
