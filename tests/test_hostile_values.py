"""Issue 10, point 3: absurd values in an answer never crash a run.

A count of 10**29, 2**63, -1, 10**10, 10,001 (a job holds at most 50 leads; the design
believes counts up to 10,000), non-ASCII digits, floats, booleans, text, nested objects; an
answer nested 100,000 levels deep. Each bad
answer becomes a ``RESPONSE_FORMAT`` row for its job (status ``error``, or a row flagged
with that code whose bad count is left empty); the other jobs finish, the CSV is written,
and no traceback reaches the log or stderr. With and without a store, and through the CLI.
"""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from hostile_server import (
    BACKSTOP,
    Answer,
    FakeZoho,
    by_job,
    child_env,
    deep_json,
    manual_poller,
    raw_response,
    run_cli,
    status_body,
    write_toml,
)

import zcrm_notebook as zn

# hostile answers warn (DataQualityWarning) by design; what they warn about is tested in
# test_quality.py and test_poller.py; here the warnings are not the subject
pytestmark = pytest.mark.filterwarnings("ignore::zcrm_notebook.errors.DataQualityWarning")

ORG = "values-org"
GOOD = "3652397000009835020"
BAD = "3652397000009835021"
POLICY = zn.PollPolicy(seed=1, max_retries=1, give_up_after_errors=3, **BACKSTOP)

# name -> the JSON text of Converted_Count (Total_Count is 10)
ABSURD = {
    "10**29": json.dumps(10**29),
    "2**63": json.dumps(2**63),
    "-2**63-1": json.dumps(-(2**63) - 1),
    "-1": "-1",
    "10**10": json.dumps(10**10),
    "10_001": json.dumps(10_001),
    "arabic-indic digits": json.dumps("\u0661\u0662"),
    "fullwidth digits": json.dumps("\uff11\uff12"),
    "superscript digit": json.dumps("\u00b2"),
    "float": "12.5",
    "whole float": "12.0",
    "exponent": "1.2e1",
    "huge float": "1e400",
    "NaN": "NaN",
    "true": "true",
    "text": json.dumps("twelve"),
    "empty text": json.dumps(""),
    "object": json.dumps({"n": 12}),
    "list": json.dumps([12]),
}


def body_with(converted_json: str) -> bytes:
    text = json.dumps(status_body("IN_PROGRESS", converted="__V__", not_converted=0))
    return text.replace('"__V__"', converted_json).encode()


def no_tracebacks(caplog) -> list[str]:
    return [r.getMessage()[:200] for r in caplog.records
            if r.exc_info or "Traceback" in r.getMessage()]  # fmt: skip


@pytest.fixture
def fake():
    with FakeZoho() as server:
        yield server


def codes(rows) -> list:
    """The error codes of ``rows``, None for none (pd.NA does not compare)."""
    return [None if pd.isna(c) else c for c in rows["error_code"]]


def assert_bad_job_recorded_as_format_error(df, job_id):
    rows = df[df["job_id"] == job_id]
    assert len(rows), f"no row for job {job_id}"
    assert codes(rows) == ["RESPONSE_FORMAT"] * len(rows), codes(rows)
    assert rows["converted_count"].isna().all(), rows["converted_count"].tolist()


def assert_good_job_finished(df):
    good = df[df["job_id"] == GOOD]
    assert good["status"].astype(str).tolist() == ["completed"]


