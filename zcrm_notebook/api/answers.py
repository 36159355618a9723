"""Zoho CRM answers -> values or exceptions: the error envelope and the error map (pure).

Zoho answers errors with an envelope ``{"code", "details", "message", "status":
"error"}`` (``docs/zoho-api.md``); proxies and outages answer HTML or nothing.
:func:`read_json` gives the decoded body of a successful answer of any CRM endpoint or
raises one exception of :mod:`zcrm_notebook.errors`, by Zoho's code first and the HTTP
status second (the endpoint descriptor names the scope and permission in the message);
:func:`interpret_answer` maps every answer of the mass-convert status call to a
:class:`~zcrm_notebook.api.status.JobStatus`. The headers Zoho may send
(``Retry-After``, ``X-API-CREDITS-REMAINING``) are read here too. No I/O: these functions
take a ``requests.Response`` that has arrived.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests

from ..errors import (
    ApiError,
    InvalidTokenError,
    JobNotFoundError,
    NoPermissionError,
    RateLimitError,
    ResponseFormatError,
    ScopeError,
    ZcrmError,
)
from .endpoints import MASS_CONVERT_STATUS, Endpoint
from .status import JobStatus, parse_status

__all__ = [
    "interpret_answer",
    "read_json",
    "envelope",
    "envelope_error",
    "http_error",
    "retry_after_s",
    "credits_remaining",
]


def envelope(body: object) -> tuple[str | None, str, dict]:
    """``(code, message, details)`` of Zoho's error envelope (keys in any case), or
    ``(None, "", {})`` for a body that is not one."""
    if isinstance(body, dict):
        lower = {str(k).lower(): v for k, v in body.items()}
        code = lower.get("code")
        details = lower.get("details")
        details = details if isinstance(details, dict) else {}
        return (str(code) if code else None), str(lower.get("message") or ""), details
    return None, "", {}


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` header in seconds (never negative); None when absent or not a
    number of seconds."""
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def interpret_answer(job_id: str, r: requests.Response) -> JobStatus:
    """Map one HTTP answer of the status call to a :class:`JobStatus` or raise the matching
    error.

    ========================================  ==========================================
    answer                                    result
    ========================================  ==========================================
    2xx JSON ``{"data": [...]}``              ``JobStatus`` (any status word)
    204 / empty 2xx body                      ``JobNotFoundError`` code ``NO_CONTENT``
    400 ``INVALID_DATA``, 404                 ``JobNotFoundError`` (unknown / expired id)
    401 ``OAUTH_SCOPE_MISMATCH``              ``ScopeError`` (no refresh: names the scope)
    401 any other code, or not JSON           ``InvalidTokenError`` (client refreshes once)
    403, or ``NO_PERMISSION``                 ``NoPermissionError``
    429                                       ``RateLimitError`` (``retry_after_s``)
    other Zoho envelope                       ``ApiError`` with Zoho's code
    non-JSON / truncated / no ``data``        ``ResponseFormatError`` (5xx: ``ApiError``)
    ========================================  ==========================================

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
        What was asked, for messages (``job 123``, ``3 leads``).
    r : requests.Response
        The answer.
    endpoint : Endpoint, default MASS_CONVERT_STATUS
        The endpoint called: its scope and permission are named in the messages, and only
        the status call maps ``INVALID_DATA`` / 404 to ``JobNotFoundError``.

    Returns
    -------
    object or None
        The decoded JSON of a 2xx answer that is not an error envelope; ``None`` for a 204
        or an empty 2xx body.

    Raises
    ------
    ZcrmError
        As in :func:`interpret_answer`'s table (``ApiError`` with Zoho's code where the
        table says ``JobNotFoundError``, for other endpoints); a 2xx body that is not JSON
        is a ``ResponseFormatError`` with its HTTP status.
    """
    status, host = r.status_code, requests.utils.urlparse(r.url).hostname
    if 200 <= status < 300 and (status == 204 or not r.content.strip()):
        return None
    try:
        body = r.json()
    except ValueError:
        kind = r.headers.get("Content-Type", "unknown type").split(";")[0]
        msg = f"{subject}: HTTP {status} from {host} with a non-JSON body ({kind})"
        if status >= 500 or status == 429:
            raise http_error(status, msg, retry_after_s(r.headers)) from None
        if status == 404:
            raise _not_found(endpoint, msg, "NOT_FOUND", 404, {}) from None
        if status == 401:
            raise InvalidTokenError(msg, code="INVALID_TOKEN", http_status=401) from None
        raise ResponseFormatError(msg, http_status=status) from None
    code, message, details = envelope(body)
    is_error = (isinstance(body, dict) and str(body.get("status", "")).lower() == "error") or (
        status >= 400
    )
    if 200 <= status < 300 and not is_error:
        return body
    raise envelope_error(subject, status, code, message, details, r.headers, endpoint=endpoint)


def _not_found(endpoint: Endpoint, msg: str, code: str, status: int, details: dict) -> ApiError:
    """An unknown job id (the status call), or Zoho's code for any other endpoint."""
    kind = JobNotFoundError if endpoint is MASS_CONVERT_STATUS else ApiError
    return kind(msg, code=code, http_status=status, details=details)


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
    """The error of a Zoho error envelope (or an error HTTP status) of ``endpoint``;
    ``subject`` says what was asked (``job 123``)."""
    text = f"{subject}: HTTP {status} {code or ''}: {message}".rstrip(": ")
    if status == 429 or code == "TOO_MANY_REQUESTS":
        return RateLimitError(
            text,
            code=code or "TOO_MANY_REQUESTS",
            http_status=status,
            retry_after_s=retry_after_s(headers),
        )
    if code == "OAUTH_SCOPE_MISMATCH":
        scope = endpoint.scopes[0]
        return ScopeError(
            f"{text}; the grant lacks scope {scope} (a refresh cannot add "
            "it): create a new grant token that includes it",
            code=code,
            http_status=status,
        )
    if code in ("INVALID_TOKEN", "AUTHENTICATION_FAILURE") or (
        status == 401 and code != "NO_PERMISSION"
    ):
        return InvalidTokenError(text, code=code or "INVALID_TOKEN", http_status=status)
    if code == "NO_PERMISSION" or status == 403:
        return NoPermissionError(
            f"{text}; the user's CRM profile lacks {endpoint.permission}",
            code=code or "NO_PERMISSION",
            http_status=status,
        )
    if code == "INVALID_DATA" or status == 404:
        return _not_found(endpoint, text, code or "NOT_FOUND", status, details)
    return ApiError(text, code=code or f"HTTP_{status}", http_status=status, details=details)


def credits_remaining(headers: Mapping[str, str]) -> int | None:
    """The ``X-API-CREDITS-REMAINING`` header as an int; None when absent or not a number."""
    value = headers.get("X-API-CREDITS-REMAINING")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
