"""Issue 10, point 1: no token or secret can reach a host it should not.

Crafted ``accounts_url`` / ``api_domain`` values (in a config, or in a token answer) on which
``urllib.parse`` and urllib3 disagree, plus the data-center rules for DC orgs. The tests
observe where connections go: an :class:`EvilListener` on another loopback port records every
connection and byte, and :class:`Network` records every name looked up and every address
connected to (Zoho host names are routed to a TLS fake with a test CA, every other name to
the evil listener). Black box: only ``zcrm_notebook``'s public API and its command line.
"""

from __future__ import annotations

import json

import pytest
import requests
from hostile_server import (
    BACKSTOP,
    EvilListener,
    FakeZoho,
    Network,
    child_env,
    leaks,
    manual_poller,
    read_child_log,
    run_cli,
    tls_fake,
    trust_ca,
    write_toml,
)

import zcrm_notebook as zn

JOBS = ["3652397000009835020", "3652397000009835021"]
ORG = "lb-org"
# one retry, one error row per job: a refused or failing destination costs few calls
POLICY = zn.PollPolicy(seed=1, max_retries=1, give_up_after_errors=1, timeout_s=2.0, **BACKSTOP)

# {good}: the fake Zoho's port; {evil}: the evil listener's port.
CRAFTED = {
    "backslash-before-at, other port": "http://127.0.0.1:{evil}\\@127.0.0.1:{good}",
    "backslash-before-at, foreign host": "http://evil.example\\@127.0.0.1:{good}",
    "backslash-before-at, zoho host over http": "http://accounts.zoho.eu\\@127.0.0.1:{good}",
    "backslash-before-at, localhost": "http://localhost:{evil}\\@127.0.0.1:{good}",
    "backslash-before-at, ipv6 loopback": "http://[::1]:{evil}\\@127.0.0.1:{good}",
    "backslash-before-at, upper-case scheme": "HTTP://127.0.0.1:{evil}\\@127.0.0.1:{good}",
    "user info, zoho name": "http://www.zohoapis.eu@127.0.0.1:{evil}",
    "user info, user and password": "http://user:pass@127.0.0.1:{good}",
    "encoded backslash in user info": "http://127.0.0.1:{evil}%5C@127.0.0.1:{good}",
    "tab before backslash": "http://127.0.0.1:{evil}\t\\@127.0.0.1:{good}",
    "carriage return before backslash": "http://127.0.0.1:{evil}\r\\@127.0.0.1:{good}",
    "space before backslash": "http://127.0.0.1:{evil} \\@127.0.0.1:{good}",
    "newline before at": "http://127.0.0.1:{good}\n@evil.example",
    "fullwidth at sign": "http://evil.example\uff20127.0.0.1:{good}",
    "ideographic full stops": "http://127\u30020\u30020\u30021:{evil}",
    "port out of range": "http://127.0.0.1:{good}0000",
}


def fill(template: str, fake: FakeZoho, evil: EvilListener) -> str:
    return template.format(good=fake.port, evil=evil.port)


@pytest.fixture
def evil():
    with EvilListener() as listener:
        yield listener


@pytest.fixture
def fake():
    with FakeZoho() as server:
        yield server


@pytest.fixture
def net(monkeypatch, evil):
    return Network(fallback_port=evil.port).install(monkeypatch.setattr)


def assert_nothing_reached(evil, net, secrets, allowed_ports):
    assert evil.connections == 0, f"the evil listener got {evil.connections} connection(s)"
    assert evil.saw(secrets) == []
    assert net.foreign == [], f"looked up names outside the allowed hosts: {net.foreign}"
    stray = net.connected_ports() - set(allowed_ports)
    assert not stray, f"connected to ports {stray} (allowed: {allowed_ports})"


def one_line(text: str) -> bool:
    return "\n" not in text.strip() and len(text) < 500


# --- configured URLs (a loopback org, the simulator's kind of config) ----------------------


