"""No access token, refresh token, grant token or client secret anywhere it could leak.

Every logger at DEBUG (the root logger and requests-oauthlib's, oauthlib's, urllib3's),
the snapshot DataFrame and CSV, reprs of public objects, error messages, warnings and
console output are searched for every secret the simulator knows (its org configs and
every access, refresh and grant token it issued).
"""

from __future__ import annotations

import logging
import warnings

import pytest

from zcrm_notebook.auth import OrgCredentials, TokenCache
from zcrm_notebook.auth.grant import OAuthClient, exchange_grant_token, revoke
from zcrm_notebook.auth.tokenstore import TokenStore
from zcrm_notebook.auth.webflow import authorization_url, parse_redirect
from zcrm_notebook.errors import ZcrmError
from zcrm_notebook.inputs.orgs import orgs_from_store
from zcrm_notebook.poll import Poller, PollPolicy
from zcrm_notebook.simulator import Faults, SimClock, default_scenario
from zcrm_notebook.snapshots.csvfile import write_snapshots_csv

LOGGERS = (
    "",
    "requests_oauthlib",
    "oauthlib",
    "urllib3",
    "requests",
    "zcrm_notebook",
    "py.warnings",
)


# a private token store (conftest's autouse _private_token_store) and empty token caches
pytestmark = pytest.mark.usefixtures("fresh_token_caches")


@pytest.fixture
def debug_logs(caplog):
    names = set(LOGGERS) | set(logging.root.manager.loggerDict)
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def sim_secrets(sim) -> set[str]:
    """Client secrets and refresh tokens of the orgs, and every token the simulator issued."""
    found = set()
    for org in sim.orgs:
        found |= {org.client_secret, org.refresh_token}
    with sim._lock:  # private: the simulator has no public list of issued tokens (yet)
        found |= set(sim._access) | set(sim._refresh) | set(sim._grants)
    return {s for s in found if s}


def leaks(texts, secrets) -> list[tuple[str, str]]:
    return [(s[:12] + "...", t[:200]) for t in texts for s in secrets if s in t]


def log_texts(caplog) -> list[str]:
    fmt = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return [caplog.text] + [fmt.format(r) for r in caplog.records]


def test_poll_run_grant_refresh_401_revoke_leak_nothing(debug_logs, tmp_path, capsys):
    clock = SimClock()
    errors: list[BaseException] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with default_scenario(clock=clock, token_lifetime_s=90, expires_in_style="ms") as sim:
            ids = {o.name: sim.job_ids(o.name) for o in sim.orgs}
            sim.faults.script[ids["eu-org"][0]] = ["invalid_token"]
            sim.faults.script[ids["in-org"][0]] = ["auth_failure", "auth_failure"]
            orgs = {o.name: OrgCredentials(org=o.name, **sim.org_config(o.name)) for o in sim.orgs}
            bad = OrgCredentials(**{**orgs["au-org"].__dict__, "client_secret": "wrong-secret-1"})
            orgs["au-org"] = bad
            poller = Poller(
                ids, orgs, clock=clock.time, sleep=clock.sleep, policy=PollPolicy(seed=1)
            )
            df = poller.run()
            objects = [
                poller,
                *orgs.values(),
                *(o.client for o in poller._orgs.values()),
                *(o.client.tokens for o in poller._orgs.values()),
                *(o.client.tokens._token for o in poller._orgs.values()),
            ]
            objects += _grant_flows(sim, tmp_path, errors)
            secrets = sim_secrets(sim) | {"wrong-secret-1"}
    assert (df["error_code"] == "invalid_client_secret").any()  # the errors really happened
    assert sim.stats.token_requests["us-org"] >= 3  # and tokens were refreshed
    csv = tmp_path / "snapshots.csv"
    write_snapshots_csv(df, csv)
    texts = log_texts(debug_logs) + [csv.read_text(), df.to_string(), repr(df.values.tolist())]
    texts += [repr(o) for o in objects] + [str(o) for o in objects]
    texts += [t for e in errors for t in (str(e), repr(e), repr(e.__dict__))]
    texts += [str(w.message) for w in caught]
    out = capsys.readouterr()
    texts += [out.out, out.err]
    assert len(debug_logs.records) > 100 and len(secrets) > 20
    assert any("requests_oauthlib" in r.name for r in debug_logs.records)
    assert leaks(texts, secrets) == []


def _grant_flows(sim, tmp_path, errors: list) -> list:
    """Grant exchange, web flow, a reused grant, a throttled refresh, revoke: all logged."""
    cfg = sim.org_config("us-org")
    client = OAuthClient(
        "us-org",
        "us",
        cfg["client_id"],
        cfg["client_secret"],
        cfg["accounts_url"],
        cfg["api_domain"],
    )
    store = TokenStore(tmp_path / "tokens.json")
    code = sim.issue_grant_token("us-org")
    creds = exchange_grant_token(client, code, store=store)
    for attempt in (
        lambda: exchange_grant_token(client, code, store=store),
        lambda: parse_redirect(f"https://x/cb?code={code}&accounts-server=https://a.b"),
        lambda: _throttle(creds),
    ):
        try:
            attempt()
        except ZcrmError as exc:
            errors.append(exc)
    url, _ = authorization_url(client, "https://example.com/cb")
    objects = [client, creds, store, *store.read().values(), *orgs_from_store(store.path).values()]
    objects.append(
        parse_redirect(f"https://x/cb?code={code}&accounts-server=https%3A%2F%2Faccounts.zoho.eu")
    )
    objects.append(revoke("us-org", store=store))
    assert client.client_secret not in url
    return objects


def _throttle(creds):
    cache = TokenCache(creds)
    for _ in range(12):  # Zoho allows 10 new access tokens per 10 minutes
        cache.invalidate(cache.get())


def test_demo_with_debug_logging_leaks_nothing(debug_logs, tmp_path, monkeypatch, capsys):
    from zcrm_notebook import cli, simulator

    made = []

    def capture(**kwargs):
        sim = default_scenario(**kwargs)
        made.append(sim)
        return sim

    monkeypatch.setattr(simulator, "default_scenario", capture)
    out_dir = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out_dir), "--no-progress", "--speed", "200"]) == 0
    (sim,) = made
    secrets = sim_secrets(sim)
    files = [p.read_text() for p in out_dir.rglob("*") if p.suffix in (".csv", ".md", ".txt")]
    out = capsys.readouterr()
    texts = log_texts(debug_logs) + files + [out.out, out.err]
    assert len(secrets) >= 12 and files
    assert leaks(texts, secrets) == []
    # the config the demo writes holds the fake secrets on purpose: it must be private
    assert (out_dir / "simulator.toml").stat().st_mode & 0o077 == 0


def test_faults_with_errors_in_messages_leak_nothing(debug_logs):
    clock = SimClock()
    faults = Faults(script={}, seed=3)
    with default_scenario(n_jobs=4, dcs=("us",), clock=clock, faults=faults) as sim:
        for jid in sim.job_ids():
            faults.script[jid] = ["invalid_token", "invalid_token", "html", "truncated"]
        creds = {"us-org": OrgCredentials(org="us-org", **sim.org_config("us-org"))}
        df = Poller(
            sim.job_ids(), creds, clock=clock.time, sleep=clock.sleep, policy=PollPolicy(seed=1)
        ).run()
        secrets = sim_secrets(sim)
    assert (df["status"] == "error").any()
    texts = log_texts(debug_logs) + df["error_message"].dropna().tolist()
    assert leaks(texts, secrets) == []
