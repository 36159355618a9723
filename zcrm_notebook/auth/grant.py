"""Getting (and revoking) a refresh token: the grant-token exchange, exactly once.

Zoho CRM "OAuth 2.0 Overview", "Self Client" and "Generate Access and Refresh Token"
(https://www.zoho.com/crm/developer/docs/api/v8/oauth-overview.html,
https://www.zoho.com/accounts/protocol/oauth/self-client/overview.html,
https://www.zoho.com/crm/developer/docs/api/v8/access-refresh.html), condensed in
``docs/zoho-api.md``. A grant token (authorization code) works once and lives a few
minutes, so it is exchanged exactly once and never automatically: the exchange is
recorded in the token store *before* the request, and a second attempt is refused without
a request. Only an answer from Zoho spends a grant: when none came (connection refused,
timeout, redirect refused, Ctrl-C during the call) or Zoho refused the client before
reading the code (``invalid_client``), the record is taken back, so the same grant can be
sent again. Nothing is stored unless Zoho's answer is a complete success. The web flow
(authorization URL, pasted redirect) is :mod:`zcrm_notebook.auth.webflow`.

Notebook use::

    from zcrm_notebook.auth.grant import OAuthClient, exchange_grant_token
    client = OAuthClient("acme-eu", "eu", "1000.XXXX", getpass("client secret: "))
    creds = exchange_grant_token(client, "1000.grant.token")   # stored; ready for poll_jobs
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from dataclasses import dataclass, field

import requests

from ..api.answers import CODE_LIMIT, decode_json
from ..api.destinations import DestinationPolicy, is_loopback_url
from ..api.endpoints import REVOKE, SCOPE_SETS, TOKEN
from ..api.transport import new_session
from ..errors import (
    ConfigError,
    ResponseFormatError,
    TokenEndpointError,
    TokenStoreError,
    TransportError,
)
from ..redact import clean_text, mask, register_secret
from .credentials import OrgCredentials, check_org_endpoints, settle_org_fields
from .hooks import (
    HINTS,
    call_token_endpoint,
    make_oauth_session,
    token_lifetime_s,
)
from .tokens import forget_token_cache
from .tokenstore import StoredToken, TokenStore

__all__ = ["DEFAULT_SCOPES", "OAuthClient", "exchange_grant_token", "revoke", "revoke_outcome"]

log = logging.getLogger(__name__)

#: Scopes a grant asks for by default: those of watching jobs (the status call). Converting
#: leads needs ``SCOPE_SETS["convert"]`` (``zcrm-notebook auth --scopes convert``).
DEFAULT_SCOPES = SCOPE_SETS["watch"]
_RELEASABLE = ("invalid_client", "invalid_client_secret")  # refused before the code is read
_used_here: set[str] = set()
_used_lock = threading.Lock()


@dataclass(frozen=True)
class OAuthClient:
    """A client registered in the Zoho API console, for one org (before it has a token).

    Parameters
    ----------
    org : str
        Label under which the credentials are stored.
    dc : str
        Data-center code of the user's account (``us``, ``eu``, ``ca``...).
    client_id, client_secret : str
        From the API console (whitespace around them is removed). The secret is masked.
    accounts_url : str, optional
        Default: the DC's accounts server. Loopback only for the simulator (then
        ``api_domain`` is needed).
    api_domain : str, optional
        Default: the DC's; replaced by the token answer's ``api_domain``.
    api_version : str, default ``"v5"``
    custom_dc : bool, default False
        ``dc`` is a code of a loopback test server, not a Zoho data center (see
        :class:`~zcrm_notebook.auth.OrgCredentials`).

    Raises
    ------
    ConfigError
        Empty values, an unknown DC, a URL that is not the DC's (see
        :class:`~zcrm_notebook.auth.OrgCredentials`).
    """

    org: str
    dc: str
    client_id: str
    client_secret: str = field(repr=False)
    accounts_url: str = ""
    api_domain: str = ""
    api_version: str = "v5"
    custom_dc: bool = False

    def __post_init__(self) -> None:
        settle_org_fields(self, ("org", "client_id", "client_secret"), "OAuth client for org")

    def __repr__(self) -> str:
        return (
            f"OAuthClient(org={self.org!r}, dc={self.dc!r}, client_id={self.client_id!r}, "
            f"client_secret={mask(self.client_secret)!r}, accounts_url={self.accounts_url!r})"
        )

    @property
    def allows_loopback(self) -> bool:
        """True for a loopback accounts server (the simulator)."""
        return is_loopback_url(self.accounts_url)

    @property
    def destinations(self) -> DestinationPolicy:
        """Where this client's requests may go: its data center's hosts, or loopback."""
        return DestinationPolicy.for_org(self.dc, self.allows_loopback)

    @classmethod
    def from_credentials(cls, creds: OrgCredentials) -> OAuthClient:
        """The client part of existing credentials (to re-authorize an org)."""
        return cls(
            creds.org,
            creds.dc,
            creds.client_id,
            creds.client_secret,
            creds.accounts_url,
            creds.api_domain,
            creds.api_version,
            creds.custom_dc,
        )


# --- grant exchange ----------------------------------------------------------------------


def _store(store: object) -> TokenStore:
    if isinstance(store, TokenStore):
        return store
    if store is None or isinstance(store, (str, os.PathLike)):
        return TokenStore(store)
    raise ConfigError(f"store must be a TokenStore, a path, None or False, not {store!r}")


def _claim(store: TokenStore | None, code: str) -> bool:
    """Mark ``code`` as exchanged (process memory + store) before it is sent."""
    with _used_lock:
        if code in _used_here:
            return False
        _used_here.add(code)
    try:
        if store is None or store.claim_grant(code):
            return True
    except BaseException:
        with _used_lock:
            _used_here.discard(code)
        raise
    return False


def _release(store: TokenStore | None, code: str) -> None:
    with _used_lock:
        _used_here.discard(code)
    if store is not None:
        store.release_grant(code)


def _zoho_read_the_code(exc: BaseException) -> bool:
    """True when the failed exchange ended with an answer from Zoho that may have spent
    the grant; False when nothing came back (or Zoho refused the client first)."""
    if isinstance(exc, TokenEndpointError):
        return exc.code not in _RELEASABLE
    return isinstance(exc, ResponseFormatError)


@contextlib.contextmanager
def _claimed(store: TokenStore | None, code: str, client: OAuthClient):
    """Hold the claim on ``code`` while it is sent; give it back unless Zoho answered."""
    if not _claim(store, code):
        raise _already_used(client)
    try:
        yield
    except BaseException as exc:
        if not _zoho_read_the_code(exc):
            try:
                _release(store, code)
            except TokenStoreError as failed:
                log.warning("grant token claim could not be taken back: %s", failed)
        raise


def _already_used(client: OAuthClient) -> TokenEndpointError:
    return TokenEndpointError(
        f"grant token for org {client.org!r} was already exchanged; it was not sent again.",
        code="invalid_code",
        hint=HINTS["invalid_code"],
        accounts_server=client.accounts_url,
    )


def _fetch(client: OAuthClient, code: str, redirect_uri: str | None, timeout_s: float) -> dict:
    policy = client.destinations
    session = make_oauth_session(client.client_id, policy=policy, redirect_uri=redirect_uri)
    token_url = TOKEN.url(client.accounts_url)
    return call_token_endpoint(
        lambda: session.fetch_token(
            token_url,
            code=code,
            include_client_id=True,
            client_secret=client.client_secret,
            timeout=timeout_s,
        ),
        token_url,
        policy,
    )


def _entry(client: OAuthClient, answer: dict, sent_at: float) -> StoredToken:
    if not str(answer.get("refresh_token") or "").strip():
        raise TokenEndpointError(
            f"Zoho Accounts at {client.accounts_url} issued no refresh token; nothing was stored.",
            code="missing_refresh_token",
            hint="Create the grant with offline access (the Self Client's Generate Code, or "
            "the web flow's access_type=offline&prompt=consent) and exchange a new one.",
            accounts_server=client.accounts_url,
        )
    api_domain = client.destinations.check_api_domain(answer.get("api_domain") or client.api_domain)
    scopes = answer.get("scope") or ()
    scopes = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    return StoredToken(
        org=client.org,
        dc=client.dc,
        client_id=client.client_id,
        client_secret=client.client_secret,
        refresh_token=answer["refresh_token"],
        accounts_url=client.accounts_url,
        api_domain=api_domain,
        api_version=client.api_version,
        custom_dc=client.custom_dc,
        scopes=tuple(scopes),
        access_token=answer["access_token"],
        access_obtained_at=sent_at,
        access_expires_at=sent_at + token_lifetime_s(answer),
        created_at=sent_at,
    )


def exchange_grant_token(
    client: OAuthClient,
    grant_token: str,
    *,
    redirect_uri: str | None = None,
    store: TokenStore | str | os.PathLike | None | bool = None,
    timeout_s: float = 30.0,
) -> OrgCredentials:
    """Exchange a grant token (self client or web flow) for a refresh token, exactly once.

    Zoho "Generate Access and Refresh Token": ``POST {accounts}/oauth/v2/token`` with
    ``grant_type=authorization_code``, ``client_id``, ``client_secret``, ``code`` (and
    ``redirect_uri`` for the web flow) as form fields, through
    ``OAuth2Session.fetch_token``.

    Parameters
    ----------
    client : OAuthClient
    grant_token : str
        The code from the API console (Self Client) or the redirect.
    redirect_uri : str, optional
        Web flow only: the registered redirect URI.
    store : TokenStore, path, None or False
        Where to store the result (default
        :func:`~zcrm_notebook.auth.tokenstore.default_store_path`); ``False``: keep nothing
        on disk (the grant is still only sent once per process).
    timeout_s : float, default 30

    Returns
    -------
    OrgCredentials
        Ready for :func:`zcrm_notebook.poll_jobs`; ``api_domain`` from Zoho's answer.

    Raises
    ------
    TokenEndpointError
        ``invalid_code`` (grant used or expired; also when this store already exchanged
        it -- then nothing is sent; an attempt that got no answer does not count),
        ``invalid_client`` (names the accounts server), ``invalid_client_secret``, no
        refresh token in the answer. Nothing is stored.
    TokenThrottledError, TransportError, ResponseFormatError, TokenStoreError
    UnsafeEndpointError
        The answer's ``api_domain`` is not a Zoho API host.
    """
    code = str(grant_token or "").strip()
    if not code:
        raise ConfigError("the grant token is empty: copy it from the Zoho API console")
    register_secret(code)
    ts = None if store is False else _store(store)
    sent_at = time.time()
    with _claimed(ts, code, client):
        answer = _fetch(client, code, redirect_uri, timeout_s)
    entry = _entry(client, answer, sent_at)
    if ts is not None:
        entry = ts.put(entry)
    creds = entry.credentials(ts.path if ts is not None else "")
    forget_token_cache(creds)
    log.info("org %s: refresh token stored (dc %s, %s)", client.org, entry.dc, entry.api_domain)
    return creds


# --- revoke ------------------------------------------------------------------------------


def revoke(
    org: str, *, store: TokenStore | str | os.PathLike | None = None, timeout_s: float = 30.0
) -> StoredToken:
    """Revoke ``org``'s refresh token at Zoho and delete its entry from the store.

    Zoho Accounts "Revoke refresh token"
    (https://www.zoho.com/accounts/protocol/oauth/revoke-refresh-token.html):
    ``POST {accounts}/oauth/v2/token/revoke`` with ``token`` as a form field (never in the
    URL); ``{"status": "success"}`` when revoked, HTTP 400 when the token is invalid
    already (revoked before, or the 21st refresh token of the user invalidated it): then
    the entry is deleted too, with a warning saying so. requests-oauthlib has no revoke
    call, so this is a plain ``requests`` POST (a session of
    :func:`~zcrm_notebook.api.transport.new_session`) to the checked accounts server,
    without redirects.

    Returns
    -------
    StoredToken
        The deleted entry.

    Raises
    ------
    ConfigError
        No entry for ``org`` (lists the stored orgs).
    TransportError
        No answer: the entry is kept, so the command can be run again.
    TokenEndpointError
        Any other answer (5xx, an answer without ``"status": "success"``): entry kept.
    """
    ts = store if isinstance(store, TokenStore) else TokenStore(store)
    entries = ts.read()
    entry = entries.get(org)
    if entry is None:
        raise ConfigError(
            f"no stored token for org {org!r} in {str(ts.path)!r} "
            f"(stored: {', '.join(sorted(entries)) or 'none'})"
        )
    if revoke_outcome(*_post_revoke(entry, timeout_s)) == "already_invalid":
        warnings.warn(
            f"Zoho Accounts at {entry.accounts_url} answered HTTP 400: the refresh token of "
            f"org {org!r} was invalid already (revoked before, or replaced by newer ones); "
            "it is deleted from the token store",
            stacklevel=2,
        )
    ts.delete(org)
    with contextlib.suppress(ConfigError):
        forget_token_cache(entry.credentials())
    return entry


def revoke_outcome(accounts_url: str, status: int, body: object) -> str:
    """What a revoke answer says: ``"revoked"`` or ``"already_invalid"`` (HTTP 400).

    ``"revoked"`` only for a 2xx ``{"status": "success"}`` (Zoho's SDK counts nothing else
    as done).

    Raises
    ------
    TokenEndpointError
        Any other answer: the token may still be valid, so the stored entry is kept.
    """
    if status == 400:
        return "already_invalid"
    fields = body if isinstance(body, dict) else {}
    word = fields.get("status")
    if 200 <= status < 300 and isinstance(word, str) and word.lower() == "success":
        return "revoked"
    error = clean_text(fields.get("error") or fields.get("status") or "", CODE_LIMIT)
    raise TokenEndpointError(
        f"revoke request to {accounts_url} failed: HTTP {status} {error or 'error'}; "
        "the stored token was kept.",
        code=error or f"HTTP_{status}",
        hint=HINTS.get(error, "").format(host=accounts_url),
        accounts_server=accounts_url,
        http_status=status,
    )


def _post_revoke(entry: StoredToken, timeout_s: float) -> tuple[str, int, object]:
    """(accounts server, HTTP status, decoded body or None) of the revoke request, sent
    only to the entry's own accounts server (checked like every request)."""
    accounts, _ = check_org_endpoints(
        entry.org, entry.dc, entry.accounts_url, entry.api_domain, custom_dc=entry.custom_dc
    )
    policy = DestinationPolicy.for_org(entry.dc, is_loopback_url(accounts))
    url = REVOKE.url(accounts)
    try:
        with new_session(user_agent=None, policy=policy) as s:
            r = s.post(
                url, data={"token": entry.refresh_token}, timeout=timeout_s, allow_redirects=False
            )
    except requests.RequestException as exc:
        raise TransportError(
            f"revoke request to {accounts} got no answer ({type(exc).__name__}); "
            "the stored token was kept",
            code=type(exc).__name__,
        ) from None
    try:
        body = decode_json(r)
    except ResponseFormatError:
        body = None
    return accounts, r.status_code, body
