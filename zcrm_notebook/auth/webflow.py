"""The OAuth web flow for notebooks: authorization URL, pasted redirect, stored credentials.

Zoho Accounts "Authorization request" and "Multi DC support"
(https://www.zoho.com/accounts/protocol/oauth/web-apps/authorization.html,
https://www.zoho.com/accounts/protocol/oauth/multi-dc/client-authorization.html,
https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html; ``docs/zoho-api.md``,
"OAuth"). Step 1, :func:`authorization_url`: open it, sign in, approve; it starts at the
accounts server Zoho's multi-DC guides name (``accounts.zoho.com``; ``accounts.zoho.com.cn``
for China), or at the one of the data center where the client was registered. Step 2,
:func:`complete_authorization`: paste the address Zoho redirected to; its ``code`` is
exchanged once (:func:`zcrm_notebook.auth.grant.exchange_grant_token`) at the
``accounts-server`` it names -- accepted only when that server is in the DC table -- and
the org's data center becomes that server's.

Notebook use::

    client = OAuthClient("acme", "us", "1000.XXXX", getpass("client secret: "))
    url, state = authorization_url(client, "https://example.com/callback")
    # ... open url, approve, copy the address bar ...
    creds = complete_authorization(client, pasted, redirect_uri="https://example.com/callback",
                                   state=state)
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, urlsplit

from ..api.datacenters import DATA_CENTERS, dc_for_accounts_server, get_dc
from ..api.destinations import is_loopback_url
from ..api.endpoints import AUTHORIZE
from ..errors import ConfigError, DataCenterError, TokenEndpointError
from ..redact import clean_text, mask, register_secret, shown
from .credentials import OrgCredentials
from .grant import DEFAULT_SCOPES, OAuthClient, exchange_grant_token
from .hooks import HINTS, make_oauth_session
from .tokenstore import TokenStore

__all__ = ["Redirect", "authorization_url", "parse_redirect", "complete_authorization"]

log = logging.getLogger(__name__)


def authorization_url(
    client: OAuthClient,
    redirect_uri: str,
    *,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    state: str | None = None,
    registered_dc: str | None = None,
) -> tuple[str, str]:
    """The URL to open in a browser to grant access (web flow, step 1).

    Zoho Accounts "Authorization request" (``GET {accounts}/oauth/v2/auth`` with
    ``response_type=code``, comma-separated ``scope``, ``access_type=offline`` for a
    refresh token and ``prompt=consent`` so one is issued again on re-authorization).

    Where it starts: Zoho's CRM multi-DC guide says to make the request at
    ``https://accounts.zoho.com`` for every data center but China
    (``https://accounts.zoho.com.cn``), and Zoho redirects the user to their own; the
    Accounts authorization page says the server of the data center where the client was
    registered. Both agree for a client registered in the US; ``registered_dc`` names
    another registration data center (a client without multi-DC support, registered in
    its users' data center).

    Parameters
    ----------
    client : OAuthClient
    redirect_uri : str
        Exactly as registered for the client in the API console.
    scopes : iterable of str, default ``("ZohoCRM.mass_convert.leads.READ",)``
        The read scope is always included.
    state : str, optional
        CSRF token; a random one by default.
    registered_dc : str, optional
        Data center of the API console where the client was registered; default ``us``
        (``cn`` for a client in China). Ignored for the simulator's loopback server.

    Returns
    -------
    (url, state) : tuple of str
        Keep ``state`` for :func:`complete_authorization`.

    Raises
    ------
    ConfigError
        Empty ``redirect_uri``.
    """
    if not str(redirect_uri or "").strip():
        raise ConfigError("redirect_uri is empty: give the one registered for the client")
    wanted = [*AUTHORIZE.scopes, *(s.strip() for s in scopes if s.strip())]
    scope = ",".join(dict.fromkeys(wanted))  # Zoho separates scopes with commas
    session = make_oauth_session(client.client_id, redirect_uri=redirect_uri, scope=scope)
    url, state = session.authorization_url(
        AUTHORIZE.url(_start_server(client, registered_dc)),
        state=state or secrets.token_urlsafe(16),
        access_type="offline",
        prompt="consent",
    )
    return url, state


def _start_server(client: OAuthClient, registered_dc: str | None) -> str:
    """The accounts server the browser flow starts at (see :func:`authorization_url`)."""
    if client.allows_loopback:
        return client.accounts_url
    default = "cn" if client.dc == "cn" else "us"
    return get_dc(registered_dc or default).accounts_server


@dataclass(frozen=True)
class Redirect:
    """What Zoho's redirect carries back: the code and the user's data center.

    Attributes
    ----------
    code : str
        The grant token (masked in the repr).
    dc : str
        Data center of ``accounts_server``.
    accounts_server : str
        Zoho's ``accounts-server`` parameter (from the DC table, or the simulator's).
    location : str
        Zoho's ``location`` parameter ("" when absent).
    state : str
    """

    code: str = field(repr=False)
    dc: str
    accounts_server: str
    location: str = ""
    state: str = ""

    def __repr__(self) -> str:
        return (
            f"Redirect(code={mask(self.code)!r}, dc={self.dc!r}, "
            f"accounts_server={self.accounts_server!r}, location={self.location!r})"
        )


def _redirect_dc(server: str, location: str, loopback_server: str | None) -> str:
    if loopback_server and is_loopback_url(server):
        if server.rstrip("/") != loopback_server.rstrip("/"):
            raise DataCenterError(f"accounts-server {server!r} is not the simulator's accounts URL")
        return location.lower()
    try:
        known = dc_for_accounts_server(server)
    except DataCenterError:
        raise DataCenterError(
            f"redirect names accounts-server {server!r}, which is not a Zoho accounts server "
            f"of the data-center table ({', '.join(DATA_CENTERS)}); refusing to send "
            "the grant token there"
        ) from None
    if server.rstrip("/").lower() != known.accounts_server:
        raise DataCenterError(f"accounts-server {server!r} must be exactly {known.accounts_server}")
    if location and location.lower() in DATA_CENTERS and location.lower() != known.code:
        raise DataCenterError(
            f"redirect is inconsistent: location={location!r} but accounts-server is "
            f"{known.accounts_server} (data center {known.code!r})"
        )
    return known.code


def parse_redirect(
    url: str, *, state: str | None = None, loopback_accounts: str | None = None
) -> Redirect:
    """Read the redirect URL the user pasted back (web flow, step 2).

    Zoho appends ``code``, ``location`` and ``accounts-server`` (and ``state``), or
    ``error`` when the user declined.

    Parameters
    ----------
    url : str
        The full URL from the browser's address bar.
    state : str, optional
        The state from :func:`authorization_url`; checked when given.
    loopback_accounts : str, optional
        The simulator's accounts URL, accepted as ``accounts-server`` (tests, demos).

    Returns
    -------
    Redirect

    Raises
    ------
    TokenEndpointError
        The redirect carries ``error`` (e.g. ``access_denied``).
    ConfigError
        No ``code``/``accounts-server``, a state mismatch.
    DataCenterError
        ``accounts-server`` not in the DC table, or disagreeing with ``location``.
    """
    try:
        parts = urlsplit(str(url).strip())
    except ValueError:  # e.g. a fullwidth character in the host part
        raise ConfigError(f"the redirect URL {shown(str(url))} is not a URL") from None
    query = {k: v[0].strip() for k, v in parse_qs(parts.query).items()}
    if query.get("error"):
        code = clean_text(query["error"], 80)
        raise TokenEndpointError(
            f"authorization was not granted: {code}", code=code, hint=HINTS.get(code, "")
        )
    for key in ("code", "accounts-server"):
        if not query.get(key):
            raise ConfigError(
                f"the redirect URL has no {key!r} parameter; paste the whole address Zoho "
                "redirected to (it contains code=..., location=... and accounts-server=...)"
            )
    register_secret(query["code"])
    if state is not None and query.get("state") != state:
        raise ConfigError("the redirect's state does not match the authorization URL's")
    server, location = query["accounts-server"], query.get("location", "")
    dc = _redirect_dc(server, location, loopback_accounts)
    return Redirect(query["code"], dc, server.rstrip("/"), location, query.get("state", ""))


def complete_authorization(
    client: OAuthClient,
    redirect_url: str,
    *,
    redirect_uri: str,
    state: str | None = None,
    store: TokenStore | str | os.PathLike | None = None,
    timeout_s: float = 30.0,
) -> OrgCredentials:
    """Turn the pasted redirect URL into stored credentials (web flow, step 2).

    The user's data center comes from the redirect's ``accounts-server`` (multi-DC: a
    client created in the US may authorize an EU user); the code is exchanged there,
    once, with :func:`exchange_grant_token`.

    Raises
    ------
    As :func:`parse_redirect` and :func:`exchange_grant_token`.
    """
    loopback = client.accounts_url if client.allows_loopback else None
    red = parse_redirect(redirect_url, state=state, loopback_accounts=loopback)
    if not client.allows_loopback and red.dc != client.dc:
        log.info("org %s: user is in data center %s (client: %s)", client.org, red.dc, client.dc)
        client = replace(client, dc=red.dc, accounts_url="", api_domain="")
    return exchange_grant_token(
        client, red.code, redirect_uri=redirect_uri, store=store, timeout_s=timeout_s
    )
