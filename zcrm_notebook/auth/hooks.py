"""Zoho's OAuth quirks as requests-oauthlib compliance hooks, and the token-endpoint call.

requests-oauthlib (``OAuth2Session.fetch_token`` / ``refresh_token``) does the OAuth 2.0
work; every Zoho deviation from RFC 6749 is one small named function here
(``docs/zoho-api.md``; Zoho Accounts "OAuth 2.0" pages,
https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token.html and
https://www.zoho.com/crm/developer/docs/api/v8/refresh.html):

* :func:`zoho_json_object` -- an outage page or proxy HTML is a format error, not a token;
* :func:`zoho_register_secrets` -- new tokens are masked in logs before anything logs them;
* :func:`zoho_error_in_200` -- failures come back as HTTP 200 with an ``error`` key;
  any answer with ``error`` or without ``access_token`` raises a typed error with a hint;
* :func:`zoho_expires_in_seconds` -- ``expires_in`` is milliseconds when
  ``expires_in_sec`` is present.

:func:`zoho_token_response` runs them in that order (requests-oauthlib keeps its hooks in
a ``set``, so one registered hook is the only way to fix their order).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

from ..api.answers import CODE_LIMIT, decode_json
from ..api.destinations import DestinationPolicy, is_loopback_url
from ..api.endpoints import AUTHORIZE, MASS_CONVERT_READ_SCOPE, REVOKE, TOKEN
from ..api.transport import new_session
from ..errors import (
    AccountsUnreachableError,
    ResponseFormatError,
    TokenEndpointError,
    TokenThrottledError,
    TransportError,
    ZcrmError,
)
from ..redact import clean_text, register_secret

__all__ = [
    "TOKEN_PATH",
    "REVOKE_PATH",
    "AUTH_PATH",
    "HINTS",
    "TOKEN_ERRORS",
    "token_lifetime_s",
    "zoho_json_object",
    "zoho_register_secrets",
    "zoho_error_in_200",
    "zoho_expires_in_seconds",
    "zoho_token_response",
    "make_oauth_session",
    "token_error",
    "call_token_endpoint",
]

log = logging.getLogger(__name__)

TOKEN_PATH = TOKEN.path
REVOKE_PATH = REVOKE.path
AUTH_PATH = AUTHORIZE.path
DEFAULT_LIFETIME_S = 3600.0  # Zoho: an access token lives one hour
MAX_LIFETIME_S = 24 * 3600.0
THROTTLED = "Access Denied"

HINTS = {
    "invalid_client": (
        "Zoho Accounts at {host} does not know this client id. Check that the org's data "
        "center is right (each data center has its own accounts server) and, for a client "
        "created in another data center, that multi-DC is enabled for it in the Zoho API "
        "console (Client > Settings)."
    ),
    "invalid_code": (
        "The grant token was already used or has expired (grant tokens work once; a Self "
        "Client's lives 3 minutes unless a longer time was picked, a web flow's 2 minutes), "
        "or the refresh token was revoked (or was the first of more than 20 refresh tokens "
        "of the user). Generate a new grant token in the "
        f"Zoho API console (Self Client > Generate Code, scope {MASS_CONVERT_READ_SCOPE}) "
        "and run "
        "`zcrm-notebook auth --org NAME --grant-token CODE` within its lifetime."
    ),
    "invalid_client_secret": (
        "The client secret does not match the client id: check it for stray whitespace, a "
        "missing character or a secret of another client."
    ),
    "invalid_redirect_uri": "The redirect URI differs from the one registered for the client.",
    "access_denied": (
        "The user denied access, or more than 10 grant tokens were made for this client id "
        "within 10 minutes (Zoho refuses for the rest of those 10 minutes: wait, then "
        "generate one grant token)."
    ),
    "unsupported_grant_type": "Zoho did not accept the grant type (a bug: please report it).",
    "missing_access_token": "The answer had no access_token; nothing was stored.",
    THROTTLED: (
        "Zoho throttles token creation (at most 10 access tokens per refresh token per 10 "
        "minutes). Wait a few minutes before retrying; access tokens are cached for their "
        "hour, so this only happens when many processes refresh the same token."
    ),
}


#: Zoho Accounts' ``error`` -> what the package does (``docs/zoho-api.md``, "Token
#: endpoint", which mirrors this table): ``report_user`` ends the org with the hint (a new
#: grant token, the client id/secret, the data center); ``wait_and_retry`` backs the org off
#: (:class:`TokenThrottledError`); ``end_run`` is a bug of this package. Any other word is
#: ``report_user``.
TOKEN_ERRORS = {
    "invalid_code": "report_user",
    "invalid_client": "report_user",
    "invalid_client_secret": "report_user",
    "invalid_redirect_uri": "report_user",
    THROTTLED: "wait_and_retry",
    "access_denied": "report_user",
    "unsupported_grant_type": "end_run",
}


def token_lifetime_s(answer: dict) -> float:
    """Lifetime of a token answer, in seconds, sanity-checked.

    Zoho's rule (its official SDKs; ``docs/zoho-api.md``): if ``expires_in_sec`` is
    present it is the lifetime in seconds (and ``expires_in`` is milliseconds); otherwise
    ``expires_in`` is seconds.

    Parameters
    ----------
    answer : dict
        The decoded token answer.

    Returns
    -------
    float
        Seconds, in (0, 86400]. A value above a day without ``expires_in_sec`` is taken as
        milliseconds; a missing, non-numeric (a boolean too), too large to be a float, or
        non-positive value means Zoho's documented hour; anything still above a day is
        capped at a day.
    """
    raw = answer.get("expires_in_sec", answer.get("expires_in"))
    if isinstance(raw, bool):  # JSON true is no lifetime (float(True) would be 1 s)
        return DEFAULT_LIFETIME_S
    try:
        value = float(raw)  # type: ignore[arg-type]  # None and junk: TypeError/ValueError
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int of 400 digits
        return DEFAULT_LIFETIME_S
    if value != value or value <= 0:  # NaN or nonsense
        return DEFAULT_LIFETIME_S
    if "expires_in_sec" not in answer and value > MAX_LIFETIME_S:
        value /= 1000.0
    return min(value, MAX_LIFETIME_S)


def accounts_server_of(url: str) -> str:
    """The accounts server a token URL belongs to: ``https://accounts.zoho.eu``."""
    base = str(url).split("?", 1)[0].rstrip("/")
    for path in (REVOKE_PATH, TOKEN_PATH, AUTH_PATH):
        if base.endswith(path):
            return base[: -len(path)]
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def token_error(
    code: str, accounts_server: str, *, description: str = "", http_status: int | None = None
) -> TokenEndpointError:
    """A typed error for Zoho's ``error`` value, naming the accounts server and a hint.

    ``"Access Denied"`` (or a "too many requests" description) gives
    :class:`TokenThrottledError`; everything else :class:`TokenEndpointError`.
    """
    code = clean_text(code or "unknown_error", CODE_LIMIT).strip()
    description = clean_text(description)
    if code.lower() == THROTTLED.lower() or "too many requests" in description.lower():
        code = THROTTLED
    hint = HINTS.get(code, "").format(host=accounts_server)
    throttled = TOKEN_ERRORS.get(code) == "wait_and_retry"
    cls = TokenThrottledError if throttled else TokenEndpointError
    what = f"{code} ({description})" if description and code != THROTTLED else code
    return cls(
        f"token request to {accounts_server} failed: {what}.",
        code=code,
        hint=hint,
        accounts_server=accounts_server,
        http_status=http_status,
    )


