"""Zoho's error codes of the status call and what this package does about each: one table.

Zoho CRM answers an error with ``{"code", "details", "message", "status": "error"}``;
the package classifies it by Zoho's ``code`` first and by the HTTP status second
(``docs/zoho-api.md``, "Error table", which mirrors :data:`STATUS_GET_ERRORS` row for row;
``tests/test_error_codes.py`` keeps the two equal). Each rule names the exception raised
and the *action* the poll takes, in the words of the doc:

======================  =====================================================================
action                  what the poll does
======================  =====================================================================
retry                   back off (jitter, ``Retry-After``) and send the same call again
refresh_and_retry_once  new access token, one retry; a second 401 ends the org
give_up_job             the job id is unknown or expired: confirmed, then no longer polled
end_org                 a configuration or permission problem: every job of the org ends now
end_run                 the package sent something it never should (a bug, or a proxy
                        rewriting the request): the org ends with a request for a bug report
======================  =====================================================================

Pure data and one look-up; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import (
    ApiError,
    BadRequestError,
    EndpointConfigError,
    InvalidTokenError,
    JobNotFoundError,
    NoPermissionError,
    RateLimitError,
    ScopeError,
    ZcrmError,
)

__all__ = ["ACTIONS", "ErrorRule", "STATUS_GET_ERRORS", "BY_HTTP_STATUS", "rule_for"]

#: The actions of the status call's rules (``tests/contracts/examples.toml`` vocabulary).
ACTIONS = ("retry", "refresh_and_retry_once", "give_up_job", "end_org", "end_run")


@dataclass(frozen=True)
class ErrorRule:
    """What an error answer means for the poll.

    Attributes
    ----------
    error : type of ZcrmError
        The exception :func:`zcrm_notebook.api.answers.interpret_answer` raises.
    action : str
        One of :data:`ACTIONS`.
    """

    error: type[ZcrmError]
    action: str


_REFRESH = ErrorRule(InvalidTokenError, "refresh_and_retry_once")
_END_ORG_URL = ErrorRule(EndpointConfigError, "end_org")
_END_RUN = ErrorRule(BadRequestError, "end_run")
_RETRY_429 = ErrorRule(RateLimitError, "retry")

#: Zoho's code -> rule, for the mass-convert status GET. The first eight rows are the codes
#: every CRM call can answer; sources per row in ``docs/zoho-api.md``.
STATUS_GET_ERRORS: dict[str, ErrorRule] = {
    "INVALID_TOKEN": _REFRESH,
    "AUTHENTICATION_FAILURE": _REFRESH,
    "OAUTH_SCOPE_MISMATCH": ErrorRule(ScopeError, "end_org"),
    "NO_PERMISSION": ErrorRule(NoPermissionError, "end_org"),
    "INVALID_URL_PATTERN": _END_ORG_URL,
    "INVALID_REQUEST_METHOD": _END_RUN,
    "TOO_MANY_REQUESTS": _RETRY_429,
    "INTERNAL_ERROR": ErrorRule(ApiError, "retry"),
    "INVALID_DATA": ErrorRule(JobNotFoundError, "give_up_job"),
    "REQUIRED_PARAM_MISSING": _END_RUN,
    "API_NOT_SUPPORTED": _END_ORG_URL,
}

#: HTTP status -> rule, for an answer whose code is unknown or absent (HTML, no envelope).
#: Any other 5xx retries; any other status gives the job up after its confirmations.
BY_HTTP_STATUS: dict[int, ErrorRule] = {
    401: _REFRESH,
    403: ErrorRule(NoPermissionError, "end_org"),
    404: _END_ORG_URL,
    429: _RETRY_429,
}
_SERVER_ERROR = ErrorRule(ApiError, "retry")
_OTHER = ErrorRule(ApiError, "give_up_job")


def rule_for(code: str | None, http_status: int) -> ErrorRule:
    """The rule of an error answer: by Zoho's ``code`` first, the HTTP status second.

    One exception to code first: a 429 is always ``retry`` (Zoho: the org's credits or
    concurrency, never a job failure). A 404 whose code is known follows its code
    (``REQUIRED_PARAM_MISSING`` answered as 404 stays ``end_run``).
    """
    if http_status == 429:
        return _RETRY_429
    if code in STATUS_GET_ERRORS:
        return STATUS_GET_ERRORS[code]
    if http_status in BY_HTTP_STATUS:
        return BY_HTTP_STATUS[http_status]
    return _SERVER_ERROR if http_status >= 500 else _OTHER
