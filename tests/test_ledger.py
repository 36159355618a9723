"""convert/ledger.py: the ledger in the snapshot store's file, under its run lock; chunk states;
a lead's fate from its last chunk; the plan against the ledger (resume, refuse, skip, retry);
convert/outcomes.py: the outcome frame and its CSV."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import make_creds

from zcrm_notebook.convert import ConvertOptions, LeadOutcome, Ledger, plan_conversions
from zcrm_notebook.convert.outcomes import (
    LEAD_OUTCOME_COLUMNS,
    LEAD_OUTCOME_DTYPES,
    outcomes_frame,
    read_lead_outcomes,
    write_lead_outcomes_csv,
)
from zcrm_notebook.errors import ConfigError, LeadInputError
from zcrm_notebook.snapshots.store import SnapshotStore, read_store

T = 1_767_225_600.0
A, B, C = "3652397000009851001", "3652397000009851002", "3652397000009851003"


@pytest.fixture
def orgs():
    return {"us-org": make_creds("us-org", "us")}


@pytest.fixture
def store(tmp_path):
    with SnapshotStore(tmp_path / "run.sqlite", exclusive=True) as s:
        yield s


def committed(store, orgs, leads=(A, B, C), **kw):
    ledger = Ledger(store)
    plan = plan_conversions(list(leads), orgs, org="us-org", ledger=ledger, **kw)
    return ledger, plan, ledger.add_batch(plan, at=T)


def test_a_plan_is_committed_as_intents_in_the_snapshot_file_under_its_lock(store, orgs, tmp_path):
    ledger, plan, batch = committed(store, orgs)
    (chunk,) = ledger.chunks()
    assert (chunk.batch_id, chunk.state, chunk.lead_ids, chunk.open) == (
        batch,
        "intent",
        (A, B, C),
        True,
    )
    assert ledger.batch_for(plan.fingerprint) == batch
    with pytest.raises(ConfigError, match="in use by another run"):
        SnapshotStore(tmp_path / "run.sqlite", exclusive=True)
    assert read_store(tmp_path / "run.sqlite").empty  # the snapshot table is untouched


def test_an_sqlite_file_of_something_else_is_refused_naming_it_and_left_as_it_was(tmp_path):
    import sqlite3

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE foo (x)")
    with pytest.raises(ConfigError) as err:
        SnapshotStore(other)
    text = str(err.value)
    assert text.startswith(f"{str(other)!r} is not a snapshot store: it is an SQLite file of")
    assert "tables 'foo'" in text and "\n" not in text
    with sqlite3.connect(other) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master")]
    assert names == ["foo"]  # no store table added
    with SnapshotStore(tmp_path / "empty.sqlite") as fresh:  # a new or empty file is fine
        assert fresh.read() == []


def test_states_are_kept_across_processes_and_a_post_in_flight_becomes_unknown(
    store, orgs, tmp_path
):
    ledger, _, _ = committed(store, orgs)
    ledger.mark(1, "sending", durable=True, posted_at=T + 1)
    store.close()
    with SnapshotStore(tmp_path / "run.sqlite") as again:
        ledger = Ledger(again)
        assert ledger.chunk(1).state == "sending"
        assert ledger.resume_interrupted() == [1]
        chunk = ledger.chunk(1)
        assert (chunk.state, chunk.error_code, chunk.posted_at) == ("unknown", "INTERRUPTED", T + 1)
        (row,) = ledger.outcomes([("us-org", A)])
        assert (row.outcome, row.error_code) == ("unknown", "INTERRUPTED")


@pytest.mark.parametrize(
    "state, values, outcome, code",
    [
        ("intent", {}, "not_scheduled", "NOT_SENT"),
        ("intent", {"error_code": "NO_PERMISSION"}, "not_scheduled", "NO_PERMISSION"),
        ("scheduled", {"job_id": "3652397000009835020"}, "pending", None),
        (
            "rejected",
            {"error_code": "INVALID_DATA", "error_message": "x"},
            "not_scheduled",
            "INVALID_DATA",
        ),
        ("unknown", {"error_code": "ReadTimeout"}, "unknown", "ReadTimeout"),
    ],
)
def test_a_leads_outcome_follows_its_chunks_state_until_one_is_recorded(
    store, orgs, state, values, outcome, code
):
    ledger, _, _ = committed(store, orgs)
    ledger.mark(1, state, **values)
    rows = ledger.outcomes([("us-org", B), ("us-org", A), ("us-org", "42")])
    assert [r.lead_id for r in rows] == [B, A]  # in the order asked; unknown leads left out
    assert {(r.outcome, r.error_code, r.job_id) for r in rows} == {
        (outcome, code, values.get("job_id"))
    }
    got = LeadOutcome("us-org", "us", A, "1", 1, "converted", contact_id="9", converted_at=T)
    ledger.record_outcomes(1, [got])
    assert ledger.outcomes([("us-org", A)]) == [got]


def test_the_plan_resumes_refuses_skips_and_retries_from_the_ledger(store, orgs):
    ledger, plan, batch = committed(store, orgs)
    again = plan_conversions([C, B, A], orgs, org="us-org", ledger=ledger)
    assert (again.resumed_batch, again.chunks) == (batch, [])  # same input: resume
    assert "resumes it and schedules nothing new" in again.describe()
    with pytest.raises(LeadInputError, match="in an open job: chunk 1 \\(not sent yet\\)") as err:
        plan_conversions([A, "3652397000009851009"], orgs, org="us-org", ledger=ledger)
    assert [r for r, _, _ in err.value.rows] == [1]
    forced = plan_conversions(
        [A, "3652397000009851009"], orgs, org="us-org", ledger=ledger, force=True
    )
    assert [c.lead_ids for c in forced.chunks] == [(A, "3652397000009851009")]
    ledger.mark(1, "scheduled", job_id="7")
    ledger.record_outcomes(
        1,
        [
            LeadOutcome("us-org", "us", A, "7", 1, "converted"),
            LeadOutcome("us-org", "us", B, "7", 1, "not_converted"),
            LeadOutcome("us-org", "us", C, "7", 1, "deleted"),
        ],
    )
    ledger.close(1, at=T + 60, converted_count=1)
    retry = {"retry_not_converted": True}  # B's not_converted is sent again only when asked
    other = plan_conversions(
        [A, B, C], orgs, org="us-org", ledger=ledger, options=ConvertOptions(assign_to="5"), **retry
    )
    (chunk,) = other.chunks
    assert chunk.leads == ((B, 2, 1),)  # attempt 2, from chunk 1
    assert other.skipped["why"].tolist() == ["converted already", "deleted already"]


def test_the_chunk_table(store, orgs):
    ledger, _, _ = committed(store, orgs, leads=[A, B], options=ConvertOptions(assign_to="5"))
    ledger.mark(1, "scheduled", job_id="7", http_status=200, answered_at=T + 2)
    df = ledger.frame()
    assert df.loc[0, ["state", "job_id", "leads", "attempt"]].tolist() == ["scheduled", "7", 2, 1]
    assert df.loc[0, "answered_at"] == pd.Timestamp(T + 2, unit="s", tz="UTC")
    assert ledger.chunk(1).options == ConvertOptions(assign_to="5")
    with pytest.raises(ValueError):
        ledger.mark(1, "lost")


def test_the_outcome_frame_and_its_csv_round_trip_spreadsheet_safe(tmp_path):
    rows = [
        LeadOutcome("us-org", "us", A, "7", 1, "converted", "11", None, None, T + 0.25),
        LeadOutcome("us-org", "us", B, None, 2, "not_converted", reason="=HYPERLINK(1)"),
    ]
    df = outcomes_frame(rows)
    assert list(df.columns) == LEAD_OUTCOME_COLUMNS
    assert {c: df[c].dtype for c in df} == LEAD_OUTCOME_DTYPES
    assert df["outcome"].cat.ordered and pd.isna(df.loc[1, "converted_at"])
    path = write_lead_outcomes_csv(df, tmp_path / "leads.csv")
    text = path.read_text()
    assert "'=HYPERLINK(1)" in text and "2026-01-01T00:00:00.250000Z" in text
    pd.testing.assert_frame_equal(read_lead_outcomes(path), df)
    with pytest.raises(ValueError):
        LeadOutcome("us-org", "us", A, outcome="lost")


def test_a_reason_carried_to_a_retry_keeps_zohos_words_and_names_its_attempt(store, orgs):
    """The attempt a code was learnt by is a field (reason_attempt), not a mark in the
    reason: a Zoho reason that itself ends in "(attempt 1)" stays as Zoho wrote it."""
    ledger, _, _ = committed(store, orgs, leads=[A, B])
    ledger.mark(1, "scheduled", job_id="7")
    words = "Zoho's words (attempt 1)"
    ledger.record_outcomes(
        1,
        [
            LeadOutcome("us-org", "us", A, "7", 1, "not_converted", error_code="DUP", reason="dup"),
            LeadOutcome("us-org", "us", B, "7", 1, "not_converted"),
        ],
    )
    ledger.close(1, at=T + 60)
    again = ConvertOptions(assign_to="5")
    retry = plan_conversions(
        [A, B], orgs, org="us-org", ledger=ledger, options=again, retry_not_converted=True
    )
    assert [x.attempt for x in retry.chunks[0].leads] == [2, 2]
    ledger.add_batch(retry, at=T + 61)
    ledger.mark(2, "scheduled", job_id="8")
    ledger.record_outcomes(
        2,
        [
            LeadOutcome("us-org", "us", A, "8", 2, "not_converted"),  # learnt nothing itself
            LeadOutcome("us-org", "us", B, "8", 2, "not_converted", error_code="X", reason=words),
        ],
    )
    a, b = ledger.outcomes([("us-org", A), ("us-org", B)])
    assert (a.attempt, a.error_code, a.reason, a.reason_attempt) == (2, "DUP", "dup", 1)
    assert (b.attempt, b.reason, b.reason_attempt) == (2, words, 2)  # its own, as written
    df = ledger.outcome_frame([("us-org", A), ("us-org", B)])
    assert df["reason_attempt"].tolist() == [1, 2] and str(df["reason_attempt"].dtype) == "Int64"


def test_a_ledger_and_a_csv_of_an_earlier_version_read_with_the_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with SnapshotStore(path) as s:
        ledger, _, _ = committed(s, {"us-org": make_creds("us-org", "us")}, leads=[A])
        ledger.mark(1, "scheduled", job_id="7")
    with sqlite3.connect(path) as db:  # as an earlier version wrote it
        db.execute("ALTER TABLE lead_outcomes DROP COLUMN reason_attempt")
        db.execute("ALTER TABLE chunks DROP COLUMN answer_date")
        db.execute(
            "INSERT INTO lead_outcomes (chunk_id, org, dc, lead_id, job_id, attempt, outcome, "
            "error_code, reason) VALUES (1, 'us-org', 'us', ?, '7', 1, 'not_converted', 'DUP', "
            "'dup')",
            (A,),
        )
    with SnapshotStore(path) as s:
        (row,) = Ledger(s).outcomes([("us-org", A)])
        assert row.reason_attempt == 1
        (chunk,) = Ledger(s).chunks()
        assert chunk.answer_date is None and chunk.posted_at_zoho is None  # no check made
        Ledger(s).record_outcomes(1, [row])  # the column was added: writing works
    old = outcomes_frame([row]).drop(columns="reason_attempt")
    old.to_csv(tmp_path / "old.csv", index=False)
    back = read_lead_outcomes(tmp_path / "old.csv")
    assert list(back.columns) == LEAD_OUTCOME_COLUMNS and back["reason_attempt"].tolist() == [1]


@pytest.mark.parametrize("value", ["abc", b"\x00", 1e308, 2**63 - 1, 253_402_387_140.0])
def test_a_hostile_answer_date_in_a_ledger_reads_as_unknown(store, orgs, value):
    ledger, _, _ = committed(store, orgs, leads=[A])
    ledger.mark(1, "scheduled", job_id="7", posted_at=T, answered_at=T + 1)
    with store.transaction() as db:
        db.execute("UPDATE chunks SET answer_date = ?", (value,))
    (chunk,) = ledger.chunks()
    assert chunk.answer_date is None and chunk.posted_at_zoho is None  # no check made
    assert ledger.frame()["answer_date"].isna().all()


@pytest.mark.parametrize("value", [-62_135_614_800.0, 1e308, "abc"])
def test_a_hostile_converted_at_kept_by_an_earlier_version_reads_as_unknown(store, orgs, value):
    ledger, _, _ = committed(store, orgs, leads=[A])
    ledger.mark(1, "scheduled", job_id="7")
    ledger.record_outcomes(1, [LeadOutcome("us-org", "us", A, "7", 1, "converted")])
    with store.transaction() as db:
        db.execute("UPDATE lead_outcomes SET converted_at = ?", (value,))
    df = ledger.outcome_frame()
    assert df["outcome"].tolist() == ["converted"] and df["converted_at"].isna().all()


def test_a_ledger_of_version_1_is_upgraded_and_a_newer_one_refused_before_any_change(tmp_path):
    import sqlite3

    path = tmp_path / "run.sqlite"
    with SnapshotStore(path) as s:
        Ledger(s)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM ledger_meta").fetchall() == [("2",)]
        db.execute("UPDATE ledger_meta SET value = '1'")  # as today's main wrote it
    with SnapshotStore(path) as s:
        Ledger(s)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM ledger_meta").fetchall() == [("2",)]
        db.execute("UPDATE ledger_meta SET value = '3'")
        db.execute("DROP TABLE lead_outcomes")  # a newer layout: a view the old cannot alter
        db.execute("CREATE VIEW lead_outcomes AS SELECT chunk_id FROM chunks")
        before = db.execute("SELECT * FROM sqlite_master").fetchall()
    for version, said in [("3", "version 3;"), ("abc", "version 'abc';")]:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE ledger_meta SET value = ?", (version,))
        with SnapshotStore(path) as s, pytest.raises(ConfigError) as err:
            Ledger(s)
        assert str(path) in str(err.value) and said in str(err.value)
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT * FROM sqlite_master").fetchall() == before


@pytest.mark.parametrize("column", ["reason_attempt", "attempt"])
@pytest.mark.parametrize("value", ["abc", "-5", "0", "99999999999999999999", "1.5", "1e3", "=1"])
def test_a_csv_attempt_that_is_not_a_whole_number_from_1_names_file_column_and_value(
    tmp_path, column, value
):
    row = LeadOutcome("us-org", "us", A, "7", 2, "not_converted", error_code="D", reason="d")
    df = outcomes_frame([row, row]).astype({column: object})
    df.loc[1, column] = value
    df.to_csv(tmp_path / "o.csv", index=False)
    with pytest.raises(ConfigError) as err:
        read_lead_outcomes(tmp_path / "o.csv")
    said = str(err.value)
    assert "o.csv" in said and f"column {column}, row 2: {value!r}" in said
    assert "\n" not in said


@pytest.mark.parametrize("value", ["abc", b"\x00", 1.5, -5, 0, 3, 10**12])
def test_a_hostile_reason_attempt_in_a_ledger_reads_as_the_rows_own_attempt(store, orgs, value):
    ledger, _, _ = committed(store, orgs, leads=[A])
    ledger.mark(1, "scheduled", job_id="7")
    row = LeadOutcome("us-org", "us", A, "7", 2, "not_converted", error_code="D", reason="d")
    ledger.record_outcomes(1, [row])
    with store.transaction() as db:
        db.execute("UPDATE lead_outcomes SET reason_attempt = ?", (value,))
    assert ledger.outcome_frame()["reason_attempt"].tolist() == [2]


def test_a_lead_converted_before_its_job_is_not_planned_again(store, orgs):
    ledger, _, _ = committed(store, orgs, leads=[A, B])
    ledger.mark(1, "scheduled", job_id="7")
    ledger.record_outcomes(
        1,
        [
            LeadOutcome("us-org", "us", A, "7", 1, "already_converted", converted_at=T),
            LeadOutcome("us-org", "us", B, "7", 1, "not_converted"),
        ],
    )
    ledger.close(1, at=T + 60, converted_count=0)
    other = plan_conversions(
        [A, B], orgs, org="us-org", ledger=ledger, options=ConvertOptions(assign_to="5")
    )
    assert not other.chunks  # B's not_converted is final: sent again only when asked
    assert other.skipped["why"].tolist() == ["converted already", "not converted earlier"]
    asked = plan_conversions(
        [A, B],
        orgs,
        org="us-org",
        ledger=ledger,
        options=ConvertOptions(assign_to="5"),
        retry_not_converted=True,
    )
    assert [x.lead_id for c in asked.chunks for x in c.leads] == [B]
    assert asked.skipped["why"].tolist() == ["converted already"]


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ("UPDATE chunks SET state = 'bogus'", "state 'bogus' cannot be read; expected one of"),
        ("UPDATE chunks SET state = ''", "state '' cannot be read; expected one of intent"),
        ("UPDATE chunks SET options = '{{{'", "options '{{{' cannot be read; expected the JSON"),
        ("UPDATE chunks SET options = '[1,2]'", "options '[1,2]' cannot be read"),
        ("UPDATE chunks SET options = '{\"evil\": 1}'", "options"),
        ("UPDATE lead_outcomes SET outcome = 'hacked'", "outcome 'hacked' cannot be read"),
    ],
    ids=["state", "empty-state", "options-not-json", "options-list", "options-key", "outcome"],
)
def test_a_ledger_row_edited_by_hand_is_a_one_line_error_naming_file_table_and_value(
    store, orgs, edit, said
):
    # hostile review: each of these was a raw KeyError / JSONDecodeError / TypeError /
    # ValueError from Dashboard.from_store, load_lead_outcomes and Ledger.outcomes
    ledger, _, _ = committed(store, orgs, leads=[A])
    ledger.mark(1, "scheduled", job_id="7")
    ledger.record_outcomes(1, [LeadOutcome("us-org", "us", A, "7", 1, "converted")])
    with store.transaction() as db:
        db.execute(edit)
    with pytest.raises(ConfigError) as err:
        ledger.outcome_frame()
    text = str(err.value)
    assert said in text and str(store.path) in text and "\n" not in text
    table = "lead_outcomes" if "outcome" in edit.split()[1] else "chunks"
    assert f"ledger table {table}, row " in text
    if table == "lead_outcomes":
        assert f"row chunk 1 lead {A!r}: " in text  # the whole lead id (was cut to '3...)


@pytest.mark.parametrize("column", ["count_mismatch", "converted_count", "closed_at"])
def test_a_chunks_column_dropped_by_hand_comes_back_empty_when_opened(tmp_path, column):
    import sqlite3

    path = tmp_path / "run.sqlite"
    with SnapshotStore(path) as s:
        Ledger(s)
    with sqlite3.connect(path) as db:
        db.execute(f"ALTER TABLE chunks DROP COLUMN {column}")
    with SnapshotStore(path) as s:
        assert Ledger(s).frame().empty  # was: sqlite3.OperationalError, no such column


def test_a_chunk_leads_row_of_no_chunk_is_left_out(store, orgs):
    ledger, _, _ = committed(store, orgs, leads=[A])
    with store.transaction() as db:
        db.execute("INSERT INTO chunk_leads VALUES (999, 0, 'us-org', '555', 1, NULL)")
    assert ledger.outcome_frame()["lead_id"].tolist() == [A]  # was: KeyError 999


@pytest.mark.parametrize(
    ("value", "said"),
    [("'x'", "attempt 'x'"), ("-5", "attempt -5"), ("0", "attempt 0"), ("1.5", "attempt 1.5")],
)
def test_a_chunk_leads_attempt_edited_by_hand_is_a_one_line_error_naming_it(
    store, orgs, value, said
):
    # was: pyarrow ArrowInvalid / TypeError from Ledger.frame ('x', 1.5), or -5 and 0 shown as
    # they were in the chunk table and the outcome frame
    ledger, _, _ = committed(store, orgs, leads=[A])
    with store.transaction() as db:
        db.execute(f"UPDATE chunk_leads SET attempt = {value}")
    for read in (ledger.frame, ledger.outcome_frame):
        with pytest.raises(ConfigError) as err:
            read()
        text = str(err.value)
        assert f"ledger table chunk_leads, row chunk 1 lead {A!r}: {said} cannot be read" in text
        assert "expected a whole number from 1" in text and str(store.path) in text
        assert "\n" not in text
