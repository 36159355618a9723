"""The only module that sends HTTP requests to the Zoho CRM API.

``GET {api_domain}/crm/{v}/Leads/actions/mass_convert?job_id={job_id}`` with
``Authorization: Zoho-oauthtoken <token>`` (Zoho CRM API "Get Status of Mass Convert Lead",
https://www.zoho.com/crm/developer/docs/api/v8/get-mass-convert-status.html). Every answer
is mapped, in :func:`interpret_answer`, to a :class:`~zcrm_notebook.status.JobStatus` or to
one exception of :mod:`zcrm_notebook.errors`. One attempt per call, except the single
refresh-and-retry after a 401 ``INVALID_TOKEN`` (``shared/ZOHO_API.md`` §4); retrying
transient faults is the poller's job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from .api import datacenters as dcmod
from .api.status import JobStatus, parse_status
from .auth.tokens import (
    MASS_CONVERT_READ_SCOPE,
    AccessToken,
    OrgCredentials,
    TokenCache,
    get_token_cache,
)
from .errors import (
    ApiError,
    AuthError,
    InvalidTokenError,
    JobNotFoundError,
    NoPermissionError,
    RateLimitError,
    ResponseFormatError,
    ScopeError,
    TransportError,
)

__all__ = ["ZohoClient", "StatusAnswer", "interpret_answer", "STATUS_PATH"]

log = logging.getLogger(__name__)

STATUS_PATH = "/crm/{version}/Leads/actions/mass_convert"
USER_AGENT = "zcrm-notebook"


@dataclass(frozen=True)
class StatusAnswer:
    """A successful status call.

    Attributes
    ----------
    status : JobStatus
    http_status : int
    latency_s : float
        Round trip of the successful attempt, seconds.
    credits_remaining : int or None
        ``X-API-CREDITS-REMAINING`` when Zoho sent it.
    """

    status: JobStatus
    http_status: int
    latency_s: float
    credits_remaining: int | None = None


def _envelope(body: object) -> tuple[str | None, str, dict]:
    if isinstance(body, dict):
        lower = {str(k).lower(): v for k, v in body.items()}
        code = lower.get("code")
        details = lower.get("details") if isinstance(lower.get("details"), dict) else {}
        return (str(code) if code else None), str(lower.get("message") or ""), details
    return None, "", {}


def _retry_after_s(headers) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def interpret_answer(job_id: str, r: requests.Response) -> JobStatus:
    """Map one HTTP answer to a :class:`JobStatus` or raise the matching error.

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
    status, host = r.status_code, requests.utils.urlparse(r.url).hostname
    if 200 <= status < 300 and (status == 204 or not r.content.strip()):
        raise JobNotFoundError(
            f"job {job_id}: HTTP {status} with no content (unknown or expired job id)",
            code="NO_CONTENT",
            http_status=status,
        )
    try:
        body = r.json()
    except ValueError:
        kind = r.headers.get("Content-Type", "unknown type").split(";")[0]
        msg = f"job {job_id}: HTTP {status} from {host} with a non-JSON body ({kind})"
        if status >= 500 or status == 429:
            raise _http_error(status, msg, _retry_after_s(r.headers)) from None
        if status == 404:
            raise JobNotFoundError(msg, code="NOT_FOUND", http_status=404) from None
        if status == 401:
            raise InvalidTokenError(msg, code="INVALID_TOKEN", http_status=401) from None
        raise ResponseFormatError(msg, http_status=status) from None
    code, message, details = _envelope(body)
    is_error = (isinstance(body, dict) and str(body.get("status", "")).lower() == "error") or (
        status >= 400
    )
    if 200 <= status < 300 and not is_error:
        return parse_status(job_id, body)
    return _raise_envelope(job_id, status, code, message, details, r.headers)


def _http_error(status: int, msg: str, retry_after: float | None) -> Exception:
    if status == 429:
        return RateLimitError(msg, http_status=429, retry_after_s=retry_after)
    return ApiError(msg, code=f"HTTP_{status}", http_status=status)


def _raise_envelope(job_id, status, code, message, details, headers) -> JobStatus:
    text = f"job {job_id}: HTTP {status} {code or ''}: {message}".rstrip(": ")
    if status == 429 or code == "TOO_MANY_REQUESTS":
        raise RateLimitError(
            text, code=code or "TOO_MANY_REQUESTS", http_status=status,
            retry_after_s=_retry_after_s(headers),
        )  # fmt: skip
    if code == "OAUTH_SCOPE_MISMATCH":
        raise ScopeError(
            f"{text}; the grant lacks scope {MASS_CONVERT_READ_SCOPE} (a refresh cannot add "
            "it): create a new grant token that includes it",
            code=code, http_status=status,
        )  # fmt: skip
    if code in ("INVALID_TOKEN", "AUTHENTICATION_FAILURE") or (
        status == 401 and code != "NO_PERMISSION"
    ):
        raise InvalidTokenError(text, code=code or "INVALID_TOKEN", http_status=status)
    if code == "NO_PERMISSION" or status == 403:
        raise NoPermissionError(
            f"{text}; the user's CRM profile lacks the mass-convert (Convert Leads) permission",
            code=code or "NO_PERMISSION", http_status=status,
        )  # fmt: skip
    if code == "INVALID_DATA" or status == 404:
        raise JobNotFoundError(text, code=code or "NOT_FOUND", http_status=status, details=details)
    raise ApiError(text, code=code or f"HTTP_{status}", http_status=status, details=details)


