"""The answers of converting leads: the mass-convert POST, Get Records, the single convert.

Pure functions (no I/O) from a decoded body, or a ``requests.Response`` that has arrived,
to values or to one exception of :mod:`zcrm_notebook.errors` (through
:func:`zcrm_notebook.api.answers.read_json`), and :func:`action_of`: what the conversion loop
does with each error, in the words of the error table of ``docs/zoho-api.md`` (its
"action" column). Zoho's pages: "Mass Convert Lead"
(https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-lead.html), "Get Records"
(https://www.zoho.com/crm/developer/docs/api/v8/get-records.html), "Convert Lead"
(https://www.zoho.com/crm/developer/docs/api/v8/convert-lead.html).

Rules kept here (``docs/zoho-api.md``): a POST answer of any 2xx with code ``SCHEDULED``
gives the job id as text; Get Records answers 204 with no body when no lead matches and
hides converted leads unless ``converted=both`` is sent; a lead's conversion is read from
``Converted__s``, ``Converted_Date_Time`` and the lookups ``Converted_Contact`` /
``Converted_Account`` / ``Converted_Deal`` (``{name, id}``; ids kept as text); the single
convert puts a lead's error at the top level or in ``data[0]``, whatever the status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests

from ..errors import (
    ApiError,
    InvalidTokenError,
    RateLimitError,
    ResponseFormatError,
    TokenThrottledError,
    TransportError,
    ZcrmError,
)
from .answers import envelope, plausible_time, read_json
from .endpoints import CONVERT_RECORD, GET_RECORDS, MASS_CONVERT_SCHEDULE, Endpoint
from .error_codes import ACTIONS, CONVERT_ERRORS, rule_for

__all__ = [
    "LeadRecord",
    "ConvertResult",
    "RECORD_FIELDS",
    "MAX_IDS_PER_POST",
    "MAX_IDS_PER_READ",
    "LEAD_REASON_CODES",
    "ACTIONS",
    "parse_schedule",
    "parse_records",
    "parse_convert",
    "interpret_schedule",
    "interpret_records",
    "interpret_convert",
    "action_of",
    "bad_id_index",
]

#: Most lead ids one mass-convert POST takes (``LIMIT_EXCEEDED`` beyond; Zoho's page).
MAX_IDS_PER_POST = 50
#: Lead ids per Get Records call (the per-call maximum is not documented; 100 is the
#: project's rule, ``docs/zoho-api.md``).
MAX_IDS_PER_READ = 100
#: The fields read back (``fields`` is mandatory; at most 50).
RECORD_FIELDS = (
    "Converted__s",
    "Converted_Date_Time",
    "Converted_Contact",
    "Converted_Account",
    "Converted_Deal",
)
#: Codes of the single convert that are the lead's own reason (``lead_reason``).
LEAD_REASON_CODES = frozenset(c for c, r in CONVERT_ERRORS.items() if r.action == "lead_reason")


_MAX_ID_DIGITS = 20  # the rule of job and lead input: Zoho's ids are 19 digits (a Long)


def _text_id(value: object) -> str | None:
    """An id as text of 1-20 ASCII digits (Zoho sends strings; the SDK types them Long),
    else None: an id the input rules would refuse never reaches the ledger."""
    if isinstance(value, bool):
        return None
    text = str(value) if isinstance(value, int) else value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and len(text) <= _MAX_ID_DIGITS:
        return text
    return None


def _lookup_id(value: object) -> str | None:
    """The id of a lookup ``{name, id}`` (None when null or not a lookup)."""
    return _text_id(value.get("id")) if isinstance(value, dict) else None


def _epoch_s(value: object) -> float | None:
    """An ISO-8601 date-time (``2022-11-21T15:12:13+05:30``) as seconds since the epoch
    (UTC); a time without an offset is taken as UTC; None when absent, unreadable or not
    a :func:`~zcrm_notebook.api.answers.plausible_time` (``0001-01-01T00:00:00+05:00``,
    year 9999: a hostile value a DataFrame could not hold)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        return plausible_time(when.timestamp())
    except (OverflowError, ValueError):
        return None


def _lower_keys(obj: dict) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in obj.items()}


def _details(obj: object) -> dict[str, Any]:
    """The ``details`` object of a success answer as sent (keys lower-cased): the ids in it
    are read, never shown (:func:`~zcrm_notebook.api.answers.envelope` cleans an error's
    details for messages)."""
    found = _lower_keys(obj).get("details") if isinstance(obj, dict) else None
    return _lower_keys(found) if isinstance(found, dict) else {}


# --- the mass-convert POST -----------------------------------------------------------------


