"""OAuth 2.0 for Zoho on requests-oauthlib: credentials, refresh, the shared token cache.

requests-oauthlib (``OAuth2Session.refresh_token``) does the OAuth work; Zoho's quirks are
the compliance hooks of :mod:`zcrm_notebook.oauth_hooks` (``shared/ZOHO_API.md`` §4, Zoho
CRM "Refresh Access Token", https://www.zoho.com/crm/developer/docs/api/v8/refresh.html).
Grant exchange and the web flow live in :mod:`zcrm_notebook.grant`, the token store in
:mod:`zcrm_notebook.tokenstore`.

One :class:`TokenCache` per (accounts server, client id, refresh token), shared by all
threads: refresh is single-flight under a lock with a safety margin before expiry, so
however many threads poll, normal running makes one token request per token lifetime.
The CRM header is ``Authorization: Zoho-oauthtoken <token>`` (see :mod:`zcrm_notebook.client`).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..api.datacenters import get_dc
from ..api.destinations import check_token_destination, is_loopback_url
from ..api.endpoints import API_VERSIONS, MASS_CONVERT_READ_SCOPE, TOKEN
from ..errors import ConfigError, TokenEndpointError, TokenThrottledError, ZcrmError
from ..redact import mask, register_secret
from .hooks import (
    HINTS,
    THROTTLED,
    call_token_endpoint,
    make_oauth_session,
    token_lifetime_s,
)

__all__ = [
    "OrgCredentials",
    "AccessToken",
    "TokenCache",
    "get_token_cache",
    "forget_token_cache",
    "refresh_access_token",
    "token_lifetime_s",
    "MASS_CONVERT_READ_SCOPE",
]

log = logging.getLogger(__name__)

SAFETY_MARGIN_S = 60.0
THROTTLE_BACKOFF_S = (60.0, 600.0)  # first wait, cap (Zoho's window is 10 minutes)


def _endpoints(org: str, dc: str, accounts_url: str, api_domain: str) -> tuple[str, str]:
    """Checked (accounts_url, api_domain) of an org; loopback only as a pair (simulator).

    Raises
    ------
    DataCenterError, UnsafeEndpointError, ConfigError
        Unknown DC; a URL outside the DC table / not HTTPS; a Zoho URL of another DC.
    """
    if accounts_url and is_loopback_url(accounts_url):
        if not api_domain:
            raise ConfigError(f"org {org!r}: a loopback accounts_url needs an api_domain too")
        return check_token_destination(accounts_url), check_token_destination(
            api_domain
        )
    known = get_dc(dc)
    accounts = check_token_destination(
        accounts_url or known.accounts_server, allow_loopback=False
    )
    api = check_token_destination(api_domain or known.api_domain, allow_loopback=False)
    if accounts.lower() != known.accounts_server:
        raise ConfigError(
            f"org {org!r}: accounts_url {accounts!r} is not the accounts server of data center "
            f"{known.code!r} ({known.accounts_server})"
        )
    if api.lower() not in known.api_domains:
        raise ConfigError(
            f"org {org!r}: api_domain {api!r} is not an API domain of data center "
            f"{known.code!r} (expected one of {', '.join(known.api_domains)})"
        )
    return accounts, api


@dataclass(frozen=True)
class OrgCredentials:
    """Credentials and endpoints of one Zoho org.

    Parameters
    ----------
    org : str
        Label of the org (used in snapshots and the token store).
    dc : str
        Data-center code (see :data:`zcrm_notebook.api.datacenters.DATA_CENTERS`); any
        label when both URLs are loopback (the simulator).
    client_id, client_secret : str
        From the Zoho API console. Surrounding whitespace is removed; the secret is never
        shown in reprs.
    refresh_token : str
        Long-lived refresh token. Never shown in reprs.
    api_version : str, default ``"v5"``
        CRM API version of the status URL: ``v5`` .. ``v8``.
    accounts_url : str, optional
        Accounts server; defaults to the DC's. Must be the DC's accounts server, or
        loopback (then ``api_domain`` is required).
    api_domain : str, optional
        CRM API base URL; defaults to the DC's production domain. Must be one of the DC's
        API domains (production, sandbox, developer), or loopback when ``accounts_url``
        is. A token answer's ``api_domain`` replaces it (Zoho: the authority for calls).
    token_store : str, optional
        Token store file the credentials came from (:mod:`zcrm_notebook.tokenstore`);
        when set, the token cache starts from the stored access token and writes new
        ones back, so separate processes do not each spend one of Zoho's token creations.

    Raises
    ------
    ConfigError
        (:class:`~zcrm_notebook.errors.DataCenterError`,
        :class:`~zcrm_notebook.errors.UnsafeEndpointError`) for an unknown DC, a bad
        version, an empty credential, or a URL that is not the DC's over HTTPS or loopback.
    """

    org: str
    dc: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    api_version: str = "v5"
    accounts_url: str = ""
    api_domain: str = ""
    token_store: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "dc", str(self.dc).strip().lower())
        for name in ("client_id", "client_secret", "refresh_token"):
            value = str(getattr(self, name) or "").strip()
            if not value:
                raise ConfigError(f"org {self.org!r}: {name} is empty")
            set_(self, name, value)
        register_secret(self.client_secret)
        register_secret(self.refresh_token)
        accounts, api = _endpoints(self.org, self.dc, self.accounts_url, self.api_domain)
        set_(self, "accounts_url", accounts)
        set_(self, "api_domain", api)
        if self.api_version not in API_VERSIONS:
            raise ConfigError(
                f"org {self.org!r}: api_version {self.api_version!r} is not one of "
                f"{', '.join(API_VERSIONS)}"
            )

    @property
    def allows_loopback(self) -> bool:
        """True when the org is configured for a loopback endpoint (the simulator)."""
        return is_loopback_url(self.accounts_url)

    @property
    def token_url(self) -> str:
        """``{accounts_url}/oauth/v2/token``."""
        return TOKEN.url(self.accounts_url)

    def __repr__(self) -> str:
        store = f", token_store={self.token_store!r}" if self.token_store else ""
        return (
            f"OrgCredentials(org={self.org!r}, dc={self.dc!r}, client_id={self.client_id!r}, "
            f"client_secret={mask(self.client_secret)!r}, "
            f"refresh_token={mask(self.refresh_token)!r}, api_version={self.api_version!r}, "
            f"accounts_url={self.accounts_url!r}, api_domain={self.api_domain!r}{store})"
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
        When the token request was sent (conservative), same clock.
    """

    access_token: str = field(repr=False)
    api_domain: str
    expires_at: float
    obtained_at: float

    def __repr__(self) -> str:
        return (
            f"AccessToken(access_token={mask(self.access_token)!r}, "
            f"api_domain={self.api_domain!r}, expires_at={self.expires_at!r})"
        )

    def usable_at(self, now: float, margin_s: float = SAFETY_MARGIN_S) -> bool:
        """True while ``now`` is before expiry minus the margin (at most a quarter life)."""
        margin = min(margin_s, (self.expires_at - self.obtained_at) / 4)
        return now < self.expires_at - margin