@pytest.mark.parametrize("key", ["accounts_url", "api_domain"])
@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_config_url_is_refused_before_any_call(tmp_path, fake, evil, net, case, key):
    table = fake.org_config(**{key: fill(CRAFTED[case], fake, evil)})
    config = write_toml(tmp_path / "orgs.toml", {ORG: table})
    refused = None
    try:
        manual_poller({ORG: JOBS}, config=str(config), policy=POLICY).run()
    except zn.ZcrmError as exc:  # anything else escapes and fails the test
        refused = exc
    assert_nothing_reached(evil, net, fake.secrets(), allowed_ports=())
    assert fake.requests == [], f"{len(fake.requests)} request(s) sent with a crafted {key}"
    assert refused is not None, f"the crafted {key} was accepted"
    assert one_line(str(refused)), str(refused)[:600]


# --- api_domain of a token answer (loopback org) --------------------------------------------

TOKEN_API_DOMAINS = {
    "backslash-before-at, other port": "http://127.0.0.1:{evil}\\@127.0.0.1:{good}/api",
    "backslash-before-at, foreign host": "http://evil.example\\@127.0.0.1:{good}/api",
    "backslash-before-at, zoho host over http": "http://www.zohoapis.eu\\@127.0.0.1:{good}/api",
    "user info, zoho name, http": "http://www.zohoapis.eu@127.0.0.1:{evil}",
    "user info, zoho name, https": "https://www.zohoapis.eu@127.0.0.1:{evil}",
    "encoded backslash in user info": "http://127.0.0.1:{evil}%5C@127.0.0.1:{good}/api",
    "tab before backslash": "http://127.0.0.1:{evil}\t\\@127.0.0.1:{good}/api",
    "fullwidth at sign": "http://evil.example\uff20127.0.0.1:{good}/api",
    "zoho host over plain http": "http://www.zohoapis.eu",
    "non-loopback address": "http://10.11.12.13:{good}/api",
}


@pytest.mark.parametrize("case", list(TOKEN_API_DOMAINS))
def test_crafted_api_domain_in_token_answer_is_refused(fake, evil, net, case):
    fake.token = fake.token_with_api_domain(fill(TOKEN_API_DOMAINS[case], fake, evil))
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    df = manual_poller({ORG: JOBS}, {ORG: creds}, policy=POLICY).run()
    assert_nothing_reached(evil, net, fake.secrets(), allowed_ports={fake.port})
    assert fake.status_requests() == 0
    assert len(df) == len(JOBS) and (df["status"] == "error").all()
    assert set(df["error_code"]) == {"UNSAFE_ENDPOINT"}, df["error_code"].tolist()


def test_control_a_plain_loopback_org_polls_normally(fake, evil, net):
    """The harness itself: a well-formed loopback config works and stays on its port."""
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    df = manual_poller({ORG: JOBS}, {ORG: creds}, policy=POLICY).run()
    assert (df["status"] == "completed").all() and len(df) == 2
    assert_nothing_reached(evil, net, fake.secrets(), allowed_ports={fake.port})
    assert fake.counts["token"] == 1 and fake.status_requests() == 2


# --- a data-center org against the real Zoho host names (TLS fake, test CA) ----------------

EU_HOSTS = {"accounts.zoho.eu", "www.zohoapis.eu", "sandbox.zohoapis.eu", "developer.zohoapis.eu"}
REFUSED_FOR_EU = {
    "api_domain of another data center": "https://www.zohoapis.com",
    "sandbox of another data center": "https://sandbox.zohoapis.com",
    "zoho host, non-default https port": "https://www.zohoapis.eu:8443",
    "zoho host, plain http": "http://www.zohoapis.eu",
    "user info before the zoho host": "https://user@www.zohoapis.eu",
    "backslash before at": "https://evil.example\\@www.zohoapis.eu",
    "trailing dot": "https://www.zohoapis.eu.",
    "loopback for a DC org": "http://127.0.0.1:{evil}",
}
CONFIG_REFUSAL_CODES = {"UNSAFE_ENDPOINT", "CONFIG_ERROR", "UNKNOWN_DC"}