def parse_schedule(body: object) -> str:
    """The job id of a successful mass-convert POST answer.

    Parameters
    ----------
    body : object
        The decoded JSON of a 2xx answer:
        ``{"code": "SCHEDULED", "details": {"job_id": "..."}, "message", "status"}``.

    Returns
    -------
    str
        The job id as text of digits (a number is turned into its digits).

    Raises
    ------
    ResponseFormatError
        The body is not that object, the code is not ``SCHEDULED`` or the job id is not
        digits. The POST may still have created a job: the loop treats this as an unknown
        outcome.
    """
    code, _, _ = envelope(body)
    if str(code or "").upper() != "SCHEDULED":
        raise ResponseFormatError(f"mass-convert answer has code {code!r}, not SCHEDULED")
    job_id = _text_id(_details(body).get("job_id"))
    if job_id is None:
        raise ResponseFormatError("mass-convert answer has no job id of digits in details")
    return job_id


def interpret_schedule(subject: str, r: requests.Response) -> str:
    """Map an answer of the mass-convert POST to the new job's id, or raise its error.

    Parameters
    ----------
    subject : str
        What was sent, for messages (``chunk 4 (50 leads)``).
    r : requests.Response

    Returns
    -------
    str
        The job id (any 2xx: Zoho's OAS says 200, its sibling 202).

    Raises
    ------
    ZcrmError
        As :func:`~zcrm_notebook.api.answers.read_json`; a 2xx that is empty or not the
        documented object is a ``ResponseFormatError`` carrying the HTTP status. See
        :func:`action_of` for what each means.
    """
    body = read_json(subject, r, MASS_CONVERT_SCHEDULE)
    if body is None:
        raise ResponseFormatError(
            f"{subject}: HTTP {r.status_code} with no content", http_status=r.status_code
        )
    try:
        return parse_schedule(body)
    except ResponseFormatError as exc:
        raise ResponseFormatError(f"{subject}: {exc}", http_status=r.status_code) from None


_ID_PATH = re.compile(r"^\$\.ids\[(\d+)\]$")


def bad_id_index(details: dict) -> int | None:
    """The position of the lead id an ``INVALID_DATA`` answer points at
    (``json_path`` ``$.ids[3]`` -> 3), or None when it points at no single id."""
    path = details.get("json_path") if isinstance(details, dict) else None
    found = _ID_PATH.match(str(path or "").strip())
    return int(found.group(1)) if found else None


# --- Get Records on Leads ------------------------------------------------------------------


@dataclass(frozen=True)
class LeadRecord:
    """What Get Records says of one lead's conversion.

    Attributes
    ----------
    lead_id : str
        The lead's ``id`` (text of digits).
    converted : bool
        ``Converted__s``; when absent, true if a ``Converted_*`` lookup or
        ``Converted_Date_Time`` is set.
    converted_at : float or None
        ``Converted_Date_Time`` in seconds since the epoch (UTC).
    contact_id, account_id, deal_id : str or None
        Ids of ``Converted_Contact``, ``Converted_Account``, ``Converted_Deal`` (the deal is
        None when the conversion created none).
    """

    lead_id: str
    converted: bool
    converted_at: float | None = None
    contact_id: str | None = None
    account_id: str | None = None
    deal_id: str | None = None


RECORD_KINDS = ("contact", "account", "deal")


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _record(item: object) -> LeadRecord:
    if not isinstance(item, dict):
        raise ResponseFormatError(f"a record is a {type(item).__name__}, not an object")
    lead_id = _text_id(item.get("id"))
    if lead_id is None:
        raise ResponseFormatError(f"a record has no id of digits ({str(item.get('id'))[:30]!r})")
    ids = {k: _lookup_id(item.get(f"Converted_{k.capitalize()}")) for k in RECORD_KINDS}
    at = _epoch_s(item.get("Converted_Date_Time"))
    flag = _flag(item.get("Converted__s"))
    converted = flag if flag is not None else (at is not None or any(ids.values()))
    return LeadRecord(
        lead_id,
        converted,
        at,
        ids["contact"],
        ids["account"],
        ids["deal"],
    )


def parse_records(body: object) -> list[LeadRecord]:
    """The leads of a Get Records answer.

    Parameters
    ----------
    body : object or None
        The decoded JSON ``{"data": [records], "info": {...}}``; None (a 204) means no lead
        matched.

    Returns
    -------
    list of LeadRecord
        In the answer's order (a lead asked for and absent is simply not there).

    Raises
    ------
    ResponseFormatError
        The body has no ``data`` list, or a record is not an object with an id of digits.
    """
    if body is None:
        return []
    data = _lower_keys(body).get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ResponseFormatError("records answer has no 'data' list")
    return [_record(item) for item in data]


