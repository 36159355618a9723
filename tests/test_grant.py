"""Getting a refresh token: grant exchange exactly once, the web flow, revoke, `auth` CLI."""

from __future__ import annotations

import argparse
import io
import re
import socket
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from zcrm_notebook import auth
from zcrm_notebook.auth import grant, tokens
from zcrm_notebook.auth.grant import OAuthClient, exchange_grant_token, revoke, revoke_outcome
from zcrm_notebook.auth.tokenstore import TokenStore
from zcrm_notebook.auth.webflow import authorization_url, complete_authorization, parse_redirect
from zcrm_notebook.cli import auth as auth_command
from zcrm_notebook.client import ZohoClient
from zcrm_notebook.errors import (
    ConfigError,
    DataCenterError,
    TokenEndpointError,
    TransportError,
)
from zcrm_notebook.simulator import SimClock, SimJob, SimOrg, Simulator

JOB = "3652397000009835020"
CB = "https://example.com/callback"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("ZCRM_NOTEBOOK_TOKEN_STORE", str(tmp_path / "tokens.json"))
    for name in ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_DC"):
        monkeypatch.delenv(name, raising=False)
    tokens._caches.clear()
    yield
    tokens._caches.clear()


@pytest.fixture
def clock():
    return SimClock()


@pytest.fixture
def sim(clock):
    orgs = [
        SimOrg("us-org", "us", "1000.USCLIENT", "us-client-secret", "1000.us.refresh"),
        SimOrg("eu-org", "eu", "1000.EUCLIENT", "eu-client-secret", "1000.eu.refresh"),
    ]
    with Simulator(orgs, [SimJob(JOB, "us-org", 10)], clock=clock) as s:
        yield s


@pytest.fixture
def store(tmp_path):
    return TokenStore(tmp_path / "tokens.json")


def client_of(sim, org="us-org", **kw) -> OAuthClient:
    cfg = sim.org_config(org)
    keys = ("dc", "client_id", "client_secret", "accounts_url", "api_domain")
    return OAuthClient(org=org, **{**{k: cfg[k] for k in keys}, **kw})


def grants(sim) -> int:
    return sim.stats.token_requests_by_grant["authorization_code"]


# --- exchange -------------------------------------------------------------------------------


def test_grant_exchanged_once_second_attempt_is_invalid_code_store_untouched(sim, store):
    code = sim.issue_grant_token("us-org")
    creds = exchange_grant_token(client_of(sim), code, store=store)
    assert creds.token_store == str(store.path) and creds.api_domain == sim.api_domain("us")
    saved = store.path.read_bytes()
    with pytest.raises(TokenEndpointError) as err:
        exchange_grant_token(client_of(sim), code, store=store)
    assert err.value.code == "invalid_code" and "new grant token" in err.value.hint
    tokens._caches.clear()
    with pytest.raises(TokenEndpointError, match="invalid_code|already exchanged"):
        exchange_grant_token(client_of(sim), code, store=TokenStore(store.path))
    assert grants(sim) == 1
    assert store.path.read_bytes() == saved
    assert ZohoClient(creds).get_status(JOB).http_status == 200
    assert sim.stats.token_requests_by_grant["refresh_token"] == 0  # the stored token is used


def test_expired_grant_gives_invalid_code_with_hint_and_stores_nothing(sim, store, clock):
    code = sim.issue_grant_token("us-org", lifetime_s=180)
    clock.advance(181)
    with pytest.raises(TokenEndpointError) as err:
        exchange_grant_token(client_of(sim), code, store=store)
    assert err.value.code == "invalid_code" and "Self Client" in err.value.hint
    assert sim.accounts_url("us") in str(err.value)
    assert store.read() == {} and grants(sim) == 1
    with pytest.raises(TokenEndpointError, match="already exchanged"):
        exchange_grant_token(client_of(sim), code, store=store)  # never sent twice
    assert grants(sim) == 1


