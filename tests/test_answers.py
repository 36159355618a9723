"""api/answers.py: every HTTP answer of the status call to a JobStatus or one exception."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_http import JOB, response

from zcrm_notebook import auth
from zcrm_notebook.api.answers import interpret_answer
from zcrm_notebook.api.status import JobState
from zcrm_notebook.errors import (
    ApiError,
    BadRequestError,
    EndpointConfigError,
    InvalidTokenError,
    JobNotFoundError,
    NoPermissionError,
    RateLimitError,
    ResponseFormatError,
    ScopeError,
)

DATA = Path(__file__).parent / "data"
READ = auth.MASS_CONVERT_READ_SCOPE


# a private token store (conftest's autouse _private_token_store) and empty token caches
pytestmark = pytest.mark.usefixtures("fresh_token_caches")


def envelope(code: str, message: str = "msg") -> dict:
    return {"code": code, "details": {}, "message": message, "status": "error"}


def test_2xx_json_is_a_status():
    body = json.loads((DATA / "status_completed_doc_sample.json").read_text())
    st = interpret_answer(JOB, response(200, body))
    assert st.status == JobState.COMPLETED and st.job_id == JOB
    st = interpret_answer(JOB, response(202, {"data": [{"Status": "RUNNING", "Total_Count": 5}]}))
    assert st.status == JobState.IN_PROGRESS


@pytest.mark.parametrize("status, body", [(204, b""), (200, b"  ")])
def test_no_content_is_job_not_found(status, body):
    with pytest.raises(JobNotFoundError) as err:
        interpret_answer(JOB, response(status, body))
    assert err.value.code == "NO_CONTENT" and JOB in str(err.value)


def test_invalid_data_is_job_not_found():
    body = json.loads((DATA / "status_error_invalid_data_param_name.json").read_text())
    with pytest.raises(JobNotFoundError) as err:
        interpret_answer(JOB, response(400, body))
    assert err.value.code == "INVALID_DATA" and err.value.details == {"param_name": "job_id"}


@pytest.mark.parametrize(
    "status, body, code",
    [
        (404, envelope("INVALID_URL_PATTERN"), "INVALID_URL_PATTERN"),
        (404, {"status": "error"}, "HTTP_404"),  # a 404 without Zoho's code
        (404, b"<html>not found</html>", "HTTP_404"),  # a proxy's page
        (400, {**envelope("API_NOT_SUPPORTED"), "details": {"supported_version": 8}}, None),
    ],
)
def test_a_404_or_an_unsupported_version_is_a_config_error_of_the_org(status, body, code):
    with pytest.raises(EndpointConfigError) as err:
        interpret_answer(JOB, response(status, body, {"Content-Type": "text/html"}))
    assert err.value.code == (code or "API_NOT_SUPPORTED") and err.value.http_status == status
    assert not isinstance(err.value, JobNotFoundError)


@pytest.mark.parametrize("status", [400, 404])
@pytest.mark.parametrize("code", ["REQUIRED_PARAM_MISSING", "INVALID_REQUEST_METHOD"])
def test_a_malformed_request_is_a_bad_request_whatever_its_status(code, status):
    """Code first: a sibling endpoint's REQUIRED_PARAM_MISSING as 404 is still end_run."""
    with pytest.raises(BadRequestError) as err:
        interpret_answer(JOB, response(status, envelope(code)))
    assert err.value.code == code


def test_required_param_missing_fixture_is_a_bad_request():
    body = json.loads((DATA / "error_required_param_missing.json").read_text())
    with pytest.raises(BadRequestError) as err:
        interpret_answer(JOB, response(400, body))
    assert err.value.details == {"param_name": "job_id"}


@pytest.mark.parametrize(
    "status, body, code",
    [
        (401, envelope("INVALID_TOKEN", "invalid oauth token"), "INVALID_TOKEN"),
        (401, envelope("AUTHENTICATION_FAILURE"), "AUTHENTICATION_FAILURE"),
        (401, envelope("SOMETHING_NEW"), "SOMETHING_NEW"),
        (401, {"status": "error"}, "INVALID_TOKEN"),
        (401, b"<html>401</html>", "INVALID_TOKEN"),
        (200, envelope("INVALID_TOKEN"), "INVALID_TOKEN"),
    ],
)
def test_401_variants_are_invalid_token(status, body, code):
    with pytest.raises(InvalidTokenError) as err:
        interpret_answer(JOB, response(status, body))
    assert err.value.code == code


