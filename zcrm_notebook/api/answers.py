"""Zoho CRM answers -> values or exceptions: the error envelope and the error map (pure).

Zoho answers errors with an envelope ``{"code", "details", "message", "status":
"error"}`` (``docs/zoho-api.md``); proxies and outages answer HTML or nothing.
:func:`read_json` gives the decoded body of a successful answer of any CRM endpoint or
raises one exception of :mod:`zcrm_notebook.errors`, by Zoho's code first and the HTTP
status second (the endpoint's table of :mod:`zcrm_notebook.api.error_codes`);
:func:`interpret_answer` maps every answer of the mass-convert status call to a
:class:`~zcrm_notebook.api.status.JobStatus`. The
headers Zoho may send (``Retry-After``, ``X-API-CREDITS-REMAINING``, ``Date``) are read
here too.
Every answer's JSON is decoded by :func:`decode_json` (the transport has capped the body
at 1 MiB; too deep a document is a format error), and server text (``message``,
``details``, ``code``) enters an exception only through
:func:`zcrm_notebook.redact.clean_text`: secrets masked, one line, cut.
No I/O: these functions take a ``requests.Response`` that has arrived.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from ..errors import (
    ApiError,
    EndpointConfigError,
    InvalidTokenError,
    JobNotFoundError,
    NoPermissionError,
    RateLimitError,
    ResponseFormatError,
    ScopeError,
    ZcrmError,
)
from ..redact import clean_text
from .endpoints import MASS_CONVERT_STATUS, Endpoint
from .error_codes import ErrorRule, rule_for
from .status import JobStatus, parse_status

__all__ = [
    "interpret_answer",
    "read_json",
    "decode_json",
    "envelope",
    "envelope_error",
    "http_error",
    "retry_after_s",
    "credits_remaining",
    "answer_date",
    "plausible_time",
    "EARLIEST_TIME",
    "LATEST_TIME",
]


CODE_LIMIT = 80  # characters of a server's error code kept
_MAX_DETAILS = 20  # entries of a server's ``details`` kept


def decode_json(r: requests.Response) -> object:
    """The decoded JSON body of an answer (any charset JSON allows; the header's ignored).

    Raises
    ------
    ResponseFormatError
        The body is not JSON (or nested too deep to decode); nothing of it is shown.
    """
    try:
        return json.loads(r.content)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ResponseFormatError(
            f"answer (HTTP {r.status_code}) is not JSON ({type(exc).__name__})",
            http_status=r.status_code,
        ) from None


def _details(details: object) -> dict:
    """A server's ``details`` object, its text masked and cut (numbers kept)."""
    if not isinstance(details, dict):
        return {}
    out: dict = {}
    for key, value in list(details.items())[:_MAX_DETAILS]:
        keep = value is None or isinstance(value, (bool, int, float))
        out[clean_text(key, CODE_LIMIT)] = value if keep else clean_text(value)
    return out


def envelope(body: object) -> tuple[str | None, str, dict]:
    """``(code, message, details)`` of Zoho's error envelope (keys in any case), or
    ``(None, "", {})`` for a body that is not one. The server's text is cleaned
    (:func:`~zcrm_notebook.redact.clean_text`)."""
    if isinstance(body, dict):
        lower = {str(k).lower(): v for k, v in body.items()}
        code, message = lower.get("code"), lower.get("message")
        return (
            clean_text(code, CODE_LIMIT) if code else None,
            clean_text(message) if message else "",
            _details(lower.get("details")),
        )
    return None, "", {}


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` header in seconds (never negative); None when absent or not a
    number of seconds."""
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def interpret_answer(job_id: str, r: Any) -> JobStatus:
    """Map one HTTP answer to a :class:`JobStatus` or raise the matching error.

    Error answers are classified by Zoho's code first, the HTTP status second, with the
    table :data:`~zcrm_notebook.api.error_codes.STATUS_GET_ERRORS`
    (``docs/zoho-api.md``, "Error table"):

    ======================================================  ===================================
    answer                                                  result
    ======================================================  ===================================
    2xx JSON ``{"data": [...]}``                            ``JobStatus`` (any status word)
    204 / empty 2xx body                                    ``JobNotFoundError`` ``NO_CONTENT``
    ``INVALID_DATA``                                        ``JobNotFoundError`` (unknown id)
    ``INVALID_URL_PATTERN``, ``API_NOT_SUPPORTED``          ``EndpointConfigError``
    any other 404 (no code, HTML)                           ``EndpointConfigError``
    ``REQUIRED_PARAM_MISSING``, ``INVALID_REQUEST_METHOD``  ``BadRequestError``
    ``OAUTH_SCOPE_MISMATCH``                                ``ScopeError`` (names the scope)
    ``INVALID_TOKEN``, ``AUTHENTICATION_FAILURE``, 401      ``InvalidTokenError``
    ``NO_PERMISSION``, other 403                            ``NoPermissionError``
    429 (any code), ``TOO_MANY_REQUESTS``                   ``RateLimitError``
    other Zoho envelope                                     ``ApiError`` (Zoho's code)
    non-JSON / truncated / no ``data``                      ``ResponseFormatError``
    ======================================================  ===================================

    ``EndpointConfigError`` and ``BadRequestError`` end the org; a non-JSON 5xx is an
    ``ApiError`` ``HTTP_5xx``.

    Raises
    ------
    ZcrmError
        One of the subclasses above; never a token in the message.
    """
    body = read_json(f"job {job_id}", r)
    if body is None:
        raise JobNotFoundError(
            f"job {job_id}: HTTP {r.status_code} with no content (unknown or expired job id)",
            code="NO_CONTENT",
            http_status=r.status_code,
        )
    return parse_status(job_id, body)


def read_json(
    subject: str, r: requests.Response, endpoint: Endpoint = MASS_CONVERT_STATUS
) -> object | None:
    """The decoded body of a successful answer of ``endpoint``, or raise its error.

    Parameters
    ----------
    subject : str
        What was asked, for messages (``job 123``, ``reading 40 leads``).
    r : requests.Response
        The answer.
    endpoint : Endpoint, default MASS_CONVERT_STATUS
        The endpoint called: its table of :mod:`~zcrm_notebook.api.error_codes` classifies
        an error, its scope and permission are named in the messages.

    Returns
    -------
    object or None
        The decoded JSON of a 2xx answer that is not an error envelope; ``None`` for a 204
        or an empty 2xx body.

    Raises
    ------
    ZcrmError
        As in :func:`interpret_answer`'s table, by the endpoint's rules; a body that is not
        JSON is a ``ResponseFormatError`` with its HTTP status (401, 404, 429 and 5xx: the
        error of that status).
    """
    status = r.status_code
    if 200 <= status < 300 and (status == 204 or not r.content.strip()):
        return None
    try:
        body = decode_json(r)
    except ResponseFormatError:
        kind = clean_text(r.headers.get("Content-Type", "unknown type").split(";")[0], 60)
        host = requests.utils.urlparse(r.url).hostname
        msg = f"{subject}: HTTP {status} from {host} with a non-JSON body ({kind})"
        rule = rule_for(None, status, endpoint)
        if rule.error in (InvalidTokenError, EndpointConfigError) or rule.action == "retry":
            raise _error(rule, msg, None, status, {}, r.headers, endpoint) from None
        raise ResponseFormatError(msg, http_status=status) from None
    code, message, details = envelope(body)
    word = body.get("status") if isinstance(body, dict) else None
    is_error = (isinstance(word, str) and word.lower() == "error") or status >= 400
    if 200 <= status < 300 and not is_error:
        return body
    raise envelope_error(subject, status, code, message, details, r.headers, endpoint=endpoint)


def http_error(status: int, msg: str, retry_after: float | None) -> ZcrmError:
    """The error of a 429 or 5xx answer whose body is not Zoho's envelope."""
    if status == 429:
        return RateLimitError(msg, http_status=429, retry_after_s=retry_after)
    return ApiError(msg, code=f"HTTP_{status}", http_status=status)


def envelope_error(
    subject: str,
    status: int,
    code: str | None,
    message: str,
    details: dict,
    headers: Mapping[str, str],
    *,
    endpoint: Endpoint = MASS_CONVERT_STATUS,
) -> ZcrmError:
    """The error of a Zoho error envelope (or an error HTTP status) of ``endpoint``: the
    exception of :func:`~zcrm_notebook.api.error_codes.rule_for` ``(code, status,
    endpoint)``; ``subject`` says what was asked (``job 123``)."""
    text = f"{subject}: HTTP {status} {code or ''}: {message}".rstrip(": ")
    return _error(rule_for(code, status, endpoint), text, code, status, details, headers, endpoint)


def _error(
    rule: ErrorRule,
    text: str,
    code: str | None,
    status: int,
    details: dict,
    headers: Mapping[str, str],
    endpoint: Endpoint = MASS_CONVERT_STATUS,
) -> ZcrmError:
    """The exception of ``rule``, saying what to do about it when that is known.

    Without Zoho's code, the error's own code stands in for 401/403/429
    (``INVALID_TOKEN``, ``NO_PERMISSION``, ``TOO_MANY_REQUESTS``), ``HTTP_{status}``
    otherwise (``HTTP_404``, ``HTTP_502``).
    """
    cls = rule.error
    if cls in (InvalidTokenError, NoPermissionError, RateLimitError):
        code = code or cls.default_code
    code = code or f"HTTP_{status}"
    if cls is RateLimitError:
        return RateLimitError(
            text, code=code, http_status=status, retry_after_s=retry_after_s(headers)
        )
    if cls is ScopeError:
        scope = endpoint.scopes[0]
        text = (
            f"{text}; the grant lacks scope {scope} (a refresh cannot add it): create a new "
            "grant token that includes it"
        )
    if cls is NoPermissionError:
        text = f"{text}; the user's CRM profile lacks {endpoint.permission}"
    if issubclass(cls, ApiError):
        return cls(text, code=code, http_status=status, details=details)
    return cls(text, code=code, http_status=status)


def credits_remaining(headers: Mapping[str, str]) -> int | None:
    """The ``X-API-CREDITS-REMAINING`` header as an int; None when absent or not a whole
    number of at most 12 ASCII digits."""
    value = str(headers.get("X-API-CREDITS-REMAINING") or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else None


#: 2000-01-01T00:00:00Z and 2200-01-01T00:00:00Z in seconds since the Unix epoch: the window
#: of a plausible Zoho time. Zoho CRM dates from 2005, and pandas' datetime64[ns] ends in
#: 2262: a time outside is a hostile or broken value, and inside it every time formats and
#: fits a DataFrame column.
EARLIEST_TIME = 946_684_800.0
LATEST_TIME = 7_258_118_400.0


def plausible_time(value: object) -> float | None:
    """``value`` as float seconds since the Unix epoch when it is a real number within
    [:data:`EARLIEST_TIME`, :data:`LATEST_TIME`); None otherwise (text, bytes, NaN,
    1e308...): a time that cannot be trusted reads as unknown."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if EARLIEST_TIME <= value < LATEST_TIME else None


def answer_date(headers: Mapping[str, str]) -> float | None:
    """The ``Date`` header: when the server made the answer, on the server's clock, in
    seconds since the Unix epoch (whole seconds: an HTTP-date has no fraction). RFC 9110,
    section 6.6.1 (https://www.rfc-editor.org/rfc/rfc9110#section-6.6.1).

    Returns
    -------
    float or None
        None when absent or not a date (at most 64 characters are read; a date without a
        zone is taken as UTC, as the RFC's format is): duplicated headers (joined with
        ``,``), an unknown zone, or a time outside :func:`plausible_time`'s window.
    """
    value = str(headers.get("Date") or "").strip()
    if not value or len(value) > 64 or "," in value.partition(" ")[2]:
        return None  # a comma past the weekday's: Date headers joined (requests joins them)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        if value.split()[-1].isalpha():  # a zone parsedate does not know (``XYZ``)
            return None
        when = when.replace(tzinfo=timezone.utc)  # asctime's form, or ``-0000``
    try:
        return plausible_time(when.timestamp())
    except (OverflowError, ValueError, OSError):
        return None
