"""OAuth: credentials, Zoho's token-answer quirks, the shared token cache (simulator)."""

from __future__ import annotations

import json
import threading
import zlib

import pytest
import requests
from conftest import overlapping

from zcrm_notebook import auth
from zcrm_notebook.auth import AccessToken, OrgCredentials, TokenCache, get_token_cache, tokens
from zcrm_notebook.auth import hooks as oauth_hooks
from zcrm_notebook.auth.hooks import token_lifetime_s, zoho_token_response
from zcrm_notebook.client import ZohoClient
from zcrm_notebook.errors import (
    ConfigError,
    DataCenterError,
    ResponseFormatError,
    TokenEndpointError,
    TokenThrottledError,
    UnsafeEndpointError,
)
from zcrm_notebook.poll import Poller, PollPolicy
from zcrm_notebook.simulator import SimClock, SimJob, SimOrg, Simulator

JOB_BASE = 3652397000000000000


# a private token store (conftest's autouse _private_token_store) and empty token caches
pytestmark = pytest.mark.usefixtures("fresh_token_caches")


def sim_org(name="us-org", dc="us", **kw) -> SimOrg:
    return SimOrg(
        name, dc, f"1000.{name}.client", f"{name}-client-secret", f"1000.{name}.refresh.token", **kw
    )


def creds_of(sim: Simulator, org: str, **override) -> OrgCredentials:
    return OrgCredentials(org=org, **{**sim.org_config(org), **override})


def jobs_of(org: str, n: int, **kw) -> list[SimJob]:
    base = JOB_BASE + zlib.crc32(org.encode()) % 10**6 * 1000
    return [SimJob(str(base + i), org, 50, **kw) for i in range(n)]


# --- lifetimes and credentials -------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, seconds",
    [
        ({"expires_in": 3600000, "expires_in_sec": 3600}, 3600),  # SDK rule: ms next to _sec
        ({"expires_in": 3600}, 3600),
        ({"expires_in": "1800"}, 1800),
        ({"expires_in": 3600000}, 3600),  # more than a day in "seconds": milliseconds
        ({}, 3600),
        ({"expires_in": "soon"}, 3600),
        ({"expires_in": -5}, 3600),
        ({"expires_in_sec": 10 * 86400}, 86400),
        ({"expires_in": 120}, 120),
        ({"expires_in": True}, 3600),  # not 1 s (a refresh before every call)
        ({"expires_in": 10**400}, 3600),  # float() overflows
    ],
)
def test_token_lifetime_both_units_sanity_checked(answer, seconds):
    assert token_lifetime_s(answer) == seconds
    assert auth.token_lifetime_s is token_lifetime_s  # public name kept


def test_canada_and_australia_hosts():
    ca = OrgCredentials("acme-ca", "ca", "id", "secret-x", "refresh-x")
    assert ca.accounts_url == "https://accounts.zohocloud.ca"
    assert ca.token_url == "https://accounts.zohocloud.ca/oauth/v2/token"
    assert ca.api_domain == "https://www.zohoapis.ca"
    au = OrgCredentials("acme-au", "AU ", "id", "secret-x", "refresh-x")
    assert (au.accounts_url, au.api_domain) == (
        "https://accounts.zoho.com.au",
        "https://www.zohoapis.com.au",
    )


def test_sandbox_api_domain_accepted_other_dc_refused():
    c = OrgCredentials(
        "s", "eu", "id", "secret-x", "rt-xyz", api_domain="https://sandbox.zohoapis.eu"
    )
    assert c.api_domain == "https://sandbox.zohoapis.eu"
    with pytest.raises(ConfigError, match=r"accounts_url 'https://accounts.zoho.com'.*'eu'"):
        OrgCredentials(
            "x", "eu", "id", "secret-x", "rt-xyz", accounts_url="https://accounts.zoho.com"
        )
    with pytest.raises(ConfigError, match=r"www.zohoapis.com' is not an API domain of .*'eu'"):
        OrgCredentials("x", "eu", "id", "secret-x", "rt-xyz", api_domain="https://www.zohoapis.com")
    with pytest.raises(DataCenterError, match="'de'"):
        OrgCredentials("x", "de", "id", "secret-x", "rt-xyz")