# --- compliance hooks: each takes and returns a requests.Response ----------------------


def zoho_json_object(r: requests.Response) -> requests.Response:
    """Refuse a token answer that is not a JSON object (proxy HTML, outage page).

    Raises
    ------
    ResponseFormatError
        Naming the accounts server and the HTTP status.
    """
    try:
        body = decode_json(r)
    except ResponseFormatError:
        body = None
    if not isinstance(body, dict):
        raise ResponseFormatError(
            f"token endpoint {accounts_server_of(r.url)} answered HTTP {r.status_code} with "
            "a body that is not a JSON object (an outage page or a proxy?)",
            http_status=r.status_code,
        )
    return r


def zoho_register_secrets(r: requests.Response) -> requests.Response:
    """Register the answer's tokens for log redaction before anything else can log them."""
    body = decode_json(r)
    assert isinstance(body, dict)  # zoho_json_object ran first
    register_secret(body.get("access_token"))
    register_secret(body.get("refresh_token"))
    return r


def zoho_error_in_200(r: requests.Response) -> requests.Response:
    """Zoho answers failures with HTTP 200 and an ``error`` key: raise, store nothing.

    Zoho Accounts, "Generate access token" errors (``invalid_code``, ``invalid_client``,
    ``invalid_client_secret``; ``Access Denied`` when throttled).

    Raises
    ------
    TokenEndpointError
        The answer has an ``error`` key (whatever the HTTP status) or no ``access_token``.
    TokenThrottledError
        ``"Access Denied"``: too many token requests.
    """
    body = decode_json(r)
    assert isinstance(body, dict)  # zoho_json_object ran first
    host = accounts_server_of(r.url)
    if body.get("error"):
        desc = body.get("error_description") or ""
        raise token_error(body["error"], host, description=desc, http_status=r.status_code)
    if not str(body.get("access_token") or "").strip():
        raise token_error("missing_access_token", host, http_status=r.status_code)
    return r