@pytest.fixture
def zoho(tmp_path, monkeypatch, evil):
    """(tls fake, network): Zoho's host names on 443 reach the fake; others the evil port."""
    with tls_fake(tmp_path) as tz:
        net = Network(routes=tz.routes, fallback_port=evil.port).install(monkeypatch.setattr)
        trust_ca(monkeypatch.setattr, tz.ca_bundle)
        yield tz, net


def eu_creds(fake: FakeZoho, **kw) -> zn.OrgCredentials:
    return zn.OrgCredentials(org="eu-org", dc="eu", client_id=fake.client_id,
                             client_secret=fake.client_secret,
                             refresh_token=fake.refresh_token, **kw)  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED_FOR_EU))
def test_token_answer_api_domain_must_belong_to_the_orgs_data_center(zoho, evil, case):
    tz, net = zoho
    api_domain = REFUSED_FOR_EU[case].format(evil=evil.port)
    tz.fake.token = tz.fake.token_with_api_domain(api_domain)
    df = manual_poller({"eu-org": JOBS}, {"eu-org": eu_creds(tz.fake)}, policy=POLICY).run()
    assert tz.fake.hosts() <= EU_HOSTS, f"requests reached {tz.fake.hosts() - EU_HOSTS}"
    assert tz.fake.status_requests() == 0
    assert_nothing_reached(evil, net, tz.fake.secrets(), allowed_ports={tz.fake.port})
    assert {h for h, _ in net.lookups} <= EU_HOSTS
    assert (df["status"] == "error").all() and len(df) == len(JOBS)
    assert set(df["error_code"]) <= CONFIG_REFUSAL_CODES, df["error_code"].tolist()


@pytest.mark.parametrize("api_domain", ["https://www.zohoapis.eu", "https://sandbox.zohoapis.eu"])
def test_control_token_answer_of_the_same_data_center_is_used(zoho, evil, api_domain):
    tz, net = zoho
    tz.fake.token = tz.fake.token_with_api_domain(api_domain)
    df = manual_poller({"eu-org": JOBS}, {"eu-org": eu_creds(tz.fake)}, policy=POLICY).run()
    assert (df["status"] == "completed").all()
    host = api_domain.split("//")[1]
    assert tz.fake.hosts() == {"accounts.zoho.eu", host}
    assert_nothing_reached(evil, net, tz.fake.secrets(), allowed_ports={tz.fake.port})


@pytest.mark.parametrize(
    "key, url",
    [
        ("api_domain", "https://www.zohoapis.eu:8443"),
        ("accounts_url", "https://accounts.zoho.eu:8443"),
        ("api_domain", "https://www.zohoapis.com"),
        ("accounts_url", "https://accounts.zoho.com"),
        ("accounts_url", "http://accounts.zoho.eu"),
        ("api_domain", "https://www.zohoapis.eu@www.zohoapis.eu"),
        ("accounts_url", "https://accounts.zoho.eu\\@evil.example"),
    ],
)
def test_dc_org_config_with_a_foreign_or_odd_url_is_refused(zoho, evil, key, url):
    tz, net = zoho
    with pytest.raises(zn.ZcrmError) as err:
        eu_creds(tz.fake, **{key: url})
    assert one_line(str(err.value))
    assert tz.fake.requests == [] and net.lookups == [] and evil.connections == 0


# --- the command line -----------------------------------------------------------------------


def cli_env(tmp_path, evil, **kw):
    return child_env(tmp_path, fallback_port=evil.port, **kw)


def jobs_csv(tmp_path, org=ORG):
    path = tmp_path / "jobs.csv"
    path.write_text("job_id,org\n" + "".join(f"{j},{org}\n" for j in JOBS))
    return path


def assert_child_stayed_home(log, evil, secrets, allowed_ports):
    events = read_child_log(log)
    assert evil.connections == 0, f"the evil listener got {evil.connections} connection(s)"
    assert evil.saw(secrets) == []
    assert events["foreign"] == [], f"the CLI looked up {events['foreign']}"
    stray = {p for _, p in events["connects"]} - set(allowed_ports)
    assert not stray, f"the CLI connected to ports {stray}"