def test_loopback_api_domain_only_for_a_loopback_org():
    with pytest.raises(UnsafeEndpointError, match="127.0.0.1"):
        OrgCredentials(
            "x", "us", "id", "secret-x", "rt-xyz", api_domain="http://127.0.0.1:9/us/api"
        )
    c = OrgCredentials(
        "x",
        "us",
        "id",
        "secret-x",
        "rt-xyz",
        accounts_url="http://127.0.0.1:9/a",
        api_domain="http://127.0.0.1:9/b",
    )
    assert c.allows_loopback


def test_whitespace_around_secrets_removed_and_masked():
    c = OrgCredentials("x", "us", " id ", " secret-with-space\n", "\trt-xyz-123 ")
    assert (c.client_id, c.client_secret, c.refresh_token) == (
        "id",
        "secret-with-space",
        "rt-xyz-123",
    )
    assert "secret-with-space" not in repr(c) and "rt-xyz-123" not in repr(c)
    with pytest.raises(ConfigError, match="refresh_token is empty"):
        OrgCredentials("x", "us", "id", "secret-x", "  ")


# --- compliance hooks --------------------------------------------------------------------


def answer(body, status=200, url="https://accounts.zoho.eu/oauth/v2/token") -> requests.Response:
    r = requests.Response()
    r.status_code, r.url = status, url
    r._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return r


@pytest.mark.parametrize(
    "body, code, hint",
    [
        ({"error": "invalid_client"}, "invalid_client", "multi-DC"),
        ({"error": "invalid_code"}, "invalid_code", "new grant token"),
        ({"error": "invalid_client_secret"}, "invalid_client_secret", "whitespace"),
        (
            {"token_type": "Bearer", "expires_in": 3600},
            "missing_access_token",
            "nothing was stored",
        ),
        ({"error": "access_denied", "access_token": "x"}, "access_denied", "denied"),
    ],
)
def test_error_in_http_200_is_a_typed_error(body, code, hint):
    with pytest.raises(TokenEndpointError) as err:
        zoho_token_response(answer(body))
    assert err.value.code == code and hint in err.value.hint
    assert err.value.accounts_server == "https://accounts.zoho.eu"
    assert "https://accounts.zoho.eu" in str(err.value)


def test_throttle_answer_is_its_own_error():
    body = {
        "error": "Access Denied",
        "error_description": "You have made too many requests "
        "continuously. Please try again after some time.",
    }
    with pytest.raises(TokenThrottledError, match="10 access tokens per refresh token"):
        zoho_token_response(answer(body))


def test_non_json_token_answer_is_a_format_error():
    with pytest.raises(ResponseFormatError, match="accounts.zoho.eu answered HTTP 502"):
        zoho_token_response(answer(b"<html>Bad Gateway</html>", status=502))


def test_expires_in_rewritten_to_seconds():
    r = zoho_token_response(
        answer({"access_token": "tok-abcdef", "expires_in": 3600000, "expires_in_sec": 3600})
    )
    assert r.json()["expires_in"] == 3600 and "expires_in_sec" not in r.json()


# --- the token cache against the simulator -------------------------------------------------


def test_refresh_keeps_api_domain_and_uses_ms_style(tmp_path):
    clock = SimClock()
    with Simulator([sim_org()], clock=clock, expires_in_style="ms") as sim:
        creds = creds_of(sim, "us-org")
        cache = TokenCache(creds, clock=clock.time)
        tok = cache.get()
        assert tok.api_domain == sim.api_domain("us")
        assert tok.expires_at - tok.obtained_at == 3600  # not 3,600,000 s
        assert cache.get() is tok and cache.requests == 1


def test_answer_without_refresh_token_or_api_domain_keeps_stored_values():
    creds = OrgCredentials("x", "eu", "id", "secret-x", "rt-xyz-1")
    answers = iter(
        [
            {"access_token": "at-one-xyz", "expires_in": 3600},
            {
                "access_token": "at-two-xyz",
                "expires_in": 3600,
                "api_domain": "https://sandbox.zohoapis.eu",
            },
            {"access_token": "at-three-xyz", "expires_in": 3600},
        ]
    )
    cache = TokenCache(creds, refresh=lambda c: next(answers))
    assert cache.get().api_domain == "https://www.zohoapis.eu"
    cache.invalidate(cache.get())
    assert cache.get().api_domain == "https://sandbox.zohoapis.eu"  # the answer is the authority
    cache.invalidate(cache.get())
    assert cache.get().api_domain == "https://sandbox.zohoapis.eu"  # kept when left out
    assert cache.creds.refresh_token == "rt-xyz-1"