@pytest.mark.parametrize("with_store", [False, True], ids=["no store", "store"])
@pytest.mark.parametrize("name", list(ABSURD))
def test_absurd_count_is_a_format_error_row_and_the_run_goes_on(
    fake, tmp_path, caplog, name, with_store
):
    caplog.set_level(logging.DEBUG, logger="zcrm_notebook")
    fake.status = by_job({BAD: lambda req, n: Answer(200, body_with(ABSURD[name]))})
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    store = tmp_path / "s.sqlite" if with_store else None
    poller = manual_poller({ORG: [GOOD, BAD]}, {ORG: creds}, policy=POLICY, store=store)
    df = poller.run()
    assert_bad_job_recorded_as_format_error(df, BAD)
    assert no_tracebacks(caplog) == []
    assert poller.stopped_reason == "finished"
    assert fake.status_requests(BAD) <= 8
    assert_good_job_finished(df)
    csv = zn.write_snapshots_csv(df, tmp_path / "s.csv")
    pd.testing.assert_frame_equal(zn.read_snapshots(csv), df)
    if with_store:
        pd.testing.assert_frame_equal(zn.read_store(store), df)


@pytest.mark.parametrize("count", [0, 10_000, "10000", " 7 "])
def test_a_plausible_count_up_to_the_bound_is_kept(fake, count):
    fake.status = by_job({BAD: lambda req, n: Answer(200, status_body(total=count))})
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    df = manual_poller({ORG: [GOOD, BAD]}, {ORG: creds}, policy=POLICY).run()
    rows = df[df["job_id"] == BAD]
    assert codes(rows) == [None] and rows["total_count"].tolist() == [int(str(count))]


@pytest.mark.parametrize("endpoint", ["status", "token"])
def test_deeply_nested_answer_is_a_format_error_without_traceback(fake, tmp_path, caplog, endpoint):
    caplog.set_level(logging.DEBUG)
    deep = lambda req, n: Answer(200, deep_json(100_000))  # noqa: E731
    if endpoint == "status":
        fake.status = by_job({BAD: deep})
        jobs = [GOOD, BAD]
    else:
        fake.token = deep
        jobs = [BAD]
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    poller = manual_poller({ORG: jobs}, {ORG: creds}, policy=POLICY, store=tmp_path / "s.sqlite")
    df = poller.run()
    assert poller.stopped_reason == "finished"
    assert fake.counts["token"] + fake.status_requests() <= 10
    if endpoint == "status":
        assert_good_job_finished(df)
    bad = df[df["job_id"] == BAD]
    assert len(bad) and (bad["status"] == "error").all()
    assert set(bad["error_code"]) == {"RESPONSE_FORMAT"}, bad["error_code"].tolist()
    assert no_tracebacks(caplog) == []


def test_cli_poll_with_a_store_survives_every_absurd_answer(tmp_path):
    ids = {name: f"36523970000098351{i:02d}" for i, name in enumerate(ABSURD)}
    deep_id = "3652397000009835199"
    answers = {ids[n]: (lambda v: lambda req, k: Answer(200, body_with(v)))(ABSURD[n])
               for n in ABSURD}  # fmt: skip
    answers[deep_id] = lambda req, k: Answer(200, deep_json(100_000))
    with FakeZoho(status=by_job(answers)) as fake:
        config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config()})
        jobs = tmp_path / "jobs.csv"
        jobs.write_text("job_id,org\n" + "".join(f"{j},{ORG}\n" for j in [GOOD, *answers]))
        env, _ = child_env(tmp_path)
        code, out, err = run_cli(
            ["poll", str(jobs), "--config", str(config), "--out", str(tmp_path / "s.csv"),
             "--store", str(tmp_path / "s.sqlite"), "--no-progress", "--min-interval", "0.05",
             "--max-interval", "0.1", "--timeout", "5", "--deadline", "20", "--budget", "400"],
            env, timeout_s=90)  # fmt: skip
        requests = fake.status_requests()
    assert code is not None, "the CLI did not end"
    assert "Traceback" not in err, err[-3000:]
    assert code in (0, 1), err[-2000:]
    assert requests <= 10 * (len(answers) + 1)
    df = zn.read_snapshots(tmp_path / "s.csv")
    pd.testing.assert_frame_equal(zn.read_store(tmp_path / "s.sqlite"), df)
    assert_good_job_finished(df)
    for job_id in answers:
        rows = df[df["job_id"] == job_id]
        assert len(rows) and codes(rows) == ["RESPONSE_FORMAT"] * len(rows), (job_id, codes(rows))