def test_scope_mismatch_names_the_scope():
    with pytest.raises(ScopeError, match=READ) as err:
        interpret_answer(JOB, response(401, envelope("OAUTH_SCOPE_MISMATCH")))
    assert err.value.code == "OAUTH_SCOPE_MISMATCH"


@pytest.mark.parametrize(
    "body", [json.loads((DATA / "error_no_permission.json").read_text()), {"status": "error"}]
)
def test_403_is_no_permission(body):
    with pytest.raises(NoPermissionError, match="mass-convert") as err:
        interpret_answer(JOB, response(403, body))
    assert err.value.code == "NO_PERMISSION" and err.value.http_status == 403


def test_429_with_retry_after():
    with pytest.raises(RateLimitError) as err:
        interpret_answer(JOB, response(429, envelope("TOO_MANY_REQUESTS"), {"Retry-After": "7"}))
    assert err.value.retry_after_s == 7.0
    with pytest.raises(RateLimitError) as err:
        interpret_answer(JOB, response(429, b"busy", {"Retry-After": "soon"}))
    assert err.value.retry_after_s is None


def test_5xx_html_is_an_api_error_naming_the_host():
    html = b"<html><title>502 Bad Gateway</title></html>"
    with pytest.raises(ApiError) as err:
        interpret_answer(JOB, response(502, html, {"Content-Type": "text/html; charset=UTF-8"}))
    assert err.value.code == "HTTP_502" and "www.zohoapis.eu" in str(err.value)
    assert "text/html" in str(err.value)
    with pytest.raises(ApiError) as err:
        interpret_answer(JOB, response(500, envelope("INTERNAL_ERROR")))
    assert err.value.code == "INTERNAL_ERROR"


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"Status": "COMPLETED", "Total_',
        b"<html>ok</html>",
        {"info": {}},
        {"data": []},
        [1, 2],
    ],
)
def test_truncated_or_missing_data_is_a_format_error(body):
    with pytest.raises(ResponseFormatError):
        interpret_answer(JOB, response(200, body))


def test_other_envelope_keeps_zoho_code():
    with pytest.raises(ApiError) as err:
        interpret_answer(JOB, response(400, envelope("LIMIT_EXCEEDED")))
    assert err.value.code == "LIMIT_EXCEEDED" and err.value.http_status == 400


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Thu, 01 Jan 2026 00:00:05 GMT", 1_767_225_605.0),  # RFC 9110's IMF-fixdate
        ("Thursday, 01-Jan-26 00:00:05 GMT", 1_767_225_605.0),  # the obsolete RFC 850 form
        ("Thu, 01 Jan 2026 05:30:05 +0530", 1_767_225_605.0),
        ("not a date", None),
        ("Thu, 01 Jan 99999 00:00:05 GMT", None),
        ("Thu, 01 Jan 2026 00:00:05 GMT" + " " * 60, 1_767_225_605.0),  # trimmed first
        ("x" * 100, None),
        ("", None),
        ("Fri, 31 Dec 9999 23:59:59 -2359", None),  # year 10000 in UTC
        ("Fri, 31 Dec 1999 23:59:59 GMT", None),  # outside 2000..2200: not Zoho's
        ("Thu, 01 Jan 2026 00:00:05 GMT, Fri, 31 Dec 9999 23:59:59 GMT", None),  # two, joined
        ("Thu Jan  1 00:00:05 2026, Thu Jan  1 00:00:05 2026", None),
        ("Thu, 01 Jan 2026 00:00:05 XYZ", None),  # an unknown zone
        ("Thu Jan  1 00:00:05 2026", 1_767_225_605.0),  # asctime's form: UTC
    ],
)
def test_the_date_header_is_read_on_the_servers_clock_or_not_at_all(value, expected):
    from zcrm_notebook.api.answers import answer_date

    assert answer_date({"Date": value}) == expected
    assert answer_date({}) is None
