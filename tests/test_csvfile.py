"""snapshots/csvfile.py: the snapshot CSV round trip and formula neutralising."""

import csv
import dataclasses
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import JOB
from hypothesis import given, settings
from hypothesis import strategies as st

from zcrm_notebook.api.status import JobState
from zcrm_notebook.errors import ConfigError
from zcrm_notebook.snapshots.csvfile import neutralize_formulas, read_snapshots, write_snapshots_csv
from zcrm_notebook.snapshots.frame import (
    SNAPSHOT_COLUMNS,
    SNAPSHOT_DTYPES,
    empty_snapshots,
    to_frame,
)
from zcrm_notebook.snapshots.schema import Snapshot

T0 = 1_767_225_600.123456


def sample():
    return [
        Snapshot(
            T0,
            "us-org",
            "us",
            JOB,
            JobState.IN_PROGRESS,
            "in progress",
            28,
            10,
            17,
            1,
            200,
            None,
            None,
            0.021,
        ),
        Snapshot(
            T0 + 5,
            "us-org",
            "us",
            "3652397000009835021",
            JobState.ERROR,
            None,
            None,
            None,
            None,
            None,
            400,
            "INVALID_DATA",
            "job 3652397000009835021: Invalid job id",
            0.01,
        ),
        Snapshot(
            T0 + 9.5,
            "eu-org",
            "eu",
            "1",
            JobState.COMPLETED,
            "COMPLETED",
            28,
            28,
            0,
            0,
            200,
            None,
            None,
            0.5,
        ),
    ]


def test_frame_has_exact_schema():
    df = to_frame(sample())
    assert list(df.columns) == SNAPSHOT_COLUMNS
    assert dict(df.dtypes) == SNAPSHOT_DTYPES
    assert list(df["status"].cat.categories) == [
        "scheduled",
        "in_progress",
        "completed",
        "failed",
        "unknown",
        "error",
    ]
    assert df["status"].cat.ordered


def test_19_digit_id_survives_frame_and_csv_with_missing_counts(tmp_path):
    df = to_frame(sample())
    assert df.loc[0, "job_id"] == JOB
    assert df["total_count"].isna().sum() == 1  # the row with missing counts stays Int64
    path = write_snapshots_csv(df, tmp_path / "s.csv")
    back = read_snapshots(path)
    assert back.loc[0, "job_id"] == JOB
    pd.testing.assert_frame_equal(back, df)
    assert f"{JOB}" in path.read_text()


def test_latency_is_kept_to_a_tenth_of_a_millisecond_in_the_frame_and_the_csv(tmp_path):
    noisy = [dataclasses.replace(s, latency_s=0.0213456789 + i) for i, s in enumerate(sample())]
    df = to_frame(noisy)
    assert df["latency_s"].tolist() == [0.0213, 1.0213, 2.0213]
    path = write_snapshots_csv(df, tmp_path / "s.csv")
    assert pd.read_csv(path, dtype=str)["latency_s"].tolist() == ["0.0213", "1.0213", "2.0213"]
    pd.testing.assert_frame_equal(read_snapshots(path), df)
    finer = df.assign(latency_s=df["latency_s"] + 1e-7)  # a frame built elsewhere
    written = read_snapshots(write_snapshots_csv(finer, tmp_path / "f.csv"))
    assert written["latency_s"].tolist() == df["latency_s"].tolist()


def test_csv_timestamps_are_iso_utc(tmp_path):
    path = write_snapshots_csv(to_frame(sample()), tmp_path / "s.csv")
    first = path.read_text().splitlines()[1]
    assert first.startswith("2026-01-01T00:00:00.123456Z")


def test_empty_round_trip(tmp_path):
    path = write_snapshots_csv(empty_snapshots(), tmp_path / "e.csv")
    pd.testing.assert_frame_equal(read_snapshots(path), empty_snapshots())