def assert_error_exit(code, err):
    assert code == 1, f"exit code {code}; stderr: {err[-1500:]}"
    assert "Traceback" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert lines and all(len(ln) < 500 for ln in lines), err[-1500:]


def test_cli_poll_with_a_crafted_accounts_url_exits_1_without_sending(tmp_path, fake, evil):
    crafted = fill(CRAFTED["backslash-before-at, other port"], fake, evil)
    config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config(accounts_url=crafted)})
    env, log = cli_env(tmp_path, evil)
    code, out, err = run_cli(["poll", str(jobs_csv(tmp_path)), "--config", str(config), "--out",
                              str(tmp_path / "s.csv"), "--no-progress"], env)  # fmt: skip
    assert_child_stayed_home(log, evil, fake.secrets(), allowed_ports=())
    assert fake.requests == []
    assert_error_exit(code, err)
    assert err.count("\n") == 1, err


def test_cli_poll_with_a_crafted_api_domain_in_the_token_answer(tmp_path, fake, evil):
    fake.token = fake.token_with_api_domain(f"http://www.zohoapis.eu@127.0.0.1:{evil.port}")
    config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config()})
    env, log = cli_env(tmp_path, evil)
    code, out, err = run_cli(["poll", str(jobs_csv(tmp_path)), "--config", str(config), "--out",
                              str(tmp_path / "s.csv"), "--no-progress"], env)  # fmt: skip
    assert_child_stayed_home(log, evil, fake.secrets(), allowed_ports={fake.port})
    assert fake.status_requests() == 0
    assert_error_exit(code, err)


def test_cli_poll_dc_org_with_another_dcs_api_domain_in_the_token_answer(tmp_path, evil):
    with tls_fake(tmp_path) as tz:
        tz.fake.token = tz.fake.token_with_api_domain("https://www.zohoapis.com")
        table = {
            "dc": "eu",
            "client_id": tz.fake.client_id,
            "client_secret": tz.fake.client_secret,
            "refresh_token": tz.fake.refresh_token,
        }
        config = write_toml(tmp_path / "orgs.toml", {"eu-org": table})  # fmt: skip
        env, log = cli_env(tmp_path, evil, routes=tz.routes, ca_bundle=tz.ca_bundle)
        code, out, err = run_cli(["poll", str(jobs_csv(tmp_path, "eu-org")), "--config",
                                  str(config), "--out", str(tmp_path / "s.csv"), "--no-progress"],
                                 env)  # fmt: skip
        hosts = tz.fake.hosts()
    assert hosts <= EU_HOSTS, f"the CLI's requests reached {hosts - EU_HOSTS}"
    assert_child_stayed_home(log, evil, tz.fake.secrets(), allowed_ports={tz.fake.port})
    assert_error_exit(code, err)


def test_cli_auth_grant_exchange_with_a_crafted_accounts_url_sends_nothing(tmp_path, fake, evil):
    crafted = fill(CRAFTED["backslash-before-at, other port"], fake, evil)
    table = {k: v for k, v in fake.org_config(accounts_url=crafted).items()
             if k != "refresh_token"}  # fmt: skip
    config = write_toml(tmp_path / "orgs.toml", {ORG: table})
    grant = "1000.grantcode0123456789abcdef.0123456789abcdef"
    env, log = cli_env(tmp_path, evil)
    code, out, err = run_cli(["auth", "--org", ORG, "--dc", "us", "--client-id", fake.client_id,
                              "--config", str(config), "--grant-token", grant], env)  # fmt: skip
    assert_child_stayed_home(log, evil, fake.secrets() | {grant}, allowed_ports=())
    assert_error_exit(code, err)


