"""OAuth 2.0 for Zoho on requests-oauthlib: credentials, token cache, refresh, grant exchange.

requests-oauthlib (``OAuth2Session.refresh_token`` / ``fetch_token``) does the OAuth work;
Zoho's quirks are small named compliance hooks (``shared/ZOHO_API.md`` §4, Zoho Accounts
"Refresh Access Token" https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html):

* failures come back as HTTP 200 with an ``error`` key -> :class:`TokenEndpointError`;
* ``expires_in`` is milliseconds when ``expires_in_sec`` is present;
* a refresh answer has no ``refresh_token`` (the old one is kept) and may lack
  ``api_domain`` (the stored one is kept);
* the CRM header is ``Authorization: Zoho-oauthtoken <token>``, not ``Bearer``.

One :class:`TokenCache` per (accounts server, client id, refresh token), shared by all
threads; refresh is single-flight under a lock with a safety margin before expiry.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

from . import dc as dcmod
from .errors import ResponseFormatError, TokenEndpointError, TokenThrottledError, TransportError
from .redact import mask, register_secret

__all__ = [
    "OrgCredentials",
    "AccessToken",
    "TokenCache",
    "get_token_cache",
    "token_lifetime_s",
    "MASS_CONVERT_READ_SCOPE",
]

log = logging.getLogger(__name__)

MASS_CONVERT_READ_SCOPE = "ZohoCRM.mass_convert.leads.READ"
MASS_CONVERT_CREATE_SCOPE = "ZohoCRM.mass_convert.leads.CREATE"
TOKEN_PATH = "/oauth/v2/token"
SAFETY_MARGIN_S = 60.0
THROTTLE_BACKOFF_S = 60.0
_MAX_LIFETIME_S = 24 * 3600.0

_HINTS = {
    "invalid_client": (
        "Zoho Accounts at {host} does not know this client id. Check that the org's data "
        "center is right (each DC has its own accounts server) and, for a client created in "
        "another DC, that multi-DC is enabled for it in the API console."
    ),
    "invalid_code": (
        "The grant token was already used or has expired (they live 2-10 minutes and work "
        "once), or the refresh token was revoked. Generate a new grant token in the Zoho API "
        "console (Self Client) and run `zcrm-notebook auth --org NAME --grant-token CODE`."
    ),
    "invalid_client_secret": (
        "The client secret is wrong; check it for stray whitespace or a missing character."
    ),
    "invalid_redirect_uri": "The redirect URI differs from the one registered for the client.",
    "access_denied": "The user denied access, or the client is not allowed for this org.",
    "Access Denied": (
        "Zoho throttles token creation (at most 10 access tokens per refresh token per 10 "
        "minutes). Wait a few minutes; access tokens are cached for their hour."
    ),
}


@dataclass(frozen=True)
class OrgCredentials:
    """Credentials and endpoints of one Zoho org.

    Parameters
    ----------
    org : str
        Label of the org (used in snapshots and the token store).
    dc : str
        Data-center code (see :data:`zcrm_notebook.dc.DATA_CENTERS`) or a custom code when
        both URLs are given and loopback.
    client_id, client_secret : str
        From the Zoho API console. The secret is never shown in reprs.
    refresh_token : str
        Long-lived refresh token. Never shown in reprs.
    api_version : str, default ``"v5"``
        CRM API version of the status URL: ``v5`` .. ``v8``.
    accounts_url : str, optional
        Accounts server; defaults to the DC's. Only DC-table hosts or loopback allowed.
    api_domain : str, optional
        CRM API base URL; defaults to the DC's, replaced by the token answer's
        ``api_domain`` (the authority for API calls).

    Raises
    ------
    ConfigError
        (:class:`~zcrm_notebook.errors.DataCenterError`,
        :class:`~zcrm_notebook.errors.UnsafeEndpointError`) for an unknown DC, a bad
        version, or an override URL that is not a Zoho host over HTTPS or loopback.
    """

    org: str
    dc: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    api_version: str = "v5"
    accounts_url: str = ""
    api_domain: str = ""

    def __post_init__(self) -> None:
        from .errors import ConfigError

        set_ = object.__setattr__
        set_(self, "dc", str(self.dc).strip().lower())
        custom = bool(self.accounts_url) and dcmod.is_loopback_url(self.accounts_url)
        if not custom:
            known = dcmod.get_dc(self.dc)
            set_(self, "accounts_url", self.accounts_url or known.accounts_server)
            set_(self, "api_domain", self.api_domain or known.api_domain)
        elif not self.api_domain:
            raise ConfigError(f"org {self.org!r}: a custom accounts_url needs an api_domain too")
        for name in ("accounts_url", "api_domain"):
            set_(self, name, dcmod.check_token_destination(getattr(self, name)))
        if self.api_version not in ("v5", "v6", "v7", "v8"):
            raise ConfigError(
                f"org {self.org!r}: api_version {self.api_version!r} is not one of v5, v6, v7, v8"
            )
        for name in ("client_id", "client_secret", "refresh_token"):
            if not str(getattr(self, name) or "").strip():
                raise ConfigError(f"org {self.org!r}: {name} is empty")
        register_secret(self.client_secret)
        register_secret(self.refresh_token)

    @property
    def allows_loopback(self) -> bool:
        """True when the org is configured for a loopback endpoint (the simulator)."""
        return dcmod.is_loopback_url(self.accounts_url)

    @property
    def token_url(self) -> str:
        """``{accounts_url}/oauth/v2/token``."""
        return self.accounts_url + TOKEN_PATH

    def __repr__(self) -> str:
        return (
            f"OrgCredentials(org={self.org!r}, dc={self.dc!r}, client_id={self.client_id!r}, "
            f"client_secret={mask(self.client_secret)!r}, "
            f"refresh_token={mask(self.refresh_token)!r}, api_version={self.api_version!r}, "
            f"accounts_url={self.accounts_url!r}, api_domain={self.api_domain!r})"
        )


@dataclass(frozen=True)
class AccessToken:
    """A cached access token.

    Attributes
    ----------
    access_token : str
        The token (never shown in reprs).
    api_domain : str
        CRM API base URL this token is valid for.
    expires_at : float
        Expiry, seconds since the epoch on the cache's clock.
    obtained_at : float
        When the token answer arrived, same clock.
    """

    access_token: str = field(repr=False)
    api_domain: str
    expires_at: float
    obtained_at: float

    def __repr__(self) -> str:
        return (
            f"AccessToken(access_token='***', api_domain={self.api_domain!r}, "
            f"expires_at={self.expires_at!r})"
        )


def token_lifetime_s(answer: dict) -> float:
    """Lifetime of a token answer, in seconds, sanity-checked.

    Zoho's rule (official SDKs): if ``expires_in_sec`` is present, ``expires_in`` is in
    milliseconds; otherwise ``expires_in`` is seconds. A value above a day without
    ``expires_in_sec`` is taken as milliseconds; the result is clamped to [60 s, 1 day];
    a missing or non-numeric value means 1 hour (Zoho's documented lifetime).
    """
    raw = answer.get("expires_in_sec", answer.get("expires_in"))
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return 3600.0
    if "expires_in_sec" not in answer and value > _MAX_LIFETIME_S:
        value /= 1000.0
    return min(max(value, 60.0), _MAX_LIFETIME_S)


# --- compliance hooks (requests-oauthlib "refresh_token_response"/"access_token_response")


def zoho_body_must_be_json(r: requests.Response) -> requests.Response:
    """Refuse a token answer that is not a JSON object (proxy HTML, outage page)."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        host = requests.utils.urlparse(r.url).hostname
        raise ResponseFormatError(
            f"token endpoint {host} answered HTTP {r.status_code} with a non-JSON body",
            http_status=r.status_code,
        )
    return r


def zoho_expires_in_seconds(r: requests.Response) -> requests.Response:
    """Rewrite ``expires_in`` to seconds (Zoho sends ms when ``expires_in_sec`` is present)."""
    body = r.json()
    if "access_token" in body:
        body["expires_in"] = int(token_lifetime_s(body))
        body.pop("expires_in_sec", None)
        r._content = json.dumps(body).encode()
    return r


def zoho_register_secrets(r: requests.Response) -> requests.Response:
    """Register new tokens for log redaction before anything else can log them."""
    body = r.json()
    register_secret(body.get("access_token"))
    register_secret(body.get("refresh_token"))
    return r


ZOHO_TOKEN_HOOKS = (zoho_body_must_be_json, zoho_register_secrets, zoho_expires_in_seconds)


def _allow_loopback_http(url: str) -> None:
    # oauthlib refuses plain http unless OAUTHLIB_INSECURE_TRANSPORT is set; this package
    # checks destinations itself (dc.check_token_destination) and allows http only for
    # loopback, so the flag is set only when a loopback token URL is about to be used.
    if url.startswith("http://") and dcmod.is_loopback_url(url):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def make_oauth_session(client_id: str, **kwargs) -> OAuth2Session:
    """An ``OAuth2Session`` with Zoho's compliance hooks registered."""
    session = OAuth2Session(client_id, **kwargs)
    for hook in ZOHO_TOKEN_HOOKS:
        session.register_compliance_hook("refresh_token_response", hook)
        session.register_compliance_hook("access_token_response", hook)
    return session


def token_error(exc: OAuth2Error, host: str, http_status: int | None = None) -> TokenEndpointError:
    """Map an oauthlib error (Zoho's ``error`` key) to a typed error with a hint."""
    code = getattr(exc, "error", None) or type(exc).__name__
    if code == "Access Denied" or (exc.description or "").lower().startswith("you have made too"):
        code = "Access Denied"
    hint = _HINTS.get(code, "").format(host=host)
    cls = TokenThrottledError if code == "Access Denied" else TokenEndpointError
    if code == "token_missing" or type(exc).__name__ == "MissingTokenError":
        code, hint = "missing_access_token", "The answer had no access_token; nothing was stored."
    return cls(
        f"token request to {host} failed: {code}",
        code=code,
        hint=hint,
        accounts_server=host,
        http_status=http_status,
    )


def refresh_access_token(
    creds: OrgCredentials, *, timeout_s: float = 30.0, session: OAuth2Session | None = None
) -> dict:
    """POST a refresh grant to the org's accounts server through requests-oauthlib.

    Returns
    -------
    dict
        The token answer: ``access_token``, ``expires_in`` (seconds), ``api_domain``...

    Raises
    ------
    TokenEndpointError
        Zoho answered with an ``error`` key (whatever the HTTP status) or no access token.
    TokenThrottledError
        Zoho throttled token creation (``Access Denied``).
    TransportError, ResponseFormatError
        No answer / a non-JSON answer.
    """
    host = requests.utils.urlparse(creds.accounts_url).hostname or creds.accounts_url
    _allow_loopback_http(creds.token_url)
    session = session or make_oauth_session(creds.client_id)
    try:
        return dict(
            session.refresh_token(
                creds.token_url,
                refresh_token=creds.refresh_token,
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                timeout=timeout_s,
            )
        )
    except OAuth2Error as exc:
        raise token_error(exc, host) from None
    except Warning as exc:  # oauthlib's "scope changed" carries the token: drop it
        raise TokenEndpointError(f"token request to {host}: {exc}", code="scope_changed") from None
    except requests.RequestException as exc:
        raise TransportError(
            f"token request to {host} failed: {type(exc).__name__}", code=type(exc).__name__
        ) from None


class TokenCache:
    """Access token of one (accounts server, client id, refresh token), shared by threads.

    Use :func:`get_token_cache` to get the shared instance. :meth:`get` returns a token
    valid for at least ``margin_s`` more seconds, refreshing single-flight under a lock, so
    however many threads poll, normal running makes one token request per token lifetime.

    Parameters
    ----------
    creds : OrgCredentials
    clock : callable, default ``time.time``
        Seconds since the epoch.
    margin_s : float, default 60
        Refresh this long before expiry.
    refresh : callable, optional
        ``refresh(creds) -> dict`` token answer; defaults to :func:`refresh_access_token`.
    """

    def __init__(
        self,
        creds: OrgCredentials,
        *,
        clock: Callable[[], float] = time.time,
        margin_s: float = SAFETY_MARGIN_S,
        refresh: Callable[[OrgCredentials], dict] | None = None,
    ) -> None:
        self.creds = creds
        self.clock = clock
        self.margin_s = margin_s
        self._refresh = refresh or refresh_access_token
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self._api_domain = creds.api_domain
        self._throttled_until = 0.0
        self.requests = 0

    def __repr__(self) -> str:
        return f"TokenCache(org={self.creds.org!r}, token={'set' if self._token else 'unset'})"

    def get(self) -> AccessToken:
        """A valid access token, refreshed if it expires within ``margin_s``.

        Raises
        ------
        TokenEndpointError, TokenThrottledError, TransportError, ResponseFormatError
            As :func:`refresh_access_token`; while throttled, at once without a request.
        UnsafeEndpointError
            If the answer's ``api_domain`` is not a Zoho host (or loopback for the simulator).
        """
        token = self._token
        if token is not None and self.clock() < token.expires_at - self.margin_s:
            return token
        with self._lock:
            token = self._token
            if token is not None and self.clock() < token.expires_at - self.margin_s:
                return token
            return self._refresh_locked()

    def invalidate(self, stale: AccessToken) -> None:
        """Forget ``stale`` (after a 401) unless another thread already replaced it."""
        with self._lock:
            if self._token is stale:
                self._token = None

    def _refresh_locked(self) -> AccessToken:
        now = self.clock()
        if now < self._throttled_until:
            raise TokenThrottledError(
                f"token creation for org {self.creds.org!r} is throttled; retrying after "
                f"{self._throttled_until - now:.0f} s",
                code="Access Denied",
                hint=_HINTS["Access Denied"],
                accounts_server=self.creds.accounts_url,
            )
        self.requests += 1
        try:
            answer = self._refresh(self.creds)
        except TokenThrottledError:
            self._throttled_until = now + THROTTLE_BACKOFF_S
            raise
        api_domain = answer.get("api_domain") or self._api_domain
        api_domain = dcmod.check_token_destination(
            api_domain, allow_loopback=self.creds.allows_loopback
        )
        self._api_domain = api_domain
        arrived = self.clock()
        self._token = AccessToken(
            access_token=answer["access_token"],
            api_domain=api_domain,
            expires_at=arrived + token_lifetime_s(answer),
            obtained_at=arrived,
        )
        log.info("org %s: new access token, valid %.0f s", self.creds.org, token_lifetime_s(answer))
        return self._token


_caches: dict[tuple[str, str, str], TokenCache] = {}
_caches_lock = threading.Lock()


def get_token_cache(
    creds: OrgCredentials, *, clock: Callable[[], float] | None = None
) -> TokenCache:
    """The process-wide :class:`TokenCache` for ``creds`` (created on first use).

    Keyed by (accounts server, client id, refresh token): two orgs sharing credentials
    share one token, so the 10-tokens-per-10-minutes limit is respected.
    """
    key = (creds.accounts_url, creds.client_id, creds.refresh_token)
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None or (clock is not None and cache.clock is not clock):
            cache = _caches[key] = TokenCache(creds, clock=clock or time.time)
        return cache