class ZohoClient:
    """Status calls for one org: one ``requests.Session``, its token cache, timeouts.

    Parameters
    ----------
    creds : OrgCredentials
    timeout_s : float, default 10
        Connect and read timeout of every call, seconds.
    pool_size : int, default 5
        Connections kept alive (match the org's calls-in-flight cap).
    token_cache : TokenCache, optional
        Defaults to the shared cache of ``creds``.
    clock : callable, default ``time.time``
        Used for the token cache when no cache is given.

    Raises
    ------
    UnsafeEndpointError
        (from :meth:`get_status`) if the token's ``api_domain`` is not a Zoho host.
    """

    def __init__(
        self,
        creds: OrgCredentials,
        *,
        timeout_s: float = 10.0,
        pool_size: int = 5,
        token_cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.creds = creds
        self.timeout_s = timeout_s
        self.tokens = token_cache or get_token_cache(creds, clock=clock)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.trust_env = False  # no proxy/netrc surprises: tokens go where we say

    def __repr__(self) -> str:
        return f"ZohoClient(org={self.creds.org!r}, dc={self.creds.dc!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def status_url(self, api_domain: str) -> str:
        """Mass-convert status URL for this org's API version."""
        return api_domain.rstrip("/") + STATUS_PATH.format(version=self.creds.api_version)

    def get_status(self, job_id: str) -> StatusAnswer:
        """Ask Zoho for the status of one mass-convert job.

        Parameters
        ----------
        job_id : str
            The job id (digits, as text).

        Returns
        -------
        StatusAnswer

        Raises
        ------
        ZcrmError
            See :func:`interpret_answer`; :class:`TransportError` for no answer;
            token errors from :meth:`TokenCache.get`. After a 401 ``INVALID_TOKEN`` or
            ``AUTHENTICATION_FAILURE`` the token is refreshed once and the call retried
            once (Zoho CRM "OAuth errors",
            https://www.zoho.com/crm/developer/docs/api/v8/oauth-overview.html); a second
            401 raises :class:`InvalidTokenError` saying what is probably wrong.
            ``OAUTH_SCOPE_MISMATCH`` and ``NO_PERMISSION`` never trigger a refresh.
        """
        token = self.tokens.get()
        try:
            return self._call(job_id, token)
        except InvalidTokenError as exc:
            log.info("org %s: %s on job %s; refreshing the token once",
                     self.creds.org, exc.code, job_id)  # fmt: skip
            self.tokens.invalidate(token)
        fresh = self.tokens.get()
        try:
            return self._call(job_id, fresh)
        except InvalidTokenError as exc:
            raise self._fresh_token_refused(exc, fresh) from None

    def _fresh_token_refused(self, exc: InvalidTokenError, fresh: AccessToken) -> AuthError:
        """The error for a 401 that a freshly refreshed token got too."""
        where = f"{self.creds.org!r} ({self.creds.dc}, token from {self.creds.accounts_url})"
        if exc.code == "AUTHENTICATION_FAILURE":
            why = (
                "authentication failed even with a fresh token: the user may be deactivated "
                "or the client's access to this org removed; re-authorize with "
                "`zcrm-notebook auth`"
            )
        else:
            why = (
                f"{exc.code} right after a fresh token: the token's data center "
                f"({self.creds.dc}) and the API host called ({fresh.api_domain}) probably do "
                "not match (check the org's dc / api_domain), or the refresh token was revoked"
            )
        return InvalidTokenError(f"org {where}: {why}", code=exc.code, http_status=exc.http_status)

    def _call(self, job_id: str, token: AccessToken) -> StatusAnswer:
        api_domain = dcmod.check_token_destination(
            token.api_domain, allow_loopback=self.creds.allows_loopback
        )
        started = time.perf_counter()
        try:
            r = self.session.get(
                self.status_url(api_domain),
                params={"job_id": job_id},
                headers={"Authorization": f"Zoho-oauthtoken {token.access_token}"},
                timeout=self.timeout_s,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            name = type(exc).__name__
            raise TransportError(
                f"job {job_id}: no answer from {requests.utils.urlparse(api_domain).hostname} "
                f"({name})",
                code=name,
            ) from None
        latency = time.perf_counter() - started
        status = interpret_answer(job_id, r)
        return StatusAnswer(status, r.status_code, latency, _credits(r.headers))


def _credits(headers) -> int | None:
    value = headers.get("X-API-CREDITS-REMAINING")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