def interpret_records(subject: str, r: requests.Response) -> list[LeadRecord]:
    """Map an answer of Get Records (``converted=both``) to its leads, or raise its error.

    Returns
    -------
    list of LeadRecord
        Empty for a 204 (no lead matched).

    Raises
    ------
    ZcrmError
        As :func:`~zcrm_notebook.api.answers.read_json` and :func:`parse_records`.
    """
    body = read_json(subject, r, GET_RECORDS)
    try:
        return parse_records(body)
    except ResponseFormatError as exc:
        raise ResponseFormatError(f"{subject}: {exc}", http_status=r.status_code) from None


# --- the single-lead convert ---------------------------------------------------------------


@dataclass(frozen=True)
class ConvertResult:
    """The single convert's answer for one lead: converted (with the new ids) or its reason.

    Attributes
    ----------
    lead_id : str
    converted : bool
    contact_id, account_id, deal_id : str or None
        Of ``details.Contacts`` / ``Accounts`` / ``Deals`` on success.
    code : str
        Zoho's code (``SUCCESS``, ``ID_ALREADY_CONVERTED``, ``MANDATORY_NOT_FOUND``...).
    message : str
        Zoho's message, with the field it names (``details.api_name``) when given.
    """

    lead_id: str
    converted: bool
    contact_id: str | None = None
    account_id: str | None = None
    deal_id: str | None = None
    code: str = ""
    message: str = ""


def _item(body: object) -> dict | None:
    """The object holding the code: ``data[0]`` when there is one, else the body."""
    if not isinstance(body, dict):
        return None
    data = _lower_keys(body).get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0]
    return body


def parse_convert(lead_id: str, body: object) -> ConvertResult | None:
    """The single convert's answer for ``lead_id``: success or the lead's own error.

    Returns
    -------
    ConvertResult or None
        None when the body holds neither ``SUCCESS`` nor a code of
        :data:`LEAD_REASON_CODES` (a call-level error: token, permission, limits).
    """
    item = _item(body)
    code, message, details = envelope(item)
    code = str(code or "").upper()
    if code == "SUCCESS":
        got = _details(item)
        contact, account, deal = (_lookup_id(got.get(k)) for k in ("contacts", "accounts", "deals"))
        return ConvertResult(lead_id, True, contact, account, deal, code, message)
    if code in LEAD_REASON_CODES:
        field = _lower_keys(details).get("api_name")
        text = f"{message} ({field})" if isinstance(field, str) and field else message
        return ConvertResult(lead_id, False, code=code, message=text)
    return None


def interpret_convert(lead_id: str, r: requests.Response) -> ConvertResult:
    """Map an answer of the single convert to the lead's result, or raise the call's error.

    A lead's own error (:data:`LEAD_REASON_CODES`) is a result, whether it comes at the top
    level or in ``data[0]``, with a 2xx or a 4xx status (Zoho's page and OAS disagree).

    Raises
    ------
    ZcrmError
        A call-level error (token, scope, permission, 429, 5xx, not JSON): see
        :func:`action_of`.
    """
    subject = f"lead {lead_id}"
    try:
        found = parse_convert(lead_id, r.json())
    except ValueError:
        found = None
    if found is not None:
        return found
    body = read_json(subject, r, CONVERT_RECORD)
    raise ResponseFormatError(
        f"{subject}: convert answer has no SUCCESS or lead error ({str(body)[:60]})",
        http_status=r.status_code,
    )


# --- what the loop does with an error ------------------------------------------------------


def action_of(endpoint: Endpoint, exc: ZcrmError) -> str:
    """What the conversion loop does with an error of ``endpoint`` (one of :data:`ACTIONS`).

    Zoho's answers follow the endpoint's table of :mod:`~zcrm_notebook.api.error_codes`
    (``docs/zoho-api.md``, "Error table"), the details included (a POST's
    ``MANDATORY_NOT_FOUND`` about ``ids`` is ``end_run``, about a Deals key
    ``not_scheduled``). Beyond Zoho's codes: a 429 or a throttled token endpoint, and a
    request that never left (connection refused), are ``retry``; no answer after sending
    and a 2xx that is not the documented answer are ``outcome_unknown`` for the POST
    (``retry`` for reads); a 401 after the client's one refresh, and any other auth or
    configuration failure, ``end_org``; a 4xx that is not JSON ``end_run``.
    """
    if isinstance(exc, (RateLimitError, TokenThrottledError)):
        return "retry"
    post = endpoint is MASS_CONVERT_SCHEDULE
    status = exc.http_status
    if isinstance(exc, TransportError):
        return "outcome_unknown" if exc.sent and post else "retry"
    if isinstance(exc, InvalidTokenError) or not isinstance(exc, (ApiError, ResponseFormatError)):
        return "end_org"  # the client refreshed once already; token, scope, permission, config
    if isinstance(exc, ResponseFormatError) or (status is not None and 200 <= status < 300):
        if status is None or status >= 500 or status < 300:
            return "outcome_unknown" if post else "retry"
        return "end_run"
    return rule_for(exc.code, status or 0, endpoint).action_for(exc.details)
