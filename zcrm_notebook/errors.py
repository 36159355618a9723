"""The exception tree of zcrm_notebook.

Every error this package raises on purpose derives from :class:`ZcrmError`, so one
``except ZcrmError`` catches them all. No message ever contains an access token, refresh
token, grant token or client secret: messages name hosts, orgs, job ids and Zoho codes,
and :class:`ZcrmError` masks its message, code and details with
:func:`zcrm_notebook.redact.redact` (whoever builds it, whatever a server echoed).

::

    ZcrmError
    ├── ConfigError (ValueError)          bad configuration or input, caught before any call
    │   ├── DataCenterError               unknown data-center code / host
    │   ├── JobInputError                 bad job ids (lists the offending rows)
    │   │   └── LeadInputError            bad leads to convert (lists the offending rows)
    │   ├── UnsafeEndpointError           a token would go to a host outside the DC table
    │   └── TokenStoreError               token store unreadable, corrupt or not writable
    ├── AuthError                         the org could not be authenticated
    │   ├── TokenEndpointError            Zoho Accounts refused a token request (.code, .hint)
    │   │   └── TokenThrottledError       "Access Denied": too many token requests
    │   ├── InvalidTokenError             401 INVALID_TOKEN / AUTHENTICATION_FAILURE after a refresh
    │   ├── ScopeError                    401 OAUTH_SCOPE_MISMATCH (a refresh does not help)
    │   └── NoPermissionError             403 NO_PERMISSION (CRM profile lacks mass convert)
    ├── ApiError                          Zoho error envelope {"code","details","message","status"}
    │   ├── JobNotFoundError              INVALID_DATA / 204: job id unknown or expired
    │   ├── RateLimitError                429 TOO_MANY_REQUESTS (after retries)
    │   ├── EndpointConfigError           404 INVALID_URL_PATTERN, API_NOT_SUPPORTED (ends org)
    │   └── BadRequestError               REQUIRED_PARAM_MISSING, INVALID_REQUEST_METHOD (ends org)
    ├── TransportError                    connection error, timeout (no HTTP answer)
    │   └── AccountsUnreachableError      no answer from the accounts server (token request)
    └── ResponseFormatError               an answer that is not the documented format

    UserWarning
    ├── DataQualityWarning                counts backwards, status regressed, sums off, stalled
    └── UnverifiedFactWarning             a Zoho fact no Zoho source confirms is used (UK DC, ...)

Each API-side error carries ``code`` (Zoho's code, or a transport error name) and
``http_status`` (or ``None``); the poller turns them into ``error`` snapshot rows with
those values.
"""

from __future__ import annotations

import json

from .redact import redact

__all__ = [
    "ZcrmError",
    "ConfigError",
    "DataCenterError",
    "JobInputError",
    "LeadInputError",
    "UnsafeEndpointError",
    "TokenStoreError",
    "AuthError",
    "TokenEndpointError",
    "TokenThrottledError",
    "InvalidTokenError",
    "ScopeError",
    "NoPermissionError",
    "ApiError",
    "JobNotFoundError",
    "RateLimitError",
    "EndpointConfigError",
    "BadRequestError",
    "TransportError",
    "AccountsUnreachableError",
    "ResponseFormatError",
    "DataQualityWarning",
    "UnverifiedFactWarning",
]


class ZcrmError(Exception):
    """Root of every error raised by zcrm_notebook.

    Parameters
    ----------
    message : str
        Human text. Registered secrets and token-shaped values in it are masked.
    code : str, optional
        Zoho's error code (``INVALID_DATA``, ``invalid_client``...) or a transport error
        name (``ReadTimeout``...).
    http_status : int, optional
        HTTP status of the answer, ``None`` when there was no answer.
    """

    default_code = "ERROR"

    def __init__(
        self, message: str, *, code: str | None = None, http_status: int | None = None
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.code = redact(code) if code else self.default_code
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message


class ConfigError(ZcrmError, ValueError):
    """Bad configuration or input, detected before any call to Zoho."""

    default_code = "CONFIG_ERROR"


class DataCenterError(ConfigError):
    """Unknown data-center code, accounts server or API domain."""

    default_code = "UNKNOWN_DC"


class JobInputError(ConfigError):
    """Job ids that cannot be polled (non-digit, float, empty, unknown org...).

    Attributes
    ----------
    rows : list of tuple
        ``(number, value, reason)`` for each offending row: its line in a CSV file
        (header = line 1), else its position from 1.
    """

    default_code = "BAD_JOB_INPUT"

    def __init__(self, message: str, rows: list[tuple[int, object, str]] | None = None):
        super().__init__(message)
        self.rows = list(rows or [])


class LeadInputError(JobInputError):
    """Leads that cannot be converted as given: bad lead ids, unknown orgs, bad per-lead
    options, leads in an open job of the ledger (``rows`` as for :class:`JobInputError`)."""

    default_code = "BAD_LEAD_INPUT"


class UnsafeEndpointError(ConfigError):
    """A token would be sent somewhere other than a Zoho host over HTTPS or loopback."""

    default_code = "UNSAFE_ENDPOINT"


class TokenStoreError(ConfigError):
    """The token store file is unreadable, corrupt or cannot be written."""

    default_code = "TOKEN_STORE_ERROR"


class AuthError(ZcrmError):
    """An org could not be authenticated; its jobs become ``error`` rows."""

    default_code = "AUTH_ERROR"


class TokenEndpointError(AuthError):
    """Zoho Accounts refused a token request (often with HTTP 200 and an ``error`` key).

    Attributes
    ----------
    code : str
        Zoho's ``error`` value (``invalid_client``, ``invalid_code``...).
    hint : str
        What to do about it.
    accounts_server : str
        The accounts host that was called.
    """

    default_code = "TOKEN_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        hint: str = "",
        accounts_server: str = "",
        http_status: int | None = None,
    ) -> None:
        full = f"{message} Hint: {hint}" if hint else message
        super().__init__(full, code=code, http_status=http_status)
        self.hint = hint
        self.accounts_server = accounts_server


