"""Zoho's error codes of each CRM call and what this package does about each: one table each.

Zoho CRM answers an error with ``{"code", "details", "message", "status": "error"}``;
the package classifies it by Zoho's ``code`` first and by the HTTP status second
(``docs/zoho-api.md``, "Error table", which mirrors :data:`STATUS_GET_ERRORS`,
:data:`MASS_CONVERT_POST_ERRORS`, :data:`GET_RECORDS_ERRORS` and :data:`CONVERT_ERRORS`
row for row; ``tests/test_error_codes.py`` keeps them equal). Each rule names the
exception raised and the *action* taken, in the words of the doc. The poll's:

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

and the conversion loop's (the POST, reading leads back, the single convert):

======================  =====================================================================
not_scheduled           the POST was refused: its leads are ``not_scheduled`` with the code
outcome_unknown         the POST may have made a job: read the leads back before re-planning
lead_reason             the single convert refused this lead: the code is the lead's reason
======================  =====================================================================

A rule may depend on Zoho's ``details`` too (:attr:`ErrorRule.when`): a POST's
``MANDATORY_NOT_FOUND`` about ``ids`` is ``end_run``, about a ``Deals`` key
``not_scheduled``. Pure data and one look-up; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from .endpoints import Endpoint

__all__ = [
    "ACTIONS",
    "ErrorRule",
    "STATUS_GET_ERRORS",
    "MASS_CONVERT_POST_ERRORS",
    "GET_RECORDS_ERRORS",
    "CONVERT_ERRORS",
    "TABLES",
    "BY_HTTP_STATUS",
    "rule_for",
]

#: The actions of the rules (``tests/contracts/examples.toml`` vocabulary).
ACTIONS = (
    "retry",
    "refresh_and_retry_once",
    "give_up_job",
    "end_org",
    "end_run",
    "not_scheduled",
    "outcome_unknown",
    "lead_reason",
)


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
    when: tuple[str, str | None, str] | None = None

    def action_for(self, details: dict) -> str:
        """The action for an answer with these ``details``: :attr:`when` is ``(key, value,
        action)``, the action taken when ``details[key]`` is ``value`` (None: present)."""
        if self.when is not None:
            key, value, action = self.when
            if key in details and (value is None or str(details[key]) == value):
                return action
        return self.action


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

#: The rows every CRM call shares (``docs/zoho-api.md``, "Every CRM call").
_EVERY_CALL = {code: STATUS_GET_ERRORS[code] for code in list(STATUS_GET_ERRORS)[:8]}
_NOT_SCHEDULED = ErrorRule(ApiError, "not_scheduled")
_LEAD_REASON = ErrorRule(ApiError, "lead_reason")
#: Zoho's code -> rule, for the mass-convert POST (a 5xx may have made the job).
MASS_CONVERT_POST_ERRORS: dict[str, ErrorRule] = {
    **_EVERY_CALL,
    "INTERNAL_ERROR": ErrorRule(ApiError, "outcome_unknown"),
    "MANDATORY_NOT_FOUND": ErrorRule(ApiError, "not_scheduled", ("api_name", "ids", "end_run")),
    "INVALID_DATA": ErrorRule(ApiError, "not_scheduled", ("expected_data_type", None, "end_run")),
    "LIMIT_EXCEEDED": _END_RUN,
    "AMBIGUITY_DURING_PROCESSING": _NOT_SCHEDULED,
    "EXPECTED_FIELD_MISSING": _NOT_SCHEDULED,
    "API_NOT_SUPPORTED": _END_ORG_URL,
}
#: Zoho's code -> rule, for Get Records on Leads (every 400 is a request the package never
#: sends: ids and fields only, no paging).
GET_RECORDS_ERRORS: dict[str, ErrorRule] = {
    **_EVERY_CALL,
    **dict.fromkeys(
        (
            "REQUIRED_PARAM_MISSING",
            "LIMIT_EXCEEDED",
            "INVALID_MODULE",
            "INVALID_DATA",
            "AMBIGUITY_DURING_PROCESSING",
            "TOKEN_BOUND_DATA_MISMATCH",
            "EXPIRED_VALUE",
            "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
            "PAGINATION_LIMIT_EXCEEDED",
            "NOT_SUPPORTED",
        ),
        _END_RUN,
    ),
}
#: Zoho's code -> rule, for the single-lead convert (a lead's own error is its reason).
CONVERT_ERRORS: dict[str, ErrorRule] = {
    **_EVERY_CALL,
    **dict.fromkeys(
        (
            "ID_ALREADY_CONVERTED",
            "MANDATORY_NOT_FOUND",
            "MAPPING_MISMATCH",
            "INVALID_DATA",
            "DUPLICATE_DATA",
            "RECORD_LOCKED",
            "NOT_APPROVED",
        ),
        _LEAD_REASON,
    ),
    "AUTHORIZATION_FAILED": ErrorRule(NoPermissionError, "end_org"),
}
#: Endpoint name -> (its table, the rule of an unknown code that is not a 5xx).
TABLES: dict[str, tuple[dict[str, ErrorRule], ErrorRule]] = {
    "mass_convert_status": (STATUS_GET_ERRORS, _OTHER),
    "mass_convert_schedule": (MASS_CONVERT_POST_ERRORS, _NOT_SCHEDULED),
    "get_records": (GET_RECORDS_ERRORS, _END_RUN),
    "convert_record": (CONVERT_ERRORS, _LEAD_REASON),
}


def rule_for(code: str | None, http_status: int, endpoint: Endpoint | None = None) -> ErrorRule:
    """The rule of an error answer of ``endpoint`` (default the status call): by Zoho's
    ``code`` first, the HTTP status second.

    One exception to code first: a 429 is always ``retry`` (Zoho: the org's credits or
    concurrency, never a job failure, and no job was made). A 404 whose code is known
    follows its code (``REQUIRED_PARAM_MISSING`` answered as 404 stays ``end_run``). An
    unknown 5xx of the POST is ``outcome_unknown`` (the job may exist).
    """
    table, other = TABLES[endpoint.name if endpoint is not None else "mass_convert_status"]
    if http_status == 429:
        return _RETRY_429
    if code in table:
        return table[code]
    if http_status in BY_HTTP_STATUS:
        return BY_HTTP_STATUS[http_status]
    if http_status >= 500:
        return table["INTERNAL_ERROR"]
    return other
