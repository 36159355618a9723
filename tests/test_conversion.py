"""api/conversion.py and the client's conversion calls: answers of the POST, Get Records and the
single convert beyond the documented examples (those run in
tests/contracts/test_documented_examples.py), to values or to the action of docs/zoho-api.md's
error table; the requests the client builds for them."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
from helpers_http import response
from requests.adapters import BaseAdapter

from zcrm_notebook.api import conversion as cv
from zcrm_notebook.api import endpoints as ep
from zcrm_notebook.auth import AccessToken, OrgCredentials, TokenCache
from zcrm_notebook.client import ZohoClient
from zcrm_notebook.errors import (
    ApiError,
    ConfigError,
    InvalidTokenError,
    RateLimitError,
    ResponseFormatError,
    TransportError,
    ZcrmError,
)

sys.path.insert(0, str(Path(__file__).parent / "contracts"))
from contract_schemas import load_example  # noqa: E402

pytestmark = pytest.mark.usefixtures("fresh_token_caches")

LEAD = "3652397000009851001"
ENDPOINT = {
    "mass_convert_post": ep.MASS_CONVERT_SCHEDULE,
    "records": ep.GET_RECORDS,
    "convert": ep.CONVERT_RECORD,
}


def outcome(endpoint: str, status: int, body) -> tuple[str, object]:
    """("value", parsed) or ("action", (code, action)) of one answer, through the package."""
    r = response(status, b"" if body is None else body)
    try:
        if endpoint == "mass_convert_post":
            return "value", cv.interpret_schedule("chunk 1", r)
        if endpoint == "records":
            return "value", cv.interpret_records("1 lead", r)
        found = cv.interpret_convert(LEAD, r)
    except ZcrmError as exc:
        return "action", (exc.code, cv.action_of(ENDPOINT[endpoint], exc))
    if not found.converted:
        return "action", (found.code, "lead_reason")
    return "value", found


def test_lead_errors_of_the_single_convert_are_reasons_at_any_status_and_place():
    item = {"code": "MAPPING_MISMATCH", "details": {"api_name": "Stage"}, "message": "m"}
    for status in (202, 400):
        for body in (item, {"data": [item]}):
            res = cv.interpret_convert(LEAD, response(status, body))
            assert (res.converted, res.code, res.message) == (
                False,
                "MAPPING_MISMATCH",
                "m (Stage)",
            )


@pytest.mark.parametrize(
    "name, status, action",
    [
        ("error_internal_error.json", 500, "outcome_unknown"),
        ("error_too_many_requests.json", 429, "retry"),
        ("error_oauth_scope_mismatch.json", 401, "end_org"),
        ("error_invalid_url_pattern.json", 404, "end_org"),
        ("error_invalid_request_method.json", 400, "end_run"),
    ],
)
def test_errors_of_every_crm_call_on_the_post(name, status, action):
    entry = {"file": name}
    kind, got = outcome("mass_convert_post", status, load_example(entry))
    assert kind == "action" and got[1] == action
    kind, got = outcome("records", status, load_example(entry))
    assert got[1] == {"outcome_unknown": "retry"}.get(action, action)


@pytest.mark.parametrize(
    "status, body",
    [
        (200, b""),
        (204, b""),
        (202, b"<html>ok</html>"),
        (200, {"code": "SUCCESS"}),
        (200, b"{"),
        (200, {"code": "SCHEDULED", "details": {"job_id": "9" * 10240}}),  # jammed the ledger
        (200, {"code": "SCHEDULED", "details": {"job_id": "1" * 21}}),
        (200, {"code": "SCHEDULED", "details": {"job_id": "JOB-1"}}),
    ],
)
def test_a_2xx_post_answer_that_is_not_the_documented_one_is_an_unknown_outcome(status, body):
    kind, (code, action) = outcome("mass_convert_post", status, body)
    assert action == "outcome_unknown"


def test_a_scheduled_answer_with_a_zoho_shaped_job_id_is_taken():
    answer = {"code": "SCHEDULED", "details": {"job_id": " " + "1" * 20}}
    assert outcome("mass_convert_post", 200, answer) == ("value", "1" * 20)


def test_transport_errors_never_sent_are_retried_and_after_sending_unknown_for_the_post():
    refused = TransportError("x", code="ConnectionError", sent=False)
    lost = TransportError("x", code="ReadTimeout")
    post, read = ep.MASS_CONVERT_SCHEDULE, ep.GET_RECORDS
    assert [cv.action_of(post, refused), cv.action_of(post, lost)] == ["retry", "outcome_unknown"]
    assert [cv.action_of(read, refused), cv.action_of(read, lost)] == ["retry", "retry"]
    assert cv.action_of(post, RateLimitError("x", http_status=429)) == "retry"
    assert cv.action_of(post, InvalidTokenError("x")) == "end_org"
    assert cv.action_of(read, ApiError("x", code="INVALID_DATA", http_status=400)) == "end_run"


def test_the_bad_lead_of_an_invalid_data_answer():
    assert cv.bad_id_index({"api_name": "ids", "json_path": "$.ids[7]"}) == 7
    assert cv.bad_id_index({"api_name": "ids", "json_path": "$.ids"}) is None
    assert cv.bad_id_index({}) is None and cv.bad_id_index("$.ids[1]") is None  # type: ignore[arg-type]


def test_records_read_times_in_utc_ids_as_text_and_conversion_without_the_flag():
    body = {
        "data": [
            {
                "id": 3652397000009851001,
                "Converted_Date_Time": "2022-11-21T15:12:13+05:30",
                "Converted_Contact": {"name": "P", "id": 3652397000007603014},
                "Converted_Deal": None,
            },
            {"id": "11", "Converted__s": "false", "Converted_Contact": None},
            {"id": "12", "Converted__s": True, "Converted_Date_Time": "2022-11-21T09:42:13Z"},
        ]
    }
    a, b, c = cv.parse_records(body)
    assert (a.lead_id, a.converted, a.contact_id, a.deal_id) == (
        LEAD,
        True,
        "3652397000007603014",
        None,
    )
    assert a.converted_at == c.converted_at == 1669023733.0  # 09:42:13 UTC
    assert not b.converted and b.converted_at is None
    assert cv.parse_records(None) == []


@pytest.mark.parametrize(
    "when",
    ["0001-01-01T00:00:00+05:00", "1600-01-01T00:00:00Z", "2263-01-01T00:00:00Z", "9999-12-31"],
)
def test_a_converted_date_time_outside_2000_to_2200_is_no_time_and_the_lead_is_read(when):
    from zcrm_notebook.convert.outcomes import LeadOutcome, outcomes_frame

    body = {"data": [{"id": LEAD, "Converted__s": True, "Converted_Date_Time": when}]}
    (rec,) = cv.parse_records(body)
    assert rec.converted and rec.converted_at is None
    row = LeadOutcome("o", "us", LEAD, "7", outcome="converted", converted_at=rec.converted_at)
    assert outcomes_frame([row])["converted_at"].isna().all()  # the table is built


@pytest.mark.parametrize(
    "body", [{"data": [{"Converted__s": True}]}, {"data": ["x"]}, {"info": {}}, [1], {"data": {}}]
)
def test_a_records_answer_without_usable_records_is_refused(body):
    with pytest.raises(ResponseFormatError):
        cv.parse_records(body)


# --- the requests the client builds ---------------------------------------------------------


class Capture(BaseAdapter):
    def __init__(self, answers):
        super().__init__()
        self.sent, self.answers = [], list(answers)

    def send(self, request, **kwargs):
        self.sent.append(request)
        status, body = self.answers.pop(0)
        return response(status, body)

    def close(self):
        pass


def client_with(answers, refresh=None):
    c = OrgCredentials(
        "acme", "eu", "1000.ID", "client-secret-x", "1000.refresh.x", api_version="v8"
    )
    tok = AccessToken("1000.access.token.x", c.api_domain, 2e9, 1.0)
    cache = TokenCache(c, initial=tok, clock=lambda: 1e9, refresh=refresh)
    client = ZohoClient(c, token_cache=cache)
    cap = Capture(answers)
    client.session.mount("https://", cap)
    return client, cap


def test_the_post_sends_a_flat_json_body_of_text_ids():
    scheduled = load_example({"file": "post_doc_sample_scheduled.json"})
    client, cap = client_with([(202, scheduled)])
    got = client.schedule_mass_convert({"ids": [LEAD], "Deals": {"Deal_Name": "x"}})
    assert (got.value, got.http_status) == ("3652397000009835020", 202)
    (req,) = cap.sent
    assert (
        req.method == "POST"
        and req.url == "https://www.zohoapis.eu/crm/v8/Leads/actions/mass_convert"
    )
    assert json.loads(req.body) == {"ids": [LEAD], "Deals": {"Deal_Name": "x"}}
    assert req.headers["Authorization"] == "Zoho-oauthtoken 1000.access.token.x"
    with pytest.raises(ConfigError, match="1-50 lead ids"):
        client.schedule_mass_convert({"ids": [str(i) for i in range(51)]})
    assert len(cap.sent) == 1


def test_a_401_on_the_post_refreshes_once_and_sends_it_again():
    fresh = {
        "access_token": "1000.fresh",
        "expires_in": 3600,
        "api_domain": "https://www.zohoapis.eu",
    }
    invalid = load_example({"file": "error_invalid_token.json"})
    scheduled = load_example({"file": "post_doc_sample_scheduled.json"})
    client, cap = client_with([(401, invalid), (200, scheduled)], refresh=lambda _: fresh)
    assert client.schedule_mass_convert({"ids": [LEAD]}).value == "3652397000009835020"
    assert [r.headers["Authorization"][-5:] for r in cap.sent] == ["ken.x", "fresh"]


def test_get_leads_asks_for_converted_both_and_the_conversion_fields():
    client, cap = client_with([(204, b"")])
    assert client.get_leads([LEAD, "12"]).value == []
    (req,) = cap.sent
    assert req.method == "GET" and req.path_url.startswith("/crm/v8/Leads?")
    query = dict(p.split("=", 1) for p in req.path_url.split("?", 1)[1].split("&"))
    assert query["converted"] == "both" and query["ids"] == f"{LEAD}%2C12"
    assert query["fields"].split("%2C") == list(cv.RECORD_FIELDS)
    with pytest.raises(ConfigError, match="1-100 lead ids"):
        client.get_leads([str(i) for i in range(101)])


def test_convert_lead_posts_to_the_leads_own_path():
    success = load_example({"file": "convert_doc_sample_success.json"})
    client, cap = client_with([(200, success)])
    got = client.convert_lead(LEAD, {"data": [{"Deals": {"Deal_Name": "x"}}]}).value
    assert got.converted and got.deal_id == "3652397000007603019"
    assert cap.sent[0].url == f"https://www.zohoapis.eu/crm/v8/Leads/{LEAD}/actions/convert"


def test_a_refused_connection_is_a_transport_error_that_was_never_sent():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    c = OrgCredentials(
        "sim",
        "us",
        "1000.ID",
        "client-secret-x",
        "1000.refresh.x",
        accounts_url=f"http://127.0.0.1:{port}/us/accounts",
        api_domain=f"http://127.0.0.1:{port}/us/api",
    )
    tok = AccessToken("1000.access.token.x", c.api_domain, 2e9, 1.0)
    client = ZohoClient(c, token_cache=TokenCache(c, initial=tok, clock=lambda: 1e9))
    with pytest.raises(TransportError) as err:
        client.schedule_mass_convert({"ids": [LEAD]})
    assert err.value.sent is False
    assert cv.action_of(ep.MASS_CONVERT_SCHEDULE, err.value) == "retry"


# --- scopes ----------------------------------------------------------------------------------


def test_scope_sets_come_from_the_descriptors_and_all_scopes_cover():
    convert = ep.scopes_for("convert")
    assert convert == (
        "ZohoCRM.mass_convert.leads.READ",
        "ZohoCRM.mass_convert.leads.CREATE",
        "ZohoCRM.modules.leads.READ",
    )
    assert ep.scopes_for("diagnose") == (*convert, "ZohoCRM.modules.leads.CREATE")
    assert (
        ep.missing_scopes(["ZohoCRM.mass_convert.leads.ALL", "ZohoCRM.modules.ALL"], "diagnose")
        == []
    )
    assert ep.missing_scopes(["ZohoCRM.mass_convert.leads.READ"], "convert") == list(convert[1:])
    with pytest.raises(ConfigError, match="watch, convert, diagnose"):
        ep.scopes_for("everything")
