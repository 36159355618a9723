"""Every HTTP request of the package goes through the transport: the adapter, or the lean sender."""

from __future__ import annotations

import gc
import http.server
import threading
import warnings

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from zcrm_notebook.api.destinations import DestinationPolicy
from zcrm_notebook.api.transport import (
    MAX_BODY_BYTES,
    USER_AGENT,
    LeanSender,
    ZohoAdapter,
    _request_target,
    new_session,
)
from zcrm_notebook.auth import OrgCredentials
from zcrm_notebook.auth.grant import revoke
from zcrm_notebook.auth.hooks import make_oauth_session
from zcrm_notebook.auth.tokenstore import TokenStore
from zcrm_notebook.client import ZohoClient
from zcrm_notebook.errors import ResponseFormatError, UnsafeEndpointError
from zcrm_notebook.simulator import SimClock, SimJob, SimOrg, Simulator

JOB = "3652397000009835020"
pytestmark = pytest.mark.usefixtures("fresh_token_caches")


def test_a_new_session_sends_through_the_adapter_without_env_or_redirects():
    s = new_session(pool_size=3)
    assert isinstance(s.get_adapter("https://www.zohoapis.eu"), ZohoAdapter)
    assert isinstance(s.get_adapter("http://127.0.0.1:1"), ZohoAdapter)
    assert s.trust_env is False and s.max_redirects == 0
    assert s.headers["User-Agent"] == USER_AGENT
    oauth = make_oauth_session("1000.ID")
    assert isinstance(oauth.get_adapter("https://accounts.zoho.eu"), ZohoAdapter)
    assert oauth.trust_env is False and oauth.max_redirects == 0
    assert oauth.headers["User-Agent"] != USER_AGENT  # requests-oauthlib's, as before


def test_token_status_and_revoke_calls_all_pass_the_choke_point(monkeypatch, tmp_path):
    seen: list[str] = []
    monkeypatch.setattr(ZohoAdapter, "check", lambda self, request: seen.append(request.url))
    lean_check = LeanSender.check  # the status calls' sender: the same policy check
    monkeypatch.setattr(
        LeanSender, "check", lambda self, url: seen.append(url) or lean_check(self, url)
    )
    clock = SimClock()
    org = SimOrg("us-org", "us", "1000.USCLIENT", "us-client-secret", "1000.us.refresh")
    with Simulator([org], [SimJob(JOB, "us-org", 10)], clock=clock) as sim:
        creds = OrgCredentials(org="us-org", **sim.org_config("us-org"))
        client = ZohoClient(creds, clock=clock.time)
        assert client.get_status(JOB).http_status == 200
        store = TokenStore(tmp_path / "tokens.json")
        code = sim.issue_grant_token("us-org")
        from zcrm_notebook.auth.grant import OAuthClient, exchange_grant_token

        oauth = OAuthClient(
            "us-org",
            "us",
            org.client_id,
            org.client_secret,
            sim.accounts_url("us"),
            sim.api_domain("us"),
        )
        exchange_grant_token(oauth, code, store=store)
        revoke("us-org", store=store)
    paths = [u.split("/", 3)[3].split("?")[0] for u in seen]
    assert paths == [
        "us/accounts/oauth/v2/token",  # refresh
        "us/api/crm/v5/Leads/actions/mass_convert",  # status
        "us/accounts/oauth/v2/token",  # grant exchange
        "us/accounts/oauth/v2/token/revoke",
    ]


def test_a_given_session_is_used_as_is_and_not_closed(creds):
    from zcrm_notebook.auth import AccessToken, TokenCache

    class Answer(requests.adapters.BaseAdapter):
        sent: list = []

        def send(self, request, **kwargs):
            self.sent.append(request.url)
            r = requests.Response()
            r.status_code, r.url, r._content = (
                200,
                request.url,
                b'{"data": [{"Status": "completed"}]}',
            )
            return r

        def close(self):
            self.sent.append("closed")

    session = requests.Session()
    session.mount("https://", Answer())
    token = AccessToken("1000.access.x", creds.api_domain, 2e9, 1.0)
    client = ZohoClient(
        creds, token_cache=TokenCache(creds, initial=token, clock=lambda: 1e9), session=session
    )
    assert client.session is session and client.get_status(JOB).status.status == "completed"
    client.close()
    assert Answer.sent == [
        "https://www.zohoapis.com/crm/v5/Leads/actions/mass_convert?job_id=" + JOB
    ]


# --- a session given by the user is guarded; calls are bounded (issue 10) --------------------


def test_guard_session_wraps_every_adapter_and_keeps_the_session_settings():
    from zcrm_notebook.api.destinations import DestinationPolicy
    from zcrm_notebook.api.transport import GuardedAdapter, guard_session

    class Own(requests.adapters.HTTPAdapter):
        pass

    s = requests.Session()
    s.mount("https://www.zohoapis.eu", Own())
    s.mount("https://accounts.zoho.eu", requests.adapters.HTTPAdapter(max_retries=3))
    s.proxies, s.verify, s.cert, s.trust_env = {"https": "http://proxy:3128"}, "/ca.pem", "c", True
    guard_session(s, DestinationPolicy.for_org("eu", False))
    assert isinstance(s.get_adapter("https://www.zohoapis.eu/x"), GuardedAdapter)
    assert isinstance(s.get_adapter("https://www.zohoapis.eu/x").inner, Own)
    assert isinstance(s.get_adapter("http://127.0.0.1:1"), ZohoAdapter)  # requests' own
    retrying = s.get_adapter("https://accounts.zoho.eu/x")  # configured by you: wrapped
    assert isinstance(retrying, GuardedAdapter) and retrying.inner.max_retries.total == 3
    assert (s.proxies, s.verify, s.cert, s.trust_env) == (
        {"https": "http://proxy:3128"}, "/ca.pem", "c", True)  # fmt: skip
    guard_session(s, DestinationPolicy.for_org("us", False))  # a second org shares it
    assert s.get_adapter("https://x").policy.check("https://www.zohoapis.com")
    assert s.get_adapter("https://x").policy.check("https://www.zohoapis.eu")