def refresh_access_token(creds: OrgCredentials, *, timeout_s: float = 30.0, session=None) -> dict:
    """POST a refresh grant to the org's accounts server through requests-oauthlib.

    Zoho CRM "Refresh Access Token" (https://www.zoho.com/crm/developer/docs/api/v8/refresh.html):
    ``grant_type=refresh_token`` with ``client_id``, ``client_secret``, ``refresh_token`` as
    form fields. Never retried here: the caller (:class:`TokenCache`) decides.

    Parameters
    ----------
    creds : OrgCredentials
    timeout_s : float, default 30
        Connect and read timeout, seconds.
    session : requests_oauthlib.OAuth2Session, optional
        Defaults to a new session with Zoho's compliance hooks.

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
    session = session or make_oauth_session(creds.client_id)
    return call_token_endpoint(
        lambda: session.refresh_token(
            creds.token_url,
            refresh_token=creds.refresh_token,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            timeout=timeout_s,
        ),
        creds.token_url,
    )


class TokenCache:
    """Access token of one (accounts server, client id, refresh token), shared by threads.

    Use :func:`get_token_cache` for the process-wide instance. :meth:`get` returns a
    token valid for at least ``margin_s`` more seconds (at most a quarter of its life),
    refreshing single-flight under a lock.

    Parameters
    ----------
    creds : OrgCredentials
    clock : callable, default ``time.time``
        Seconds since the epoch.
    margin_s : float, default 60
        Refresh this long before expiry.
    refresh : callable, optional
        ``refresh(creds) -> dict`` token answer; default :func:`refresh_access_token`.
    initial : AccessToken, optional
        A token to start from (e.g. from the token store).
    persist : callable, optional
        ``persist(token, refresh_token)`` after each refresh (e.g. write the token store);
        its failures are logged, never raised.

    Attributes
    ----------
    requests : int
        Token requests made by this cache.
    """

    def __init__(
        self,
        creds: OrgCredentials,
        *,
        clock: Callable[[], float] = time.time,
        margin_s: float = SAFETY_MARGIN_S,
        refresh: Callable[[OrgCredentials], dict] | None = None,
        initial: AccessToken | None = None,
        persist: Callable[[AccessToken, str], None] | None = None,
    ) -> None:
        self.creds = creds
        self.clock = clock
        self.margin_s = margin_s
        self._refresh = refresh or refresh_access_token
        self._persist = persist
        self._lock = threading.Lock()
        self._token = initial
        self._api_domain = initial.api_domain if initial else creds.api_domain
        self._failure: ZcrmError | None = None
        self._throttled_until = 0.0
        self._throttle_wait_s = THROTTLE_BACKOFF_S[0]
        self.requests = 0

    def __repr__(self) -> str:
        state = "failed" if self._failure else ("set" if self._token else "unset")
        return f"TokenCache(org={self.creds.org!r}, token={state}, requests={self.requests})"

    def get(self) -> AccessToken:
        """A valid access token, refreshed if it expires within the margin.

        Raises
        ------
        TokenEndpointError, TransportError, ResponseFormatError
            As :func:`refresh_access_token`. A refusal that a retry cannot fix (e.g.
            ``invalid_client``, ``invalid_code``) is remembered: later calls raise it again
            without a request, until :meth:`reset` or new credentials.
        TokenThrottledError
            Zoho throttled token creation; until the backoff (60 s, doubling up to
            600 s) has passed, raised at once without a request.
        UnsafeEndpointError
            The answer's ``api_domain`` is not a Zoho API host (or loopback for the
            simulator): the token is dropped, never sent.
        """
        token = self._token
        if token is not None and token.usable_at(self.clock(), self.margin_s):
            return token
        with self._lock:
            token = self._token
            if token is not None and token.usable_at(self.clock(), self.margin_s):
                return token
            return self._refresh_locked()

    def invalidate(self, stale: AccessToken) -> None:
        """Forget ``stale`` (after a 401) unless another thread already replaced it."""
        with self._lock:
            if self._token is stale:
                self._token = None

    def reset(self, creds: OrgCredentials | None = None) -> None:
        """Forget the token and any remembered failure; optionally switch credentials."""
        with self._lock:
            self.creds = creds or self.creds
            self._token, self._failure, self._throttled_until = None, None, 0.0

    def _refresh_locked(self) -> AccessToken:
        now = self.clock()
        if self._failure is not None:
            raise copy.copy(self._failure)  # a copy: threads must not share a traceback
        if now < self._throttled_until:
            raise TokenThrottledError(
                f"token creation for org {self.creds.org!r} is throttled by Zoho; not asking "
                f"again for {self._throttled_until - now:.0f} s.",
                code=THROTTLED,
                hint=HINTS[THROTTLED],
                accounts_server=self.creds.accounts_url,
            )
        self.requests += 1
        try:
            answer = self._refresh(self.creds)
            token = self._accept(answer, now)
        except TokenThrottledError:
            self._throttled_until = now + self._throttle_wait_s
            self._throttle_wait_s = min(THROTTLE_BACKOFF_S[1], self._throttle_wait_s * 2)
            raise
        except (TokenEndpointError, ConfigError) as exc:
            self._failure = exc
            raise
        self._token, self._throttle_wait_s = token, THROTTLE_BACKOFF_S[0]
        self._save(token)
        return token

    def _accept(self, answer: dict, sent_at: float) -> AccessToken:
        """Zoho's refresh answer -> AccessToken, keeping stored values it leaves out."""
        api_domain = check_token_destination(
            answer.get("api_domain") or self._api_domain,
            allow_loopback=self.creds.allows_loopback,
        )
        new_refresh = str(answer.get("refresh_token") or "").strip()
        if new_refresh and new_refresh != self.creds.refresh_token:
            log.info("org %s: Zoho sent a new refresh token; using it", self.creds.org)
            self.creds = replace(self.creds, refresh_token=new_refresh)
        self._api_domain = api_domain
        lifetime = token_lifetime_s(answer)
        log.info("org %s: new access token, valid %.0f s", self.creds.org, lifetime)
        return AccessToken(answer["access_token"], api_domain, sent_at + lifetime, sent_at)

    def _save(self, token: AccessToken) -> None:
        if self._persist is None:
            return
        try:
            self._persist(token, self.creds.refresh_token)
        except Exception as exc:  # the poll goes on with the token in memory
            log.warning("org %s: could not save the new access token: %s", self.creds.org, exc)


