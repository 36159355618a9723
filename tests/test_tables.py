"""Id files as spreadsheets save them: separators, byte-order mark, CRLF, one-line errors."""

import pandas as pd
import pytest
from conftest import JOB, make_creds

from zcrm_notebook.errors import ConfigError, JobInputError
from zcrm_notebook.inputs import Job, clean_jobs
from zcrm_notebook.inputs.tables import read_id_csv

EXCEL_LIKE = [
    ("comma", ",", "utf-8", "\n"),
    ("semicolon, BOM, CRLF (Excel 'CSV UTF-8' in many locales)", ";", "utf-8-sig", "\r\n"),
    ("tab", "\t", "utf-8", "\r\n"),
    ("pipe", "|", "utf-8-sig", "\n"),
]


@pytest.mark.parametrize(("case", "sep", "encoding", "newline"), EXCEL_LIKE, ids=lambda x: x)
def test_separator_bom_and_line_ends_are_detected(tmp_path, two_orgs, case, sep, encoding, newline):
    rows = [["job_id", "org"], [JOB, "us-org"], ["12", "eu-org"]]
    path = tmp_path / "jobs.csv"
    path.write_bytes(newline.join(sep.join(r) for r in rows).encode(encoding) + b"\r\n")
    assert clean_jobs(path, two_orgs) == [Job("us-org", JOB), Job("eu-org", "12")]


def test_every_cell_is_text_and_headers_are_stripped(tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(f" job_id ; org \n{JOB};us-org\n007;us-org\n")
    df = read_id_csv(path)
    assert list(df.columns) == ["job_id", "org"]
    assert df["job_id"].tolist() == [JOB, "007"]


def test_a_one_column_header_says_the_separator_may_be_the_problem(two_orgs):
    df = pd.DataFrame({"job_id:org": [f"{JOB}:us-org"]})
    with pytest.raises(JobInputError, match="no job_id column.*separated by something else"):
        clean_jobs(df, two_orgs)


def test_empty_cells_of_a_frame_are_called_empty(creds):
    df = pd.DataFrame({"job_id": [JOB, float("nan"), None, pd.NA]})
    with pytest.raises(JobInputError) as info:
        clean_jobs(df, {"us-org": creds})
    assert [why for _, _, why in info.value.rows] == ["empty", "empty", "empty"]
    assert "float" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        (b"\xff\xfe\x00j\x00o\x00b", "not UTF-8"),
        (b"", "not a readable CSV"),
    ],
)
def test_unreadable_files_give_one_short_line(tmp_path, content, expected):
    path = tmp_path / "jobs.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected) as info:
        clean_jobs(path, {"us-org": make_creds()})
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_a_folder_is_not_a_jobs_file(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        clean_jobs(tmp_path, {"us-org": make_creds()})