def test_unsafe_api_domain_in_answer_is_refused_and_remembered():
    creds = OrgCredentials("x", "eu", "id", "secret-x", "rt-xyz-1")
    calls = []

    def refresh(c):
        calls.append(1)
        return {
            "access_token": "at-evil-xyz",
            "expires_in": 3600,
            "api_domain": "https://www.zohoapis.eu.evil.example",
        }

    cache = TokenCache(creds, refresh=refresh)
    for _ in range(3):
        with pytest.raises(UnsafeEndpointError, match="evil.example"):
            cache.get()
    assert len(calls) == 1 and cache._token is None


def test_safety_margin_before_expiry():
    clock = SimClock()
    with Simulator([sim_org()], clock=clock) as sim:
        cache = TokenCache(creds_of(sim, "us-org"), clock=clock.time, margin_s=60)
        first = cache.get()
        clock.advance(3539)
        assert cache.get() is first
        clock.advance(2)
        assert cache.get() is not first and cache.requests == 2


def test_short_lived_token_margin_is_at_most_a_quarter_life():
    tok = AccessToken("at-xyz-123", "https://www.zohoapis.com", expires_at=100.0, obtained_at=0.0)
    assert tok.usable_at(74.0, margin_s=60) and not tok.usable_at(76.0, margin_s=60)
    assert "at-xyz-123" not in repr(tok)


def test_single_flight_refresh_under_contention():
    creds = OrgCredentials("x", "us", "id", "secret-x", "rt-xyz-1")
    entered, release = threading.Event(), threading.Event()
    calls = []

    def slow_refresh(c):
        calls.append(1)
        entered.set()
        release.wait(5)
        return {"access_token": "at-shared-1", "expires_in": 3600}

    cache = TokenCache(creds, refresh=slow_refresh)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get())) for _ in range(8)]
    for t in threads:
        t.start()
    entered.wait(5)
    release.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and len(results) == 8 and len({id(r) for r in results}) == 1


def test_throttle_backs_off_instead_of_retrying_at_once():
    clock = SimClock()
    with Simulator([sim_org()], clock=clock, token_throttle=(1, 600.0)) as sim:
        cache = TokenCache(creds_of(sim, "us-org"), clock=clock.time)
        cache.invalidate(cache.get())
        with pytest.raises(TokenThrottledError) as err:
            cache.get()
        assert err.value.code == "Access Denied" and "10 minutes" in err.value.hint
        for _ in range(5):
            with pytest.raises(TokenThrottledError, match="not asking again for 60 s"):
                cache.get()
        assert sim.stats.token_requests["us-org"] == 2
        clock.advance(61)
        with pytest.raises(TokenThrottledError):
            cache.get()  # asks once more, still inside Zoho's window
        assert sim.stats.token_requests["us-org"] == 3
        with pytest.raises(TokenThrottledError, match="for 120 s"):
            cache.get()  # the wait doubles
        clock.advance(600)
        assert cache.get().access_token


def test_invalid_client_from_eu_names_the_host_and_no_crm_call_follows():
    """HTTP 200 {"error": "invalid_client"} from the EU accounts server (a US client)."""
    clock = SimClock()
    with Simulator([sim_org(), sim_org("eu-org", "eu")], jobs_of("us-org", 5), clock=clock) as sim:
        eu_host = sim.accounts_url("eu")
        creds = creds_of(sim, "us-org", accounts_url=eu_host, api_domain=sim.api_domain("eu"))
        with pytest.raises(TokenEndpointError) as err:
            ZohoClient(creds, clock=clock.time).get_status(str(JOB_BASE))
        assert err.value.code == "invalid_client" and err.value.accounts_server == eu_host
        assert eu_host in str(err.value) and "multi-DC" in str(err.value)
        tokens._caches.clear()
        poller = Poller(
            {"us-org": sim.job_ids("us-org")},
            {"us-org": creds},
            clock=clock.time,
            sleep=clock.sleep,
            policy=PollPolicy(seed=1),
        )
        df = poller.run()
        assert set(df["status"]) == {"error"} and set(df["error_code"]) == {"invalid_client"}
        assert eu_host in df["error_message"].iloc[0]
        assert sum(sim.stats.status_requests.values()) == 0
        assert sim.stats.token_requests["us-org"] == 2  # one per cache: no retry loop