_caches: dict[tuple[str, str, str], TokenCache] = {}
_caches_lock = threading.Lock()


def _key(creds: OrgCredentials) -> tuple[str, str, str]:
    return (creds.accounts_url, creds.client_id, creds.refresh_token)


def _new_cache(creds: OrgCredentials, clock: Callable[[], float] | None) -> TokenCache:
    if creds.token_store and clock in (None, time.time):  # the store keeps wall-clock times
        from .tokenstore import cache_hooks

        initial, persist = cache_hooks(creds)
        return TokenCache(creds, initial=initial, persist=persist)
    return TokenCache(creds, clock=clock or time.time)


def get_token_cache(
    creds: OrgCredentials, *, clock: Callable[[], float] | None = None
) -> TokenCache:
    """The process-wide :class:`TokenCache` for ``creds`` (created on first use).

    Keyed by (accounts server, client id, refresh token): every client of the same
    credentials shares one token, so Zoho's 10-tokens-per-10-minutes limit is respected.
    A different ``clock`` makes a new cache (tests); other changed fields (a corrected
    client secret) update the cache and clear a remembered failure.
    """
    with _caches_lock:
        cache = _caches.get(_key(creds))
        if cache is None or (clock is not None and cache.clock != clock):
            cache = _caches[_key(creds)] = _new_cache(creds, clock)
        elif cache.creds.client_secret != creds.client_secret:
            cache.reset(creds)
        return cache


def forget_token_cache(creds: OrgCredentials) -> None:
    """Drop the shared cache of ``creds`` (after a revoke or a new grant)."""
    with _caches_lock:
        _caches.pop(_key(creds), None)