class TokenThrottledError(TokenEndpointError):
    """Zoho throttled token creation (``Access Denied``): back off, do not retry at once."""

    default_code = "Access Denied"


class InvalidTokenError(AuthError):
    """401 ``INVALID_TOKEN`` / ``AUTHENTICATION_FAILURE`` even after one refresh."""

    default_code = "INVALID_TOKEN"


class ScopeError(AuthError):
    """401 ``OAUTH_SCOPE_MISMATCH``: the grant lacks the scope; a refresh cannot fix it."""

    default_code = "OAUTH_SCOPE_MISMATCH"


class NoPermissionError(AuthError):
    """403 ``NO_PERMISSION``: the user's CRM profile lacks the mass-convert permission."""

    default_code = "NO_PERMISSION"


class ApiError(ZcrmError):
    """Zoho answered with its error envelope.

    Attributes
    ----------
    details : dict
        Zoho's ``details`` object (e.g. ``{"api_name": "job_id"}``).
    """

    default_code = "API_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        details: dict | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.details = {redact(str(k)): _masked(v) for k, v in dict(details or {}).items()}


def _masked(value: object) -> object:
    """A ``details`` value with secrets masked: text masked, numbers kept, anything nested
    as its masked JSON text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    try:
        return redact(json.dumps(value, default=str))
    except (ValueError, TypeError, RecursionError):
        return "<not shown>"


class JobNotFoundError(ApiError):
    """The job id is unknown to Zoho or expired (400 ``INVALID_DATA``, or an empty 204)."""

    default_code = "INVALID_DATA"


class RateLimitError(ApiError):
    """429 ``TOO_MANY_REQUESTS``: the org's credits or concurrency are exhausted.

    Attributes
    ----------
    retry_after_s : float or None
        The ``Retry-After`` header in seconds, when Zoho sent one.
    """

    default_code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


class EndpointConfigError(ApiError):
    """Zoho does not serve the URL or the call for this org: its configuration is wrong.

    404 ``INVALID_URL_PATTERN`` (wrong ``api_domain``, ``api_version`` or path; any 404)
    and ``API_NOT_SUPPORTED`` (the call does not exist in this API version). It ends the
    org at once: every job of the org would get the same answer (``docs/zoho-api.md``,
    "Error table").
    """

    default_code = "INVALID_URL_PATTERN"


class BadRequestError(ApiError):
    """Zoho says the request itself is malformed: a bug of this package, or a proxy
    rewriting the request.

    ``REQUIRED_PARAM_MISSING`` (the package always sends ``job_id``) and
    ``INVALID_REQUEST_METHOD``. It ends the org and asks for a bug report
    (``docs/zoho-api.md``, "Error table", action ``end_run``).
    """

    default_code = "REQUIRED_PARAM_MISSING"


class TransportError(ZcrmError):
    """No HTTP answer: connection refused/reset, DNS failure or timeout.

    Attributes
    ----------
    sent : bool
        False only when the request provably never reached the server (the connection
        was refused or never made); True when it may have (a read timeout, a reset after
        sending): a POST may then have done its work.
    """

    default_code = "TRANSPORT_ERROR"

    def __init__(self, message: str, *, sent: bool = True, **kw) -> None:
        super().__init__(message, **kw)
        self.sent = sent


class AccountsUnreachableError(TransportError):
    """A token request got no answer from the org's accounts server (refused, reset, timed
    out): no CRM call was made, so no API credit was spent. The poller holds the whole org
    (one token attempt per backoff) rather than let every job ask again."""

    default_code = "TRANSPORT_ERROR"


class ResponseFormatError(ZcrmError):
    """An answer that is not Zoho's documented format (HTML, truncated JSON, no ``data``)."""

    default_code = "RESPONSE_FORMAT"


class DataQualityWarning(UserWarning):
    """Zoho's counts or statuses look wrong (backwards, regressed, not adding up, stalled).

    The data is kept exactly as received; the warning and the summary's flag columns say
    what looked wrong.
    """


class UnverifiedFactWarning(UserWarning):
    """A Zoho fact that no Zoho source confirms is being used (once per fact and process).

    The UK data center's hosts, the mass-convert status call on API version v4
    (``docs/zoho-api.md``, "Unverified facts"). The call is made anyway; if Zoho answers
    ``INVALID_URL_PATTERN`` the org ends with a message naming its ``api_domain`` and
    ``api_version``.
    """