def test_cli_auth_revoke_with_a_crafted_stored_accounts_url_sends_nothing(tmp_path, fake, evil):
    crafted = fill(CRAFTED["backslash-before-at, other port"], fake, evil)
    entry = {**fake.org_config(accounts_url=crafted), "api_version": "v5", "scopes": []}
    store = {"format": "zcrm-notebook token store", "version": 1, "orgs": {ORG: entry},
             "used_grants": []}  # fmt: skip
    env, log = cli_env(tmp_path, evil)
    (tmp_path / "tokens.json").write_text(json.dumps(store))
    (tmp_path / "tokens.json").chmod(0o600)
    code, out, err = run_cli(["auth", "--org", ORG, "--revoke"], env)
    assert_child_stayed_home(log, evil, fake.secrets(), allowed_ports=())
    assert leaks([out, err], fake.secrets()) == []
    assert_error_exit(code, err)


# --- a session given by the user cannot bypass the check --------------------------------------


class RecordingAdapter(requests.adapters.HTTPAdapter):
    """A user's own adapter (a subclass): records the URLs it was asked to send."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        return super().send(request, **kwargs)


# Through the session itself the URL is the one requests prepares (a backslash becomes %5C
# in the path, so "http://127.0.0.1:{evil}\\@..." is plain loopback, which a loopback org
# may reach by design); these stay foreign after preparation.
SESSION_URLS = ["http://www.zohoapis.eu@127.0.0.1:{evil}/", "http://10.11.12.13/api",
                "https://www.zohoapis.eu", "http://evil.example:{good}/"]  # fmt: skip


def test_an_injected_session_is_guarded_for_every_request(fake, evil, net):
    session = requests.Session()
    own = RecordingAdapter()
    session.mount("http://127.0.0.1", own)  # more specific than requests' own adapters
    session.proxies, session.verify = {"no_proxy": "*"}, False
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    client = zn.ZohoClient(creds, session=session)
    assert client.get_status(JOBS[0]).status.status == "completed"  # a good call still works
    assert own.urls and all(u.startswith(fake.base_url) for u in own.urls)
    for url in SESSION_URLS:
        with pytest.raises(zn.ZcrmError) as err:
            session.get(fill(url, fake, evil), timeout=2)  # later uses are guarded too
        assert err.value.code == "UNSAFE_ENDPOINT"
    assert session.proxies == {"no_proxy": "*"} and session.verify is False
    assert_nothing_reached(evil, net, fake.secrets(), allowed_ports={fake.port})


def test_an_injected_session_keeps_its_ca_bundle_for_a_dc_org(zoho, evil):
    """A DC org through a user's session: its ``verify`` (the CA bundle) is used, and only
    the org's data center is reachable through it."""
    tz, net = zoho
    tz.fake.token = tz.fake.token_with_api_domain("https://www.zohoapis.eu")
    session = requests.Session()
    session.verify = str(tz.ca_bundle)
    session.trust_env = False  # else $REQUESTS_CA_BUNDLE wins over session.verify (requests)
    client = zn.ZohoClient(eu_creds(tz.fake), session=session)
    assert client.get_status(JOBS[0]).status.status == "completed"
    for url in ("https://www.zohoapis.com/crm", f"http://127.0.0.1:{evil.port}"):
        with pytest.raises(zn.ZcrmError, match="refusing"):
            session.get(url, timeout=2)
    assert tz.fake.hosts() <= EU_HOSTS and session.verify == str(tz.ca_bundle)
    assert_nothing_reached(evil, net, tz.fake.secrets(), allowed_ports={tz.fake.port})


# --- proxies of a session given by the user ---------------------------------------------------


@pytest.mark.parametrize("where", ["environment", "session.proxies"])
def test_a_loopback_call_never_goes_through_a_proxy(fake, evil, net, monkeypatch, where):
    """A proxy of a given session (``trust_env`` on, or its own ``proxies``) would receive a
    loopback org's plain-HTTP request, access token included, on another host."""
    proxy = f"http://proxy.evil.example:{evil.port}"
    session = requests.Session()
    if where == "environment":
        for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
    else:
        session.proxies = {"http": proxy, "https": proxy}
    client = zn.ZohoClient(zn.OrgCredentials(org=ORG, **fake.org_config()), session=session)
    assert client.get_status(JOBS[0]).status.status == "completed"
    assert fake.status_requests() == 1
    assert_nothing_reached(evil, net, fake.secrets(), allowed_ports={fake.port})
