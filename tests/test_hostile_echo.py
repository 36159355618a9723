"""Issue 10, point 2: secrets that a server echoes back never reach a file, a frame or a log.

Each mode is an endpoint that reflects the request (the Authorization header, the form fields
client_secret / refresh_token / code, the access token) into an error ``message``,
``details``, ``error_description``, a code, a status word or an HTML page. Searched: every
cell of the snapshot DataFrame, the CSV of ``write_snapshots_csv`` and of ``poll --out``, the
SQLite store file and its ``-wal``, stdout, stderr, every log record at DEBUG, and the
messages and reprs of the exceptions the public client raises.
"""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import pytest
from hostile_server import (
    BACKSTOP,
    Answer,
    FakeZoho,
    child_env,
    envelope,
    leaks,
    manual_poller,
    new_secret,
    run_cli,
    status_body,
    write_toml,
)

import zcrm_notebook as zn

# hostile answers warn (DataQualityWarning) by design; what they warn about is tested in
# test_quality.py and test_poller.py; here the warnings are not the subject
pytestmark = pytest.mark.filterwarnings("ignore::zcrm_notebook.errors.DataQualityWarning")

JOBS = ["3652397000009835020", "3652397000009835021"]
PROBE_JOB = "3652397000009835099"  # asked once through zn.ZohoClient, before the poll
ORG = "echo-org"
POLICY = zn.PollPolicy(seed=1, max_retries=1, give_up_after_errors=2, **BACKSTOP)


def html(req) -> str:
    return f"<html><body><h1>Bad request</h1><pre>{req.echo()}</pre></body></html>"


def first(k, fn):
    """Answer with ``fn`` for the first ``k`` polls of each job, then 'completed'."""
    return lambda req, n: fn(req, n) if n <= k else Answer(200, status_body())


# mode -> function(fake) installing the echo; returns extra secrets to look for
def token_error_description(fake):
    fake.token = lambda req, n: Answer(200, {"error": "invalid_client",
                                             "error_description": req.echo()})  # fmt: skip


def token_error_code(fake):
    fake.token = lambda req, n: Answer(200, {"error": req.form.get("client_secret", "")})


def token_400_description(fake):
    fake.token = lambda req, n: Answer(400, {"error": "invalid_request",
                                             "error_description": req.echo()})  # fmt: skip


def token_html(fake):
    fake.token = lambda req, n: Answer(500, html(req), content_type="text/html")


def crm_message(fake):
    fake.status = first(2, lambda req, n: Answer(400, envelope("INVALID_DATA", req.echo())))


def crm_message_bare_token(fake):
    msg = lambda req: f"token {req.access_token} is not valid for this job"  # noqa: E731
    fake.status = first(2, lambda req, n: Answer(400, envelope("INVALID_DATA", msg(req))))


def crm_details(fake):
    details = lambda req: {"authorization": req.authorization, "token": req.access_token}  # noqa: E731
    fake.status = first(2, lambda req, n: Answer(400, envelope("INVALID_DATA", "invalid id",
                                                               details(req))))  # fmt: skip


def crm_code(fake):
    fake.status = first(2, lambda req, n: Answer(400, envelope(req.access_token, "x")))


def crm_401_code(fake):
    fake.status = first(2, lambda req, n: Answer(401, envelope(req.access_token, req.echo())))


def crm_429_message(fake):
    fake.status = first(3, lambda req, n: Answer(429, envelope("TOO_MANY_REQUESTS", req.echo()),
                                                 headers={"Retry-After": "1"}))  # fmt: skip


def crm_status_word(fake):
    fake.status = first(2, lambda req, n: Answer(200, status_body(status=req.access_token,
                                                                  converted=3)))  # fmt: skip


def crm_html(fake):
    fake.status = first(2, lambda req, n: Answer(502, html(req), content_type="text/html"))


def crm_unknown_token_shapes(fake):
    """Tokens the client never saw, in the shapes the README promises to mask."""
    a, r, z = new_secret(), new_secret(), new_secret()
    text = f'{{"access_token": "{a}"}} refresh_token={r} Authorization: Zoho-oauthtoken {z}'
    fake.status = first(2, lambda req, n: Answer(400, envelope("INVALID_DATA", text,
                                                               {"echo": text})))  # fmt: skip
    return {a, r, z}


