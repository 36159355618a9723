"""Access tokens: the refresh call and the shared, single-flight token cache.

requests-oauthlib (``OAuth2Session.refresh_token``) does the OAuth work; Zoho's quirks are
the compliance hooks of :mod:`zcrm_notebook.auth.hooks` (``docs/zoho-api.md``, Zoho CRM
"Refresh Access Token", https://www.zoho.com/crm/developer/docs/api/v8/refresh.html).
The credentials are :mod:`zcrm_notebook.auth.credentials`; grant exchange and the web flow
live in :mod:`zcrm_notebook.auth.grant` and :mod:`~zcrm_notebook.auth.webflow`; a cache
for credentials from the token store (:mod:`zcrm_notebook.auth.tokenstore`) starts from
the stored access token and writes new ones back.

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
from dataclasses import replace

from ..api.endpoints import MASS_CONVERT_READ_SCOPE
from ..errors import (
    ConfigError,
    ResponseFormatError,
    TokenEndpointError,
    TokenThrottledError,
    ZcrmError,
)
from .credentials import SAFETY_MARGIN_S, AccessToken, OrgCredentials
from .hooks import (
    HINTS,
    THROTTLED,
    call_token_endpoint,
    make_oauth_session,
    token_lifetime_s,
)
from .tokenstore import cache_hooks

__all__ = [
    "TokenCache",
    "get_token_cache",
    "forget_token_cache",
    "refresh_access_token",
    "token_lifetime_s",
    "MASS_CONVERT_READ_SCOPE",
]

log = logging.getLogger(__name__)

THROTTLE_BACKOFF_S = (60.0, 600.0)  # first wait, cap (Zoho's window is 10 minutes)
#: Whole-call bound of a token request when the caller gives none, seconds.
TOKEN_TIMEOUT_S = 30.0


def refresh_access_token(
    creds: OrgCredentials, *, timeout_s: float = TOKEN_TIMEOUT_S, session=None
) -> dict:
    """POST a refresh grant to the org's accounts server through requests-oauthlib.

    Zoho CRM "Refresh Access Token" (https://www.zoho.com/crm/developer/docs/api/v8/refresh.html):
    ``grant_type=refresh_token`` with ``client_id``, ``client_secret``, ``refresh_token`` as
    form fields. Never retried here: the caller (:class:`TokenCache`) decides.

    Parameters
    ----------
    creds : OrgCredentials
    timeout_s : float, default 30
        Bound of the whole call (connect, headers and body), seconds.
    session : requests_oauthlib.OAuth2Session, optional
        Defaults to a new session with Zoho's compliance hooks and the org's destination
        policy.

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
    policy = creds.destinations
    session = session or make_oauth_session(creds.client_id, policy=policy)
    return call_token_endpoint(
        lambda: session.refresh_token(
            creds.token_url,
            refresh_token=creds.refresh_token,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            timeout=timeout_s,
        ),
        creds.token_url,
        policy,
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
        ``refresh(creds) -> dict`` token answer; default :func:`refresh_access_token`
        (with the ``timeout_s`` given to :meth:`get`).
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
        self._refresh = refresh
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

    def get(self, timeout_s: float | None = None) -> AccessToken:
        """A valid access token, refreshed if it expires within the margin.

        Parameters
        ----------
        timeout_s : float, optional
            Bound of the whole token request if one is made (default
            :data:`TOKEN_TIMEOUT_S`); a :class:`~zcrm_notebook.ZohoClient` gives its own.

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
            The answer's ``api_domain`` is not an API host of the org's data center (or
            loopback for the simulator): the token is dropped, never sent.
        """
        token = self._token
        if token is not None and token.usable_at(self.clock(), self.margin_s):
            return token
        with self._lock:
            token = self._token
            if token is not None and token.usable_at(self.clock(), self.margin_s):
                return token
            return self._refresh_locked(timeout_s or TOKEN_TIMEOUT_S)

    def cached(self) -> AccessToken | None:
        """The token :meth:`get` would return without a token request, or None (never
        blocks: the poll loop's event loop asks this before each status call)."""
        token = self._token
        if token is not None and token.usable_at(self.clock(), self.margin_s):
            return token
        return None

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

    def _refresh_locked(self, timeout_s: float) -> AccessToken:
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
            if self._refresh is None:
                answer = refresh_access_token(self.creds, timeout_s=timeout_s)
            else:
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
        api_domain = self.creds.destinations.check_api_domain(
            answer.get("api_domain") or self._api_domain
        )
        new_refresh = str(answer.get("refresh_token") or "").strip()
        if new_refresh and new_refresh != self.creds.refresh_token:
            log.info("org %s: Zoho sent a new refresh token; using it", self.creds.org)
            self.creds = replace(self.creds, refresh_token=new_refresh)
        self._api_domain = api_domain
        lifetime = token_lifetime_s(answer)
        access = answer.get("access_token")
        if not isinstance(access, str):
            raise ResponseFormatError(f"token answer for org {self.creds.org!r}: no access token")
        log.info("org %s: new access token, valid %.0f s", self.creds.org, lifetime)
        return AccessToken(access, api_domain, sent_at + lifetime, sent_at)

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
