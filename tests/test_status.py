"""Status parsing: Zoho's documented sample answers and the variants seen in the wild."""

import json
from pathlib import Path

import pytest

from zcrm_notebook.api.status import JobState, normalise_status, parse_status
from zcrm_notebook.errors import ResponseFormatError

DATA = Path(__file__).parent / "data"
JOB = "3652397000009835020"


def load(name):
    return json.loads((DATA / name).read_text())


def test_documented_sample_parses_to_completed_28_of_28():
    st = parse_status(JOB, load("status_completed_doc_sample.json"))
    assert st.status is JobState.COMPLETED
    assert st.raw_status == "COMPLETED"
    assert st.counts == (28, 28, 0, 0)
    assert st.job_id == JOB and st.is_final


@pytest.mark.parametrize(
    "word, state",
    [
        ("in progress", JobState.IN_PROGRESS),
        ("IN PROGRESS", JobState.IN_PROGRESS),
        ("IN_PROGRESS", JobState.IN_PROGRESS),
        ("RUNNING", JobState.IN_PROGRESS),
        ("Scheduled", JobState.SCHEDULED),
        ("scheduled", JobState.SCHEDULED),
        ("Completed", JobState.COMPLETED),
        ("completed", JobState.COMPLETED),
        ("FAILED", JobState.FAILED),
        (" failed ", JobState.FAILED),
        ("PAUSED", JobState.UNKNOWN),
        ("", JobState.UNKNOWN),
        (None, JobState.UNKNOWN),
        (42, JobState.UNKNOWN),
    ],
)
def test_status_words_normalise(word, state):
    assert normalise_status(word) is state


def test_lower_case_keys_and_odd_key_casing_are_matched():
    st = parse_status(JOB, load("status_lowercase_keys.json"))
    assert st.status is JobState.IN_PROGRESS
    assert st.counts == (10, 4, 6, 0)


def test_counts_that_do_not_add_up_are_kept_as_received():
    st = parse_status(
        JOB, {"data": [{"Status": "COMPLETED", "Total_Count": 40, "Converted_Count": 45}]}
    )
    assert st.total_count == 40 and st.converted_count == 45
    assert st.failed_count is None and st.not_converted_count is None


def test_completed_job_may_have_failures():
    st = parse_status(
        JOB,
        {
            "data": [
                {"Status": "COMPLETED", "Total_Count": 5, "Converted_Count": 3, "Failed_Count": 2}
            ]
        },
    )
    assert st.status is JobState.COMPLETED and st.failed_count == 2


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "x",
        {"info": {}},
        {"data": []},
        {"data": ["x"]},
        {"data": [{"Total_Count": "ten"}]},
        {"data": [{"Total_Count": True}]},
    ],
)
def test_malformed_answers_raise_response_format_error(payload):
    with pytest.raises(ResponseFormatError):
        parse_status(JOB, payload)