# JSON "\ud800" decodes to a lone surrogate: no UTF-8 encoder (pyarrow, sqlite3, a CSV, a
# terminal) takes it
LONE_SURROGATES = {
    "status word": (200, '{"data": [{"Status": "\\ud800COMPLETED", "Total_Count": 10}]}'),
    "error message": (
        400,
        '{"code": "INVALID_DATA", "message": "bad \\udfff id", "status": "error"}',
    ),
    "error code": (400, '{"code": "X\\udc00", "message": "m", "status": "error"}'),
    "error details": (
        400,
        '{"code": "INVALID_DATA", "details": {"id": "\\ud800"}, "status": "error"}',
    ),
}


@pytest.mark.parametrize("name", list(LONE_SURROGATES))
def test_a_lone_surrogate_in_server_text_is_replaced_and_the_run_goes_on(fake, tmp_path, name):
    status, body = LONE_SURROGATES[name]
    once = lambda req, n: Answer(status, body.encode()) if n == 1 else Answer(200, status_body())  # noqa: E731
    fake.status = by_job({BAD: once})
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    store = tmp_path / "s.sqlite"
    poller = manual_poller({ORG: [GOOD, BAD]}, {ORG: creds}, policy=POLICY, store=store)
    df = poller.run()
    assert poller.stopped_reason == "finished"
    assert_good_job_finished(df)
    bad = df[df["job_id"] == BAD]
    texts = [str(v) for v in bad[["raw_status", "error_code", "error_message"]].to_numpy().ravel()]
    assert any("\ufffd" in t for t in texts) or name == "error details", texts
    assert fake.status_requests(BAD) == 2
    csv = zn.write_snapshots_csv(df, tmp_path / "s.csv")
    pd.testing.assert_frame_equal(zn.read_snapshots(csv), df)
    pd.testing.assert_frame_equal(zn.read_store(store), df)


@pytest.mark.parametrize("expires_in", ["true", "1" + "0" * 400])
def test_an_absurd_token_lifetime_is_zohos_hour(fake, expires_in):
    """``expires_in`` true (float: 1 s, a refresh before every call) or of 400 digits
    (float() overflows): the documented hour instead, one token request for the run."""

    def token(req, n):
        answer = json.loads(fake.issue_token(req, n).payload())
        text = json.dumps({**answer, "expires_in": "__E__"}).replace('"__E__"', expires_in)
        return Answer(200, text.encode())

    fake.token = token
    progress = lambda req, n: Answer(  # noqa: E731
        200, status_body("IN_PROGRESS" if n < 10 else "COMPLETED", converted=min(n, 10),
                         not_converted=max(0, 10 - n))
    )  # fmt: skip
    fake.status = progress
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    df = manual_poller({ORG: [GOOD]}, {ORG: creds}, policy=POLICY).run()
    assert df["error_code"].isna().all(), df["error_code"].tolist()
    assert df["status"].astype(str).tolist()[-1] == "completed"
    assert fake.counts["token"] == 1


# chunk sizes http.client and urllib3 do not refuse themselves (-2 reached read(-2): ValueError)
CHUNK_SIZES = ["-2", "-0", "+5", "ffffffffffffffffffff", '5;x="y"']


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_a_malformed_chunk_size_is_a_zcrm_error_and_a_row(fake, size):
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    chunked = head + size.encode() + b"\r\n{}\r\n0\r\n\r\n"
    fake.status = by_job({BAD: lambda req, n: raw_response(chunked)})
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    with pytest.raises(zn.ZcrmError):  # the public client: nothing but the package's errors
        zn.ZohoClient(creds, timeout_s=5).get_status(BAD)
    df = manual_poller({ORG: [GOOD, BAD]}, {ORG: creds}, policy=POLICY).run()
    assert_good_job_finished(df)
    assert (df[df["job_id"] == BAD]["status"] == "error").all()