ODD_SECRET = 's3cr/t+v@l=ue&x "q" %41'  # changes under URL quoting and JSON escaping


def encoded_values(req) -> str:
    """The form's values without their names: as sent (URL-encoded) and JSON-escaped."""
    sent = [pair.split("=", 1)[-1] for pair in req.body.decode().split("&")]
    return " ".join(sent + [json.dumps(v)[1:-1] for v in req.form.values()])


def token_echo_of_an_encoded_secret(fake):
    """Form values echoed URL-encoded and JSON-escaped, without their names: the client
    secret is in neither form as written (see ``ODD_SECRET``)."""
    fake.client_secret = ODD_SECRET
    text = lambda req: f"unknown values: {encoded_values(req)}"  # noqa: E731
    fake.token = lambda req, n: Answer(400, {"error": "invalid_client",
                                             "error_description": text(req)})  # fmt: skip
    return {ODD_SECRET, quote_plus(ODD_SECRET), quote(ODD_SECRET, safe=""),
            json.dumps(ODD_SECRET)[1:-1]}  # fmt: skip


def b64(text: str, alphabet=base64.b64encode) -> str:
    return alphabet(text.encode()).decode()


def halves(text: str) -> list[str]:
    return [text[: len(text) // 2], text[len(text) // 2 :]]


# name -> the forms in which an endpoint echoes the access token (none holds it as sent)
TOKEN_FORMS = {
    "token_parts_without_prefix": lambda t: t.split(".")[1:],
    "token_base64": lambda t: [b64(t)],
    "header_base64url": lambda t: [b64(f"Zoho-oauthtoken {t}", base64.urlsafe_b64encode)],
    "token_base64_halves": lambda t: halves(b64(t)),
    "token_hex_halves": lambda t: halves(t.encode().hex()),
    "token_percent_every_char": lambda t: ["".join(f"%{ord(c):02x}" for c in t)],
    "token_zero_width_joined": lambda t: ["\u200b".join(t)],
    "token_upper_case": lambda t: [t.upper()],
    "token_reversed": lambda t: [t[::-1]],
}


def crm_message_encoded(name: str):
    """The access token echoed in the message in the forms of ``TOKEN_FORMS[name]``."""
    seen: set[str] = set()

    def answer(req, n):
        forms = TOKEN_FORMS[name](req.access_token)
        seen.update(forms)
        return Answer(400, envelope("INVALID_DATA", "bad: " + " ".join(forms)))

    def install(fake):
        fake.status = first(2, answer)
        return seen  # filled as the endpoint answers

    install.__name__ = f"crm_message_{name}"
    return install


def token_secret_escaped(fake):
    """The client secret as HTML character references and JSON ``\\u`` escapes."""
    seen: set[str] = set()

    def answer(req, n):
        secret = req.form.get("client_secret", "")
        forms = ["".join(f"&#{ord(c)};" for c in secret[:21]),
                 "".join(f"\\u{ord(c):04x}" for c in secret[21:])]  # fmt: skip
        seen.update(forms + [secret[:21], secret[21:]])  # and the halves, decoded
        return Answer(400, {"error": "invalid_client", "error_description": " ".join(forms)})

    fake.token = answer
    return seen


MODES = {f.__name__: f for f in (
    token_error_description, token_error_code, token_400_description, token_html, crm_message,
    crm_message_bare_token, crm_details, crm_code, crm_401_code, crm_429_message,
    crm_status_word, crm_html, crm_unknown_token_shapes,
    token_echo_of_an_encoded_secret, token_secret_escaped,
    *(crm_message_encoded(name) for name in TOKEN_FORMS))}  # fmt: skip


TRANSIENT = {"crm_429_message", "crm_html"}


@pytest.fixture
def debug_logs(caplog):
    names = {"", "requests_oauthlib", "oauthlib", "urllib3", "requests", "zcrm_notebook"}
    for name in names | set(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def log_texts(caplog) -> list[str]:
    fmt = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return [caplog.text] + [fmt.format(r) for r in caplog.records]


def exception_texts(creds) -> list[str]:
    """Ask once through the public client; the texts of whatever it raised."""
    client = zn.ZohoClient(creds, timeout_s=5)
    try:
        client.get_status(PROBE_JOB)
    except zn.ZcrmError as exc:
        return [str(exc), repr(exc), repr(vars(exc)), repr(exc.args)]
    finally:
        client.close()
    return []


def frame_texts(df) -> list[str]:
    return [str(v) for v in df.astype(object).to_numpy().ravel()] + [df.to_string()]


def store_bytes(path) -> list[bytes]:
    return [p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file()]


@pytest.mark.parametrize("mode", list(MODES))
def test_echoed_secrets_reach_no_frame_csv_store_log_or_exception(
    mode, tmp_path, debug_logs, capsys
):
    with FakeZoho() as fake:
        extra = MODES[mode](fake)  # a set that an echo may fill as it answers
        creds = zn.OrgCredentials(org=ORG, **fake.org_config())
        texts: list = exception_texts(creds)
        store = zn.SnapshotStore(tmp_path / "s.sqlite")
        try:
            df = manual_poller({ORG: JOBS}, {ORG: creds}, policy=POLICY, store=store).run()
            texts += store_bytes(tmp_path / "s.sqlite")  # with its -wal, while open
        finally:
            store.close()
        secrets = fake.secrets() | (extra or set())
        sent = fake.counts["token"] + fake.status_requests()
    assert sent <= 40, f"{sent} requests for two jobs"
    assert len(df) >= len(JOBS)
    csv = zn.write_snapshots_csv(df, tmp_path / "s.csv")
    out = capsys.readouterr()
    texts += frame_texts(df) + [csv.read_text(encoding="utf-8"), out.out, out.err]
    texts += log_texts(debug_logs)
    assert len(secrets) >= 2
    assert leaks(texts, secrets) == []


def test_cli_poll_of_echoing_orgs_leaks_nothing(tmp_path):
    """Every mode at once, one org per mode, through ``poll -vv --store --out`` (except the
    transient ones: their real-time retry backoff would make the test slow)."""
    modes = [m for name, m in MODES.items() if name not in TRANSIENT]
    fakes = {f"org-{i}": FakeZoho() for i in range(len(modes))}
    try:
        extras = [install(fake) or set() for fake, install in zip(fakes.values(), modes)]
        config = write_toml(tmp_path / "orgs.toml",
                            {org: f.org_config() for org, f in fakes.items()})  # fmt: skip
        jobs = tmp_path / "jobs.csv"
        jobs.write_text("job_id,org\n" + "".join(f"{j},{o}\n" for o in fakes for j in JOBS))
        env, _ = child_env(tmp_path)
        code, out, err = run_cli(
            ["-vv", "poll", str(jobs), "--config", str(config), "--out", str(tmp_path / "s.csv"),
             "--store", str(tmp_path / "s.sqlite"), "--no-progress", "--min-interval", "0.05",
             "--max-interval", "0.1"], env, timeout_s=90)  # fmt: skip
        secrets = set().union(*(f.secrets() for f in fakes.values()), *extras)
    finally:
        for f in fakes.values():
            f.close()
    assert code is not None, "the CLI did not end"
    assert "Traceback" not in err, err[-3000:]
    files = [p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(("s.csv", "s.sqlite"))]
    assert files and (tmp_path / "s.csv").exists()
    assert leaks(files + [out, err], secrets) == []


def test_cli_auth_error_echoing_the_grant_code_and_secret_leaks_nothing(tmp_path):
    with FakeZoho() as fake:
        token_error_description(fake)
        table = {k: v for k, v in fake.org_config().items() if k != "refresh_token"}
        config = write_toml(tmp_path / "orgs.toml", {ORG: table})
        grant = "1000.grantcode0123456789abcdef.0123456789abcdef"
        env, _ = child_env(tmp_path)
        code, out, err = run_cli(["-vv", "auth", "--org", ORG, "--dc", "us", "--client-id",
                                  fake.client_id, "--config", str(config), "--grant-token", grant],
                                 env, timeout_s=60)  # fmt: skip
        secrets = fake.secrets() | {grant}
        asked = fake.counts["token"]
    assert asked == 1
    assert code == 1 and "Traceback" not in err, err[-2000:]
    assert leaks([out, err], secrets) == []