def test_revoked_refresh_token_says_how_to_get_a_new_one():
    clock = SimClock()
    with Simulator([sim_org()], clock=clock) as sim:
        creds = creds_of(sim, "us-org")
        requests.post(
            sim.accounts_url("us") + "/oauth/v2/token/revoke",
            data={"token": creds.refresh_token},
            timeout=5,
        )
        with pytest.raises(TokenEndpointError) as err:
            TokenCache(creds, clock=clock.time).get()
        assert err.value.code == "invalid_code" and "grant-token" in err.value.hint


def test_wrong_secret_hint_and_fixed_secret_resets_shared_cache():
    clock = SimClock()
    with Simulator([sim_org()], clock=clock) as sim:
        wrong = creds_of(sim, "us-org", client_secret="us-org-client-secreT")
        cache = get_token_cache(wrong, clock=clock.time)
        with pytest.raises(TokenEndpointError, match="whitespace"):
            cache.get()
        right = creds_of(sim, "us-org")
        assert get_token_cache(right, clock=clock.time) is cache
        assert cache.get().access_token  # the remembered failure was cleared


def test_one_cache_per_credentials_shared_by_clients():
    clock = SimClock()
    with Simulator([sim_org()], jobs_of("us-org", 3), clock=clock) as sim:
        creds = creds_of(sim, "us-org")
        a, b = ZohoClient(creds, clock=clock.time), ZohoClient(creds, clock=clock.time)
        assert a.tokens is b.tokens
        for jid in sim.job_ids():
            a.get_status(jid)
            b.get_status(jid)
        assert sim.stats.token_requests["us-org"] == 1


# --- acceptance: threads, lifetimes, orgs ---------------------------------------------------


def test_eight_threads_fifty_jobs_two_lifetimes_two_token_requests():
    clock = SimClock()
    jobs = jobs_of("us-org", 50, leads_per_s=0.001)
    with Simulator([sim_org()], jobs, clock=clock) as sim:
        cache = TokenCache(creds_of(sim, "us-org"), clock=clock.time)
        client = ZohoClient(cache.creds, token_cache=cache, pool_size=8)
        ids = sim.job_ids()
        barrier, failures = threading.Barrier(8), []

        def worker(k: int) -> None:
            try:
                barrier.wait(5)
                for jid in ids[k::8]:
                    client.get_status(jid)
            except Exception as exc:  # collected: asserted below
                failures.append(exc)

        for _ in range(14):  # 14 rounds x 500 s = two token lifetimes (0 .. 6500 s)
            threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            clock.advance(500)
        assert failures == []
        assert sim.stats.status_requests["us-org"] == 14 * 50
        assert sim.stats.token_requests["us-org"] == 2 and cache.requests == 2


def test_poller_eight_in_flight_two_lifetimes_two_token_requests():
    clock = SimClock()
    jobs = jobs_of("us-org", 50, leads_per_s=50 / 5400)  # each runs 1.5 token lifetimes
    with overlapping(Simulator([sim_org()], jobs, clock=clock), n=2) as sim:
        orgs = {"us-org": creds_of(sim, "us-org")}
        policy = PollPolicy(max_in_flight=8, max_interval_s=300, seed=1)
        poller = Poller(sim.job_ids(), orgs, clock=clock.time, sleep=clock.sleep, policy=policy)
        df = poller.run()
        assert (df["status"] == "error").sum() == 0
        assert set(df.groupby("job_id")["status"].last()) == {"completed"}
        assert sim.stats.max_in_flight["us-org"] > 1
        assert sim.stats.token_requests["us-org"] == 2
        assert poller.org_stats()["token_requests"].tolist() == [2]


