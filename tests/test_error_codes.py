"""api/error_codes.py: the package's error table is docs/zoho-api.md's, row for row."""

from __future__ import annotations

import re

import pytest
from helpers_doc import error_tables, first_action, first_code

from zcrm_notebook.api import endpoints as ep
from zcrm_notebook.api.error_codes import (
    ACTIONS,
    BY_HTTP_STATUS,
    CONVERT_ERRORS,
    GET_RECORDS_ERRORS,
    MASS_CONVERT_POST_ERRORS,
    STATUS_GET_ERRORS,
    rule_for,
)
from zcrm_notebook.auth.hooks import TOKEN_ERRORS
from zcrm_notebook.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    EndpointConfigError,
    InvalidTokenError,
    JobNotFoundError,
    RateLimitError,
)

TABLES = error_tables()


def doc_actions(*titles: str) -> dict[str, set[str]]:
    """code -> the actions the doc's rows give it, in the tables named."""
    found: dict[str, set[str]] = {}
    for title in titles:
        table = next(rows for name, rows in TABLES.items() if name.startswith(title))
        for row in table:
            code = first_code(row.get("code") or row.get("`error`", ""))
            if code is not None:
                found.setdefault(code, set()).add(first_action(row["action"]))
    return found


def test_the_status_get_table_is_the_doc_s():
    doc = doc_actions("Every CRM call", "Mass convert status GET")
    assert doc == {code: {rule.action} for code, rule in STATUS_GET_ERRORS.items()}


def test_the_token_table_is_the_doc_s():
    assert doc_actions("Token endpoint") == {w: {a} for w, a in TOKEN_ERRORS.items()}


# What each action must do in the poll loop: the exception classes that carry it out.
CARRIES_OUT = {
    "retry": lambda cls, status: cls is RateLimitError or (cls is ApiError and status >= 500),
    "refresh_and_retry_once": lambda cls, status: cls is InvalidTokenError,
    "give_up_job": lambda cls, status: (
        issubclass(cls, ApiError)
        and cls not in (EndpointConfigError, BadRequestError, RateLimitError)
    ),
    "end_org": lambda cls, status: issubclass(cls, (AuthError, EndpointConfigError)),
    "end_run": lambda cls, status: cls is BadRequestError,
}


@pytest.mark.parametrize("code", sorted(STATUS_GET_ERRORS))
def test_each_rule_s_exception_carries_out_its_action(code):
    rule = STATUS_GET_ERRORS[code]
    status = int(
        next(
            r["HTTP"][:3]
            for t in TABLES.values()
            for r in t
            if first_code(r.get("code", "")) == code
        )
    )
    assert rule.action in ACTIONS and CARRIES_OUT[rule.action](rule.error, status)


def test_the_http_status_decides_only_without_a_known_code():
    assert rule_for("INVALID_DATA", 404).error is JobNotFoundError  # code first
    assert rule_for("REQUIRED_PARAM_MISSING", 404).error is BadRequestError
    assert rule_for("INVALID_DATA", 429).action == "retry"  # a 429 is never a job failure
    assert (
        rule_for(None, 404) is BY_HTTP_STATUS[404] and rule_for("NEW_CODE", 404).action == "end_org"
    )
    assert (
        rule_for(None, 502).action == "retry" and rule_for("NEW_CODE", 400).action == "give_up_job"
    )


def doc_codes_and_actions(title: str) -> dict[str, set[str]]:
    """code -> every action word of its rows in the doc's table ``title`` (a row may name
    several codes, and an action per case: ``ids``: ``end_run``; ``Deals``: ...)."""
    found: dict[str, set[str]] = {}
    rows = next(rows for name, rows in TABLES.items() if name.startswith(title))
    for row in rows:
        actions = set(re.findall(r"`([a-z_]+)`", row["action"])) & set(ACTIONS)
        for code in re.findall(r"`([A-Z_]+)`", row["code"]):
            found.setdefault(code, set()).update(actions)
    return found


@pytest.mark.parametrize(
    "title, table",
    [
        ("Mass convert POST", MASS_CONVERT_POST_ERRORS),
        ("Get Records", GET_RECORDS_ERRORS),
        ("Single lead convert", CONVERT_ERRORS),
    ],
)
def test_each_conversion_table_is_the_doc_s(title, table):
    own, common = doc_codes_and_actions(title), doc_codes_and_actions("Every CRM call")
    assert set(own) - {"SCHEDULED", "SUCCESS"} <= set(table)  # every documented code has a rule
    for code, rule in table.items():
        actions = {rule.action} | ({rule.when[2]} if rule.when else set())
        assert actions <= own.get(code, set()) | common.get(code, set()), code


def test_a_post_rule_may_depend_on_the_details():
    rule = MASS_CONVERT_POST_ERRORS["MANDATORY_NOT_FOUND"]
    assert rule.action_for({"api_name": "ids", "json_path": "$.ids"}) == "end_run"
    assert rule.action_for({"api_name": "Stage", "json_path": "$.Deals.Stage"}) == "not_scheduled"
    rule = MASS_CONVERT_POST_ERRORS["INVALID_DATA"]
    assert rule.action_for({"api_name": "ids", "expected_data_type": "long"}) == "end_run"
    post = ep.MASS_CONVERT_SCHEDULE
    assert rule_for(None, 502, post).action == "outcome_unknown"  # the job may exist
    assert rule_for("NEW_CODE", 400, post).action == "not_scheduled"
    assert rule_for("NEW_CODE", 400, ep.GET_RECORDS).action == "end_run"