def zoho_expires_in_seconds(r: requests.Response) -> requests.Response:
    """Rewrite ``expires_in`` to seconds (Zoho sends ms when ``expires_in_sec`` is present)."""
    body = decode_json(r)
    assert isinstance(body, dict)  # zoho_json_object ran first
    body["expires_in"] = int(token_lifetime_s(body))
    body.pop("expires_in_sec", None)
    r._content = json.dumps(body).encode()
    return r


ZOHO_TOKEN_HOOKS = (
    zoho_json_object,
    zoho_register_secrets,
    zoho_error_in_200,
    zoho_expires_in_seconds,
)


def zoho_token_response(r: requests.Response) -> requests.Response:
    """All of Zoho's token-answer fixes, in order (the one hook registered on a session)."""
    for hook in ZOHO_TOKEN_HOOKS:
        r = hook(r)
    return r


def allow_loopback_http(url: str) -> None:
    """Let oauthlib use ``http://`` for a loopback token URL (the simulator) only.

    oauthlib refuses plain http unless ``OAUTHLIB_INSECURE_TRANSPORT`` is set; this
    package checks every destination itself
    (:class:`zcrm_notebook.api.destinations.DestinationPolicy`)
    and allows http only for loopback, so the flag is set only when such a URL is used.
    """
    if url.startswith("http://") and is_loopback_url(url):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def make_oauth_session(
    client_id: str, *, policy: DestinationPolicy | None = None, **kwargs
) -> OAuth2Session:
    """An ``OAuth2Session`` with Zoho's compliance hooks, no redirects, no proxy env.

    Set up by :func:`zcrm_notebook.api.transport.new_session` like every session:
    every request is checked against ``policy`` (the org's
    :class:`~zcrm_notebook.api.destinations.DestinationPolicy`; default any Zoho host or
    loopback), bounded in time and size; redirects are refused (``max_redirects = 0``: a
    307 would resend the client secret to another host), ``trust_env`` is off. Its
    User-Agent stays requests-oauthlib's.
    """
    session = new_session(OAuth2Session(client_id, **kwargs), user_agent=None, policy=policy)
    session.register_compliance_hook("access_token_response", zoho_token_response)
    session.register_compliance_hook("refresh_token_response", zoho_token_response)
    return session


def call_token_endpoint(
    send: Callable[[], dict], token_url: str, policy: DestinationPolicy | None = None
) -> dict:
    """Run one token request (``send``) and map every failure to this package's errors.

    Parameters
    ----------
    send : callable
        ``() -> dict``: an ``OAuth2Session.fetch_token`` / ``refresh_token`` call.
    token_url : str
        The token URL called (checked against ``policy`` first, named in messages).
    policy : DestinationPolicy, optional
        Where the org may send (default: any Zoho host, or loopback). The session's
        adapter checks the request again right before sending it.

    Returns
    -------
    dict
        The token answer, ``expires_in`` in seconds.

    Raises
    ------
    TokenEndpointError, TokenThrottledError, ResponseFormatError
        From the hooks, or an oauthlib error mapped with its hint.
    TransportError
        No answer (connection error, timeout) or a redirect (refused).
    UnsafeEndpointError
        ``token_url`` is not allowed by ``policy``: nothing was sent.
    """
    (policy or DestinationPolicy.any_zoho()).check(token_url)
    host = accounts_server_of(token_url)
    allow_loopback_http(token_url)
    try:
        return dict(send())
    except ZcrmError:  # the hooks' errors, and the adapter's (unsafe destination, too big)
        raise
    except OAuth2Error as exc:
        raise token_error(
            getattr(exc, "error", "") or type(exc).__name__,
            host,
            description=str(exc.description or ""),
        ) from None
    except requests.TooManyRedirects:
        raise TransportError(
            f"token request to {host} was redirected; refusing to follow (the secret would "
            "be sent again)",
            code="REDIRECT",
        ) from None
    except requests.RequestException as exc:
        raise AccountsUnreachableError(
            f"token request to {host} got no answer ({type(exc).__name__})",
            code=type(exc).__name__,
        ) from None
    except Warning as exc:  # oauthlib's "scope has changed" carries the token: drop it
        raise TokenEndpointError(
            f"token request to {host}: {clean_text(str(exc))}",
            code="scope_changed",
            accounts_server=host,
        ) from None
    except ValueError as exc:  # oauthlib: "expires_in must be an int" and the like
        raise ResponseFormatError(
            f"token answer from {host} is malformed: {clean_text(str(exc))}"
        ) from None
    except (TypeError, AttributeError, KeyError) as exc:  # oauthlib on odd JSON types
        raise ResponseFormatError(
            f"token answer from {host} could not be read ({type(exc).__name__})"
        ) from None
