"""Contract material self-check: the schemas are valid and every canned Zoho answer fits its schema.

No package code runs here: this checks the reference material itself (``tests/contracts`` and
``tests/data``) against the facts of ``docs/zoho-api.md``. The tests that run the package's parser
over these examples, and the simulator's answers against these schemas, live elsewhere.
"""

from __future__ import annotations

import json

import pytest
from contract_schemas import (
    DATA_DIR,
    examples,
    load_example,
    schema_paths,
    validator,
)
from jsonschema import Draft202012Validator

EXAMPLES = examples()["example"]
VOCAB = examples()["vocabulary"]
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# The words Zoho documents for the status call (mass-convert-status.html and its sibling
# mass-inventory-conversion-status-api.html), folded: what each example's expected state rests on.
DOC_WORDS = {w: w.replace(" ", "_") for w in ("scheduled", "in progress", "completed", "failed")}


# Which schemas may describe an answer of which endpoint.
ENDPOINT_SCHEMAS = {
    "status": {"status_success.json", "status_error.json"},
    "inventory_status": {"inventory_status_success.json"},
    "any_crm": {"zoho_error.json"},
    "mass_convert_post": {"mass_convert_post_success.json", "mass_convert_post_error.json"},
    "records": {"records_success.json", "records_error.json"},
    "convert": {"convert_success.json", "convert_error.json"},
    "token": {"token_success.json", "token_error.json"},
    "revoke": {"revoke_success.json"},
}


def _id(entry: dict) -> str:
    return entry.get("file") or f"{entry['endpoint']}-{entry['http_status']}-empty"


@pytest.mark.parametrize("path", schema_paths(), ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12_and_names_its_source(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT
    assert schema["$id"].endswith("/" + path.name)
    said = schema["$comment"] + schema.get("description", "")
    assert "zoho" in said.lower() and ("crm-oas" in said or "zoho.com" in said), path.name


@pytest.mark.parametrize("entry", EXAMPLES, ids=_id)
def test_example_fits_the_schema_of_its_endpoint(entry):
    assert entry["body"] in ("documented", "composed")
    assert entry["source"].strip()
    if entry.get("empty_body"):
        assert entry["http_status"] == 204 and "schema" not in entry
        return
    assert entry["schema"] in ENDPOINT_SCHEMAS[entry["endpoint"]]
    errors = sorted(validator(entry["schema"]).iter_errors(load_example(entry)), key=str)
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("entry", EXAMPLES, ids=_id)
def test_expected_classification_agrees_with_the_payload(entry):
    body, expect = load_example(entry), entry["expect"]
    assert 100 <= entry["http_status"] < 600
    if "action" in expect:
        assert expect["action"] in VOCAB["actions"], expect["action"]
        code = body.get("code") or body.get("error") or body["data"][0]["code"]
        assert code == expect["code"]
    if "state" in expect:
        assert expect["state"] in VOCAB["states"]
        job = {k.lower(): v for k, v in body["data"][0].items()}
        assert DOC_WORDS[job["status"].lower()] == expect["state"]
        counts = [job["total_count"], job["converted_count"], job["not_converted_count"]]
        assert counts + [job["failed_count"]] == expect["counts"]
    if expect.get("outcome") == "scheduled":
        assert body["details"]["job_id"] == expect["job_id"]
    if expect.get("outcome") == "records":
        conv = [r["id"] for r in body["data"] if r.get("Converted__s")]
        assert conv == expect["converted"]
        assert [r["id"] for r in body["data"] if r["id"] not in conv] == expect["not_converted"]
    if expect.get("outcome") == "converted":
        got = {k: v["id"] for k, v in body["data"][0]["details"].items()}
        want = ("contact_id", "account_id", "deal_id")
        assert [got["Contacts"], got["Accounts"], got["Deals"]] == [expect[k] for k in want]
    if expect.get("outcome") == "token":
        seconds = body.get("expires_in_sec", body["expires_in"])
        assert seconds == expect["lifetime_s"]
        assert ("refresh_token" in body) is expect["refresh_token"]


def test_every_data_file_is_listed_once():
    listed = [e["file"] for e in EXAMPLES if "file" in e]
    assert len(listed) == len(set(listed))
    kept = set(examples()["unlisted"]["files"])
    on_disk = {p.name for p in DATA_DIR.glob("*.json")}
    assert on_disk == set(listed) | kept
    assert not kept & set(listed)


def _job(status="COMPLETED", total=28):
    counts = {"Total_Count": total, "Converted_Count": 28, "Not_Converted_Count": 0}
    return {"data": [{"Status": status, **counts, "Failed_Count": 0}]}


def _err(code, **details):
    return {"code": code, "details": details, "message": "x", "status": "error"}


def _scheduled(code="SCHEDULED", job_id="3652397000009835020"):
    return {"code": code, "details": {"job_id": job_id}, "message": "x", "status": "success"}


TOKEN = {"access_token": "a", "api_domain": "https://www.zohoapis.com", "token_type": "Bearer"}
NOT_DOCUMENTED = [
    ("status_success.json", _job("RUNNING")),  # a word of sibling endpoints only
    ("status_success.json", _job("Completed")),  # a casing no source prints
    ("status_success.json", _job(total="28")),  # counts are integers
    ("status_success.json", {"data": []}),
    ("status_error.json", {"code": "INVALID_DATA", "message": "x", "status": "error"}),
    ("status_error.json", _err("NO_PERMISSION")),  # details.permissions is required
    ("status_error.json", _err("REQUIRED_PARAM_MISSING", api_name="job_id")),
    ("mass_convert_post_success.json", _scheduled(code="SUCCESS")),
    ("mass_convert_post_success.json", _scheduled(job_id=3652397000009835020)),  # not text
    ("mass_convert_post_error.json", _err("LIMIT_EXCEEDED")),  # details.limit is required
    ("mass_convert_post_error.json", _err("AMBIGUITY_DURING_PROCESSING")),
    ("records_success.json", {"data": [{"id": "1", "Converted_Contact": "3652397000007603014"}]}),
    ("convert_error.json", _err("ID_ALREADY_CONVERTED")),  # resource_path_index is required
    ("token_success.json", {**TOKEN, "expires_in": 3600, "error": "invalid_code"}),
    ("token_success.json", TOKEN),  # expires_in is required
    ("token_error.json", {"access_token": "a", "error": "invalid_code"}),
    ("revoke_success.json", {"status": "failure"}),
]


@pytest.mark.parametrize(("schema", "payload"), NOT_DOCUMENTED)
def test_schema_refuses_what_zoho_does_not_document(schema, payload):
    assert not validator(schema).is_valid(payload)