def test_invalid_client_releases_the_grant_for_a_corrected_retry(sim, store):
    code = sim.issue_grant_token("eu-org")
    wrong_dc = client_of(
        sim, "eu-org", accounts_url=sim.accounts_url("us"), api_domain=sim.api_domain("us")
    )
    with pytest.raises(TokenEndpointError) as err:
        exchange_grant_token(wrong_dc, code, store=store)
    assert err.value.code == "invalid_client" and sim.accounts_url("us") in str(err.value)
    assert store.read() == {}
    creds = exchange_grant_token(client_of(sim, "eu-org"), code, store=store)
    assert creds.api_domain == sim.api_domain("eu") and grants(sim) == 2


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_grant_that_got_no_answer_can_be_sent_again(sim, store, tmp_path, capsys):
    code = sim.issue_grant_token("us-org")
    config = tmp_path / "sim.toml"
    sim.write_config(config)
    good = config.read_text()
    dead = f"http://127.0.0.1:{closed_port()}"
    config.write_text(good.replace(f'"{sim.accounts_url("us")}"', f'"{dead}"'))
    args = ["--org", "us-org", "--config", str(config), "--store", str(store.path)]
    with pytest.raises(TransportError, match="got no answer"):
        run_cli(*args, "--grant-token", code)
    assert grants(sim) == 0 and store.path.exists()
    config.write_text(good)
    assert run_cli(*args, "--grant-token", code) == 0  # not "already exchanged"
    assert "stored a refresh token" in capsys.readouterr().out and grants(sim) == 1


@pytest.mark.parametrize(
    "no_answer", [TransportError("timed out", code="ReadTimeout"), KeyboardInterrupt()]
)
def test_a_timeout_or_an_interrupt_does_not_spend_the_grant(sim, store, monkeypatch, no_answer):
    def fail(*args):
        raise no_answer

    code = sim.issue_grant_token("us-org")
    with monkeypatch.context() as patch:
        patch.setattr(grant, "_fetch", fail)
        with pytest.raises(type(no_answer)):
            exchange_grant_token(client_of(sim), code, store=store)
    creds = exchange_grant_token(client_of(sim), code, store=store)
    assert creds.token_store == str(store.path) and grants(sim) == 1


def test_answer_without_refresh_token_stores_nothing(sim, store, monkeypatch):
    no_refresh = {"access_token": "1000.acc.x", "expires_in": 3600, "api_domain": "x"}
    monkeypatch.setattr(grant, "_fetch", lambda *a: no_refresh)
    with pytest.raises(TokenEndpointError, match="no refresh token") as err:
        exchange_grant_token(client_of(sim), "1000.some.grant", store=store)
    assert err.value.code == "missing_refresh_token" and store.read() == {}


def test_store_false_keeps_nothing_on_disk(sim, tmp_path):
    creds = exchange_grant_token(client_of(sim), sim.issue_grant_token("us-org"), store=False)
    assert creds.token_store == "" and not (tmp_path / "tokens.json").exists()


def test_empty_grant_is_refused_before_any_request(sim, store):
    with pytest.raises(ConfigError, match="grant token is empty"):
        exchange_grant_token(client_of(sim), "  ", store=store)
    assert grants(sim) == 0


# --- web flow -------------------------------------------------------------------------------


def test_authorization_url_has_zoho_parameters():
    client = OAuthClient("acme-ca", "ca", "1000.CAID", "ca-secret-x")
    url, state = authorization_url(client, CB, scopes=["ZohoCRM.mass_convert.leads.CREATE"])
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://accounts.zoho.com/oauth/v2/auth"  # Zoho's multi-DC guide: start there
    )
    assert q["scope"] == "ZohoCRM.mass_convert.leads.READ,ZohoCRM.mass_convert.leads.CREATE"
    assert (q["response_type"], q["access_type"], q["prompt"]) == ("code", "offline", "consent")
    assert (q["client_id"], q["redirect_uri"], q["state"]) == ("1000.CAID", CB, state)
    assert "ca-secret-x" not in url
    au = OAuthClient("acme-au", "au", "1000.AUID", "au-secret-x")
    registered_in_au = authorization_url(au, CB, registered_dc="au")[0]
    assert registered_in_au.startswith("https://accounts.zoho.com.au/oauth/v2/auth?")
    cn = OAuthClient("acme-cn", "cn", "1000.CNID", "cn-secret-x")
    assert authorization_url(cn, CB)[0].startswith("https://accounts.zoho.com.cn/oauth/v2/auth?")


def redirect(server: str, location: str = "eu", code: str = "1000.code.x", state: str = "s1"):
    return f"{CB}?state={state}&code={code}&location={location}&accounts-server={quote(server)}"


