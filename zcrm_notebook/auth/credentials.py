"""Who an org is to Zoho: its credentials and endpoints, and an access token.

:class:`OrgCredentials` checks, once, that an org's accounts server and API domain belong
to its data center (or are loopback, for the simulator) and registers its secrets for log
redaction; :class:`AccessToken` is a token with its expiry. Value objects only: the token
cache (:mod:`zcrm_notebook.auth.tokens`) and the token store
(:mod:`zcrm_notebook.auth.tokenstore`) both build on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.datacenters import DATA_CENTERS, get_dc, hostname
from ..api.destinations import DestinationPolicy, is_loopback_url
from ..api.endpoints import API_VERSIONS, MASS_CONVERT_STATUS, TOKEN
from ..api.unverified import warn_unverified
from ..errors import ConfigError, DataCenterError
from ..redact import mask, register_secret, shown

__all__ = [
    "OrgCredentials",
    "AccessToken",
    "check_org_endpoints",
    "check_org_label",
    "API_VERSIONS",
]

SAFETY_MARGIN_S = 60.0  # refresh a token this long before it expires


def check_org_endpoints(
    org: str, dc: str, accounts_url: str, api_domain: str, *, custom_dc: bool = False
) -> tuple[str, str]:
    """Checked (accounts_url, api_domain) of an org; loopback only as a pair (simulator).

    The same checks as every request's (:class:`DestinationPolicy`), made early so that a
    bad config is an error at load time. A data-center code outside the table is refused,
    whatever the URLs, unless the org declares it with ``custom_dc``: then both URLs must
    be loopback (a test server), since a token only ever goes to a host of the table or to
    loopback.

    Raises
    ------
    DataCenterError, UnsafeEndpointError, ConfigError
        Unknown DC (the message lists the valid codes); a malformed URL, one outside the
        DC table or not HTTPS on the default port; a Zoho URL of another DC;
        ``custom_dc`` with a Zoho code or without two loopback URLs.
    """
    if custom_dc or dc not in DATA_CENTERS:
        _check_custom_dc(org, dc, accounts_url, api_domain, custom_dc)
    if accounts_url and is_loopback_url(accounts_url):
        if not api_domain:
            raise ConfigError(f"org {shown(org)}: a loopback accounts_url needs an api_domain too")
        policy = DestinationPolicy.for_org(dc, loopback=True)
        policy.check(accounts_url)
        return str(accounts_url).rstrip("/"), policy.check_api_domain(api_domain)
    known = get_dc(dc)
    accounts = str(accounts_url or known.accounts_server).rstrip("/")
    if DestinationPolicy.any_zoho(loopback=False).check(accounts).host != hostname(
        known.accounts_server
    ):
        raise ConfigError(
            f"org {shown(org)}: accounts_url {shown(accounts)} is not the accounts server of "
            f"data center {known.code!r} ({known.accounts_server})"
        )
    policy = DestinationPolicy.for_org(known.code, loopback=False)
    policy.check(accounts)
    return accounts, policy.check_api_domain(api_domain or known.api_domain)


def _check_custom_dc(
    org: str, dc: str, accounts_url: str, api_domain: str, custom_dc: bool
) -> None:
    """A code outside the data-center table: only declared, and only on loopback."""
    if not custom_dc:
        raise DataCenterError(
            f"org {shown(org)}: unknown data center {shown(dc)}; valid codes: "
            f"{', '.join(DATA_CENTERS)} (a test server on loopback may use its own code "
            "with custom_dc = true)"
        )
    if dc in DATA_CENTERS or not dc:
        raise ConfigError(
            f"org {shown(org)}: custom_dc = true is for a code outside Zoho's data centers, "
            f"not {shown(dc)}; remove custom_dc"
        )
    if not all(url and is_loopback_url(url) for url in (accounts_url, api_domain)):
        raise ConfigError(
            f"org {shown(org)}: custom data center {shown(dc)} needs accounts_url and "
            "api_domain on loopback (http://127.0.0.1:PORT); a real Zoho org uses one of "
            f"{', '.join(DATA_CENTERS)}"
        )


MAX_LABEL = 100


def settle_org_fields(obj: Any, required: tuple[str, ...], what: str) -> None:
    """Check and normalise the fields an org's credentials and its OAuth client share, in
    place on the frozen dataclass ``obj``: the org label, ``dc`` (lower case), the
    ``required`` texts (stripped, not empty), the client secret registered for masking,
    ``accounts_url`` and ``api_domain`` (:func:`check_org_endpoints`).

    Raises
    ------
    ConfigError
        ``{what} 'label': name is empty``, or as :func:`check_org_label` and
        :func:`check_org_endpoints`.
    """
    set_ = object.__setattr__
    org = obj.org
    check_org_label(org)
    set_(obj, "dc", str(obj.dc).strip().lower())
    for name in required:
        value = str(getattr(obj, name) or "").strip()
        if not value:
            raise ConfigError(f"{what} {org!r}: {name} is empty")
        set_(obj, name, value)
    register_secret(obj.client_secret)
    accounts, api = check_org_endpoints(
        org,
        obj.dc,
        obj.accounts_url,
        obj.api_domain,
        custom_dc=obj.custom_dc,
    )
    set_(obj, "accounts_url", accounts)
    set_(obj, "api_domain", api)


def check_org_label(org: object) -> str:
    """An org label as given, if it is printable text (1-100 characters).

    A label is written into log lines, snapshot rows and file names: a newline, a
    terminal escape or any other character outside printable text could forge them.

    Raises
    ------
    ConfigError
        Not text, empty, too long, or holding a control (or other non-printable)
        character; the message shows the label with ``repr``.
    """
    if not isinstance(org, str) or not org.strip():
        raise ConfigError(f"org label {shown(org)} must be non-empty text")
    if len(org) > MAX_LABEL or not org.isprintable():
        raise ConfigError(
            f"org label {shown(org)} must be printable text of at most {MAX_LABEL} "
            "characters (no newline, tab or other control character)"
        )
    return org


@dataclass(frozen=True)
class OrgCredentials:
    """Credentials and endpoints of one Zoho org.

    Parameters
    ----------
    org : str
        Label of the org (used in snapshots and the token store).
    dc : str
        Data-center code (see :data:`zcrm_notebook.api.datacenters.DATA_CENTERS`); another
        code only with ``custom_dc``.
    client_id, client_secret : str
        From the Zoho API console. Surrounding whitespace is removed; the secret is never
        shown in reprs.
    refresh_token : str
        Long-lived refresh token. Never shown in reprs.
    api_version : str, default ``"v5"``
        CRM API version of the calls: ``v5`` .. ``v8``, or ``v4`` (Zoho documents the mass
        convert POST from v4 but its status call only from v5: ``v4`` warns once,
        ``UnverifiedFactWarning``).
    accounts_url : str, optional
        Accounts server; defaults to the DC's. Must be the DC's accounts server, or
        loopback (then ``api_domain`` is required).
    api_domain : str, optional
        CRM API base URL; defaults to the DC's production domain. Must be one of the DC's
        API domains (production, sandbox, developer), or loopback when ``accounts_url``
        is. A token answer's ``api_domain`` replaces it (Zoho: the authority for calls).
    token_store : str, optional
        Token store file the credentials came from (:mod:`zcrm_notebook.auth.tokenstore`);
        when set, the token cache starts from the stored access token and writes new
        ones back, so separate processes do not each spend one of Zoho's token creations.
    custom_dc : bool, default False
        ``dc`` is a code of your own (a test server), not a Zoho data center: allowed
        only with both ``accounts_url`` and ``api_domain`` on loopback. Snapshots carry
        the code in their ``dc`` column.

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
    custom_dc: bool = False

    def __post_init__(self) -> None:
        settle_org_fields(self, ("client_id", "client_secret", "refresh_token"), "org")
        register_secret(self.refresh_token)
        if self.api_version not in API_VERSIONS:
            raise ConfigError(
                f"org {self.org!r}: api_version {shown(self.api_version)} is not one of "
                f"{', '.join(API_VERSIONS)}"
            )
        if self.api_version not in MASS_CONVERT_STATUS.versions:
            warn_unverified(
                f"version:{self.api_version}",
                f"api_version {self.api_version}: Zoho documents the mass convert status call "
                f"from v5 only (no {self.api_version} page found); if Zoho answers "
                "INVALID_URL_PATTERN, use v5..v8",
            )

    @property
    def allows_loopback(self) -> bool:
        """True when the org is configured for a loopback endpoint (the simulator)."""
        return is_loopback_url(self.accounts_url)

    @property
    def destinations(self) -> DestinationPolicy:
        """Where this org's requests may go: its data center's hosts, or loopback."""
        return DestinationPolicy.for_org(self.dc, self.allows_loopback)

    @property
    def token_url(self) -> str:
        """``{accounts_url}/oauth/v2/token``."""
        return TOKEN.url(self.accounts_url)

    def __repr__(self) -> str:
        store = f", token_store={self.token_store!r}" if self.token_store else ""
        store += ", custom_dc=True" if self.custom_dc else ""
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