def test_spreadsheet_safe_is_reversible_and_keeps_numbers(tmp_path):
    snaps = sample()
    evil = Snapshot(
        T0,
        "=cmd|' /C calc'!A0",
        "us",
        "7",
        JobState.UNKNOWN,
        "@SUM(1)",
        -1,
        0,
        0,
        0,
        200,
        "-x",
        "'=already quoted",
        0.1,
    )
    df = to_frame(snaps + [evil])
    safe = neutralize_formulas(df)
    assert safe.loc[3, "org"] == "'=cmd|' /C calc'!A0"
    assert safe.loc[3, "raw_status"] == "'@SUM(1)"
    assert safe.loc[3, "total_count"] == -1
    path = write_snapshots_csv(df, tmp_path / "safe.csv", spreadsheet_safe=True)
    text = path.read_text()
    assert "'=cmd" in text and ",=cmd" not in text and ",@SUM" not in text
    pd.testing.assert_frame_equal(read_snapshots(path), df)


def test_an_empty_text_is_an_empty_cell_unless_its_column_may_be_missing(tmp_path):
    rows = [
        Snapshot(T0, "", "us", JOB, JobState.UNKNOWN, "", error_code=None),
        Snapshot(T0 + 1, "'", "us", JOB, JobState.UNKNOWN, None, error_code="'"),
    ]
    df = to_frame(rows)
    path = write_snapshots_csv(df, tmp_path / "e.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        header, *cells = list(csv.reader(fh))
    org, raw, code = (header.index(c) for c in ("org", "raw_status", "error_code"))
    assert [cells[0][org], cells[0][raw], cells[0][code]] == ["", "'", ""]
    assert [cells[1][org], cells[1][raw], cells[1][code]] == ["'", "", "''"]
    pd.testing.assert_frame_equal(read_snapshots(path), df)


def test_numeric_job_id_column_refused(tmp_path):
    path = tmp_path / "num.csv"
    df = to_frame(sample())
    write_snapshots_csv(df, path)
    raw = pd.read_csv(path)  # a naive reader infers numbers
    from zcrm_notebook.snapshots.frame import coerce_snapshots

    with pytest.raises(ConfigError, match="job_id"):
        coerce_snapshots(raw.assign(job_id=raw["job_id"].astype("float64")))


def test_missing_file_and_bad_csv(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_snapshots(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError) as err:
        read_snapshots(bad)
    assert str(err.value) == (
        f"{str(bad)!r} is not a snapshot CSV (missing columns polled_at, org, dc, job_id "
        "and 10 more)"
    )


# --- any text survives the round trip, and no cell runs as a formula (issue 10) -------------

TEXT_CELLS = st.one_of(
    st.none(),
    st.text(max_size=12),  # every character: control characters, quotes, CR, LF, NUL...
    st.sampled_from(["", "'", "''", "=1+2", "'=1+2", "-2", "\r=1", "\t", "a\rb", "a\r\nb"]),
)


@settings(max_examples=150, deadline=None, database=None)
@given(
    cells=st.lists(
        st.tuples(TEXT_CELLS.filter(lambda v: v is not None), TEXT_CELLS, TEXT_CELLS, TEXT_CELLS),
        min_size=1,
        max_size=4,
    )
)
def test_any_text_round_trips_and_no_written_cell_is_a_live_formula(cells):
    rows = [
        Snapshot(
            T0 + i, org, "us", JOB, JobState.UNKNOWN, raw, error_code=code, error_message=msg
        )  # fmt: skip
        for i, (org, raw, code, msg) in enumerate(cells)
    ]
    df = to_frame(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = write_snapshots_csv(df, Path(folder) / "s.csv")
        pd.testing.assert_frame_equal(read_snapshots(path), df)
        with open(path, newline="", encoding="utf-8") as fh:
            written = [cell for row in csv.reader(fh) for cell in row]
    live = [c for c in written if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert live == []