def test_parse_redirect_takes_dc_from_accounts_server():
    red = parse_redirect(redirect("https://accounts.zoho.eu"), state="s1")
    assert (red.dc, red.accounts_server, red.location) == ("eu", "https://accounts.zoho.eu", "eu")
    assert "1000.code.x" not in repr(red)
    ca = parse_redirect(redirect("https://accounts.zohocloud.ca", location="ca"))
    assert ca.dc == "ca"


@pytest.mark.parametrize(
    "url, exc, text",
    [
        (redirect("https://accounts.evil.example"), DataCenterError, "accounts.evil.example"),
        (redirect("http://accounts.zoho.eu"), DataCenterError, "must be exactly"),
        (redirect("https://accounts.zoho.eu", location="us"), DataCenterError, "inconsistent"),
        (redirect("http://127.0.0.1:9/eu/accounts"), DataCenterError, "127.0.0.1"),
        (f"{CB}?location=eu&accounts-server=https%3A%2F%2Faccounts.zoho.eu", ConfigError, "code"),
        (f"{CB}?code=1000.c.x", ConfigError, "accounts-server"),
        (f"{CB}?error=access_denied", TokenEndpointError, "access_denied"),
        (redirect("https://accounts.zoho.eu", state="other"), ConfigError, "state"),
    ],
)
def test_bad_redirects_are_refused(url, exc, text):
    with pytest.raises(exc, match=None) as err:
        parse_redirect(url, state="s1")
    assert text in str(err.value)


def test_complete_authorization_against_the_simulator(sim, store):
    client = client_of(sim, "eu-org")
    url, state = authorization_url(client, CB)
    assert url.startswith(sim.accounts_url("eu") + "/oauth/v2/auth?")
    code = sim.issue_grant_token("eu-org")
    back = redirect(sim.accounts_url("eu"), code=code, state=state)
    creds = complete_authorization(client, back, redirect_uri=CB, state=state, store=store)
    assert creds.dc == "eu" and creds.api_domain == sim.api_domain("eu")
    assert store.get("eu-org").refresh_token == creds.refresh_token
    with pytest.raises(DataCenterError):  # another loopback server is not the simulator's
        complete_authorization(
            client,
            redirect("http://127.0.0.1:1/eu/accounts", state=state),
            redirect_uri=CB,
            state=state,
            store=store,
        )


# --- revoke ----------------------------------------------------------------------------------


def test_revoke_revokes_at_zoho_and_deletes(sim, store):
    creds = exchange_grant_token(client_of(sim), sim.issue_grant_token("us-org"), store=store)
    gone = revoke("us-org", store=store)
    assert gone.refresh_token == creds.refresh_token and store.read() == {}
    tokens._caches.clear()
    with pytest.raises(TokenEndpointError, match="invalid_code"):
        auth.TokenCache(creds).get()  # Zoho no longer accepts it
    with pytest.raises(ConfigError, match="no stored token for org 'us-org'"):
        revoke("us-org", store=store)


def test_revoking_a_token_zoho_already_invalidated_deletes_it_and_says_so(sim, store):
    creds = exchange_grant_token(client_of(sim), sim.issue_grant_token("us-org"), store=store)
    other = TokenStore(store.path.with_name("other.json"))
    other.put(store.get("us-org"))
    revoke("us-org", store=other)  # revoked elsewhere: Zoho now answers 400
    with pytest.warns(UserWarning, match="HTTP 400.*invalid already.*deleted"):
        gone = revoke("us-org", store=store)
    assert gone.refresh_token == creds.refresh_token and store.read() == {}


@pytest.mark.parametrize(
    "status, body", [(500, None), (200, {"status": "failure"}), (200, {"error": "x"})]
)
def test_any_other_revoke_answer_keeps_the_token(status, body):
    with pytest.raises(TokenEndpointError, match="kept"):
        revoke_outcome("https://accounts.zoho.eu", status, body)
    assert revoke_outcome("https://accounts.zoho.eu", 200, {"status": "success"}) == "revoked"
    assert revoke_outcome("https://accounts.zoho.eu", 400, None) == "already_invalid"


def test_revoke_without_answer_keeps_the_entry(sim, store):
    exchange_grant_token(client_of(sim), sim.issue_grant_token("us-org"), store=store)
    sim.stop()
    with pytest.raises(TransportError, match="kept"):
        revoke("us-org", store=store, timeout_s=2)
    assert list(store.read()) == ["us-org"]