def test_an_aborted_group_refuses_new_calls_without_connecting(monkeypatch):
    from zcrm_notebook.api.destinations import DestinationPolicy
    from zcrm_notebook.api.transport import CallAborted, CallGroup

    group = CallGroup()
    group.abort()
    s = new_session(policy=DestinationPolicy.for_org("x", True))
    connected = []
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", lambda *a, **k: connected.append(a))
    with group.active(), pytest.raises(CallAborted):
        s.get("http://127.0.0.1:9/x", timeout=5)
    assert connected == []


def test_a_body_larger_than_the_cap_is_refused(monkeypatch):
    from zcrm_notebook.api.destinations import DestinationPolicy
    from zcrm_notebook.api.transport import GuardedAdapter
    from zcrm_notebook.errors import ResponseFormatError

    class Big(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            r = requests.Response()
            r.status_code, r.url, r._content = 200, request.url, b"x" * 11
            return r

    s = requests.Session()
    s.mount("http://", GuardedAdapter(Big(), policy=DestinationPolicy.for_org("x", True),
                                      max_body=10))  # fmt: skip
    with pytest.raises(ResponseFormatError, match="larger than"):
        s.get("http://127.0.0.1:9/x")


# --- the lean sender of the status calls (loopback server, bounded request counts) ---------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    close_after = False
    body = b'{"data": []}'

    def do_GET(self):  # noqa: N802
        self.server.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)
        if self.close_after:  # the server drops the kept connection without saying so
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    def start(**attrs):
        handler = type("H", (_Handler,), attrs)
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        srv.paths = []
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        started.append(srv)
        return srv

    started: list = []
    yield start
    for srv in started:
        srv.shutdown()
        srv.server_close()


def _lean() -> LeanSender:
    return LeanSender(DestinationPolicy.for_org("us", loopback=True))


def test_the_lean_sender_keeps_its_connection_alive(server):
    srv = server()
    lean = _lean()
    url = f"http://127.0.0.1:{srv.server_port}/crm/v8/x?job_id=1"
    answers = [lean.get(url, {"Authorization": "Zoho-oauthtoken t"}, 5.0) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3 and answers[0].content == b'{"data": []}'
    assert answers[0].headers.get("content-type") == "application/json"  # case-insensitive
    assert lean.connections_made == 1 and srv.paths == ["/crm/v8/x?job_id=1"] * 3
    lean.close()


def test_a_lean_sender_dropped_without_close_still_closes_its_sockets(server):
    srv = server()
    lean = _lean()
    lean.get(f"http://127.0.0.1:{srv.server_port}/s?job_id=1", {}, 5.0)
    (conn,) = lean._open
    sock = conn.sock
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del lean, conn
        gc.collect()
    assert sock.fileno() == -1  # closed by the sender's finalizer, not left to the GC


def test_the_lean_sender_reconnects_once_when_the_server_closed_the_connection(server):
    srv = server(close_after=True)
    lean = _lean()
    url = f"http://127.0.0.1:{srv.server_port}/s?job_id=1"
    assert [lean.get(url, {}, 5.0).status_code for _ in range(3)] == [200] * 3
    assert lean.connections_made == 3 and len(srv.paths) == 3  # no request sent twice
    lean.close()


def test_the_lean_sender_refuses_before_connecting_and_caps_the_body(server):
    lean = _lean()
    with pytest.raises(UnsafeEndpointError):
        lean.get("https://www.zohoapis.com/crm/v8/x?job_id=1", {}, 5.0)  # not loopback
    assert lean.connections_made == 0
    srv = server(body=b"x" * (MAX_BODY_BYTES + 1))
    with pytest.raises(ResponseFormatError, match="larger than 1 MiB"):
        lean.get(f"http://127.0.0.1:{srv.server_port}/big", {}, 5.0)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="/.?%&=+#aZ9_~-", max_size=14))
@example("/crm/v8/Leads/actions/mass_convert?job_id=3652397000000000001")
@example("/a/../b?x")
@example("/a?x=%4a")
@example("#/crm/v8/x?job_id=1")  # the host part ends at # or ?: no path (found by attack)
@example("?/crm/v8/x?job_id=1")
@example("?a#/evil?x")
def test_the_lean_request_target_is_urllib3s_request_uri(tail):
    url = "http://127.0.0.1:8" + tail
    try:
        expected = parse_url(url).request_uri
    except LocationParseError:
        return
    assert _request_target(url) == expected


def test_a_socket_timeout_before_the_watchdog_fires_is_still_a_call_timeout(monkeypatch):
    """On a loaded machine the socket's own timeout can end a read before the watchdog
    marks the call expired (CI: a slow answer came out as ConnectionError). The watchdog
    is switched off here so that only the socket timeout can end the call."""
    import socket

    from zcrm_notebook.api import transport

    monkeypatch.setattr(transport._watchdog, "watch", lambda call: None)
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    lean = _lean()
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/s?job_id=1"
        with pytest.raises(transport.CallTimeout):
            lean.get(url, {}, 0.2)
    finally:
        lean.close()
        silent.close()
