"""Contract (b): every documented example answer lands in the right state or error class.

Each ``[[example]]`` of ``examples.toml`` (the status GET and the errors of every CRM
call, the inventory sibling's status, the mass-convert POST, Get Records, the single
convert, the token endpoint, revoke) goes through the package's own parser:
:func:`~zcrm_notebook.api.answers.interpret_answer` and its error table, the parsers of
:mod:`zcrm_notebook.api.conversion` and :func:`~zcrm_notebook.api.conversion.action_of`, the
OAuth compliance hooks, :func:`~zcrm_notebook.auth.grant.revoke_outcome`. It must give the
expected state and counts, job id, leads, or the error class and action of the example;
:func:`test_every_example_is_parsed` keeps the list whole.
"""

from __future__ import annotations

import json

import pytest
import requests
from contract_schemas import examples, load_example

from zcrm_notebook.api import conversion as cv
from zcrm_notebook.api import endpoints as ep
from zcrm_notebook.api.answers import interpret_answer
from zcrm_notebook.api.error_codes import STATUS_GET_ERRORS, rule_for
from zcrm_notebook.api.status import JobStatus
from zcrm_notebook.auth.grant import revoke_outcome
from zcrm_notebook.auth.hooks import TOKEN_ERRORS, token_lifetime_s, zoho_token_response
from zcrm_notebook.errors import TokenEndpointError, TokenThrottledError, ZcrmError

JOB = "3652397000009835020"
CRM = {"status", "any_crm", "inventory_status"}  # the sibling's lower-case keys parse too
CONVERSION = {
    "mass_convert_post": ep.MASS_CONVERT_SCHEDULE,
    "records": ep.GET_RECORDS,
    "convert": ep.CONVERT_RECORD,
}
PARSED = CRM | set(CONVERSION) | {"token", "revoke"}
EXAMPLES = [e for e in examples()["example"] if e["endpoint"] in PARSED]
ACCOUNTS = "https://accounts.zoho.com"


def _id(entry: dict) -> str:
    return entry.get("file") or f"{entry['endpoint']}-{entry['http_status']}"


def answer(entry: dict, url: str, status: int | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code, r.url = status or entry["http_status"], url
    body = load_example(entry)
    r._content = b"" if body is None else json.dumps(body).encode()
    r.headers["Content-Type"] = "application/json;charset=UTF-8"
    return r


def classify_crm(entry: dict, status: int) -> JobStatus | ZcrmError:
    url = f"https://www.zohoapis.com/crm/v8/Leads/actions/mass_convert?job_id={JOB}"
    try:
        return interpret_answer(JOB, answer(entry, url, status))
    except ZcrmError as exc:
        return exc


def crm_outcome(entry: dict, status: int) -> dict:
    """What the package makes of a CRM answer, in the words of ``expect``."""
    got = classify_crm(entry, status)
    if isinstance(got, JobStatus):
        counts = [got.total_count, got.converted_count, got.not_converted_count]
        return {"state": got.status.value, "counts": [*counts, got.failed_count]}
    rule = rule_for(got.code, status)
    assert isinstance(got, rule.error), (type(got), rule)
    return {"code": got.code, "action": rule.action}


def conversion_value(endpoint: str, r: requests.Response) -> dict:
    """What a conversion endpoint's successful answer gives, in the words of ``expect``."""
    if endpoint == "mass_convert_post":
        return {"outcome": "scheduled", "job_id": cv.interpret_schedule("1 chunk", r)}
    if endpoint == "records":
        leads = cv.interpret_records("leads", r)
        if not leads:
            return {"outcome": "no_match"}
        return {
            "outcome": "records",
            "converted": [x.lead_id for x in leads if x.converted],
            "not_converted": [x.lead_id for x in leads if not x.converted],
        }
    got = cv.interpret_convert("3652397000009851001", r)
    if not got.converted:
        return {"code": got.code, "action": "lead_reason"}
    ids = {"contact_id": got.contact_id, "account_id": got.account_id, "deal_id": got.deal_id}
    return {"outcome": "converted", **ids}


def conversion_outcome(entry: dict, status: int) -> dict:
    """What the package makes of an answer of the POST, Get Records or the single convert:
    the value, or the error's code and :func:`~zcrm_notebook.api.conversion.action_of`."""
    endpoint = CONVERSION[entry["endpoint"]]
    r = answer(entry, f"https://www.zohoapis.com/crm/v8/Leads?x={endpoint.name}", status)
    try:
        return conversion_value(entry["endpoint"], r)
    except ZcrmError as exc:
        rule = rule_for(exc.code, status, endpoint)
        assert isinstance(exc, rule.error), (type(exc), rule)
        return {"code": exc.code, "action": cv.action_of(endpoint, exc)}


def token_outcome(entry: dict) -> dict:
    try:
        body = zoho_token_response(answer(entry, f"{ACCOUNTS}/oauth/v2/token")).json()
    except TokenEndpointError as exc:
        action = TOKEN_ERRORS.get(exc.code, "report_user")
        throttled = isinstance(exc, TokenThrottledError)
        assert throttled is (action == "wait_and_retry"), exc.code
        return {"code": exc.code, "action": action}
    raw = load_example(entry)
    assert token_lifetime_s(raw) == body["expires_in"]
    return {
        "outcome": "token",
        "lifetime_s": body["expires_in"],
        "refresh_token": "refresh_token" in body,
    }


@pytest.mark.parametrize("entry", EXAMPLES, ids=_id)
def test_documented_example_is_classified_as_expected(entry):
    expect = entry["expect"]
    statuses = (entry["http_status"], *entry.get("http_status_alternatives", []))
    if entry["endpoint"] in CRM:
        for status in statuses:
            assert crm_outcome(entry, status) == expect
    elif entry["endpoint"] in CONVERSION:
        for status in statuses:
            assert conversion_outcome(entry, status) == expect
    elif entry["endpoint"] == "token":
        assert token_outcome(entry) == expect
    else:
        outcome = revoke_outcome(ACCOUNTS, entry["http_status"], load_example(entry))
        assert {"outcome": outcome} == expect


def test_every_error_example_of_the_status_call_has_a_rule_in_the_table():
    crm = [e["expect"] for e in EXAMPLES if e["endpoint"] in CRM]
    codes = {expect["code"] for expect in crm if "code" in expect}
    assert codes and codes <= set(STATUS_GET_ERRORS)


def test_every_example_is_parsed(capsys):
    every = examples()["example"]
    assert [e for e in every if e["endpoint"] not in PARSED] == []
    with capsys.disabled():
        print(
            f"\ncontract (b): {len(EXAMPLES)}/{len(EXAMPLES)} documented examples of the "
            "endpoints the package calls classified right"
        )