# --- the `auth` command ------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="zcrm-notebook")
    auth_command.add_parser(parser.add_subparsers(dest="command"), [])
    return auth_command.run(parser.parse_args(["auth", *argv]))


def test_cli_grant_status_revoke(sim, store, tmp_path, capsys):
    config = tmp_path / "sim.toml"
    sim.write_config(config)
    code = sim.issue_grant_token("us-org")
    args = ["--org", "us-org", "--config", str(config), "--store", str(store.path)]
    assert run_cli(*args, "--grant-token", code) == 0
    assert "stored a refresh token for org 'us-org'" in capsys.readouterr().out
    with pytest.raises(TokenEndpointError, match="already exchanged"):
        run_cli(*args, "--grant-token", code)
    assert run_cli("--status", "--store", str(store.path)) == 0
    out = capsys.readouterr().out
    assert "us-org" in out and sim.api_domain("us") in out and re.search(r"\(in (59|60) min\)", out)
    secrets = [
        store.get("us-org").refresh_token,
        store.get("us-org").access_token,
        "us-client-secret",
        code,
    ]
    assert not any(s in out for s in secrets)
    assert run_cli(*args, "--revoke") == 0
    assert store.read() == {} and "revoked" in capsys.readouterr().out
    assert run_cli("--store", str(store.path)) == 0
    assert "no token stored" in capsys.readouterr().out


def test_cli_takes_secret_from_env_and_dc_from_flag(sim, store, monkeypatch, capsys):
    cfg = sim.org_config("eu-org")
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", cfg["client_secret"])
    monkeypatch.setattr(grant, "_fetch", lambda client, *a: pytest.fail("must not be called"))
    with pytest.raises(ConfigError, match="which data center"):
        run_cli(
            "--org",
            "x",
            "--client-id",
            "1000.ID",
            "--grant-token",
            "1000.g.x",
            "--store",
            str(store.path),
        )
    monkeypatch.delenv("ZOHO_CLIENT_SECRET")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(ConfigError, match="ZOHO_CLIENT_SECRET"):
        run_cli(
            "--org",
            "x",
            "--dc",
            "eu",
            "--client-id",
            "1000.ID",
            "--grant-token",
            "1000.g",
            "--store",
            str(store.path),
        )


def test_cli_auth_url_prints_url_and_next_step(capsys, monkeypatch):
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", "ca-secret-x")
    assert (
        run_cli(
            "--org",
            "acme",
            "--dc",
            "ca",
            "--client-id",
            "1000.CAID",
            "--auth-url",
            "--redirect-uri",
            CB,
            "--registered-dc",
            "ca",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "https://accounts.zohocloud.ca/oauth/v2/auth?" in out and "--redirect-url" in out
    assert "ca-secret-x" not in out


def test_cli_scopes_convert_asks_the_web_flow_for_the_conversion_scopes(capsys, monkeypatch):
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", "ca-secret-x")
    args = ["--org", "acme", "--dc", "ca", "--client-id", "1000.CAID", "--redirect-uri", CB]
    assert run_cli(*args, "--auth-url", "--scopes", "convert") == 0
    url = next(w for w in capsys.readouterr().out.split() if w.startswith("https://"))
    scopes = parse_qs(urlsplit(url).query)["scope"][0].split(",")
    assert scopes == [
        "ZohoCRM.mass_convert.leads.READ",
        "ZohoCRM.mass_convert.leads.CREATE",
        "ZohoCRM.modules.leads.READ",
    ]
    assert run_cli("--print-scopes", "--scopes", "diagnose") == 0
    assert capsys.readouterr().out.strip().endswith(",ZohoCRM.modules.leads.CREATE")


def test_cli_grant_warns_when_zoho_granted_fewer_scopes_than_asked(sim, store, tmp_path, capsys):
    config = tmp_path / "sim.toml"
    sim.write_config(config)
    code = sim.issue_grant_token("us-org", scopes=["ZohoCRM.mass_convert.leads.READ"])
    args = ["--org", "us-org", "--config", str(config), "--store", str(store.path)]
    assert run_cli(*args, "--grant-token", code, "--scopes", "convert") == 0
    err = capsys.readouterr().err
    assert "lacks ZohoCRM.mass_convert.leads.CREATE, ZohoCRM.modules.leads.READ" in err