def test_token_expiring_mid_run_is_refreshed_without_error_rows():
    clock = SimClock()
    jobs = jobs_of("us-org", 6, leads_per_s=0.15)  # about 330 s each
    with Simulator([sim_org()], jobs, clock=clock, token_lifetime_s=120) as sim:
        orgs = {"us-org": creds_of(sim, "us-org")}
        df = Poller(
            jobs=sim.job_ids(),
            orgs=orgs,
            clock=clock.time,
            sleep=clock.sleep,
            policy=PollPolicy(seed=1),
        ).run()
        assert (df["status"] == "error").sum() == 0
        assert set(df.groupby("job_id")["status"].last()) == {"completed"}
        assert sim.stats.token_requests["us-org"] >= 3


def test_server_side_expiry_mid_run_refreshes_once_and_retries():
    clock = SimClock()
    jobs = jobs_of("us-org", 3, leads_per_s=0.5)
    with Simulator([sim_org()], jobs, clock=clock) as sim:
        sim.faults.script[sim.job_ids()[1]] = ["invalid_token"]  # 401 on its first poll
        sim.faults.script[sim.job_ids()[2]] = ["auth_failure"]
        orgs = {"us-org": creds_of(sim, "us-org")}
        df = Poller(
            sim.job_ids(), orgs, clock=clock.time, sleep=clock.sleep, policy=PollPolicy(seed=1)
        ).run()
        assert (df["status"] == "error").sum() == 0
        assert 2 <= sim.stats.token_requests["us-org"] <= 3


def test_us_and_eu_orgs_poll_in_one_run():
    clock = SimClock()
    jobs = jobs_of("us-org", 4, leads_per_s=1) + jobs_of("eu-org", 4, leads_per_s=1)
    with Simulator([sim_org(), sim_org("eu-org", "eu")], jobs, clock=clock) as sim:
        orgs = {o: creds_of(sim, o) for o in ("us-org", "eu-org")}
        assert orgs["us-org"].client_id != orgs["eu-org"].client_id
        df = Poller(
            {o: sim.job_ids(o) for o in orgs},
            orgs,
            clock=clock.time,
            sleep=clock.sleep,
            policy=PollPolicy(seed=1),
        ).run()
        last = df.groupby(["org", "dc", "job_id"])["status"].last().reset_index()
        assert sorted(set(last["dc"])) == ["eu", "us"]
        assert set(last["status"]) == {"completed"}
        assert sim.stats.token_requests == {"us-org": 1, "eu-org": 1}


def test_auth_failure_ends_one_org_other_orgs_go_on():
    clock = SimClock()
    jobs = jobs_of("us-org", 4, leads_per_s=1) + jobs_of("eu-org", 4, leads_per_s=1)
    with Simulator([sim_org(), sim_org("eu-org", "eu")], jobs, clock=clock) as sim:
        first_us = sim.job_ids("us-org")[0]
        sim.faults.script[first_us] = ["invalid_token", "invalid_token"]
        orgs = {o: creds_of(sim, o) for o in ("us-org", "eu-org")}
        policy = PollPolicy(max_in_flight=1, seed=1)
        df = Poller(
            {o: sim.job_ids(o) for o in orgs},
            orgs,
            clock=clock.time,
            sleep=clock.sleep,
            policy=policy,
        ).run()
        last = df.groupby(["org", "job_id"])["status"].last()
        assert set(last["eu-org"]) == {"completed"}
        us_errors = df[(df["org"] == "us-org") & (df["status"] == "error")]
        assert set(us_errors["error_code"]) == {"INVALID_TOKEN"}
        assert "probably do not match" in us_errors["error_message"].iloc[0]
        assert sim.stats.token_requests["us-org"] == 2  # one refresh, never a loop


def test_remembered_failure_is_raised_again_as_a_copy():
    creds = OrgCredentials("x", "eu", "id", "secret-x", "rt-xyz-1")
    calls = []

    def refuse(c):
        calls.append(1)
        raise oauth_hooks.token_error("invalid_client", "https://accounts.zoho.eu")

    cache = TokenCache(creds, refresh=refuse)
    with pytest.raises(TokenEndpointError) as first:
        cache.get()
    with pytest.raises(TokenEndpointError) as again:
        cache.get()
    assert again.value is not first.value and str(again.value) == str(first.value)
    assert (again.value.code, again.value.hint) == (first.value.code, first.value.hint)
    assert len(calls) == 1 and "failed" in repr(cache)
    cache.reset()
    with pytest.raises(TokenEndpointError):
        cache.get()
    assert len(calls) == 2
