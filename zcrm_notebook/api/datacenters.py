"""Zoho data centers: codes, accounts servers and API domains, and where each comes from.

Every row names its sources (``DataCenter.source``; ``docs/zoho-api.md``, "Data
centers"): Zoho's Python SDK for CRM v8 (``zohocrmsdk/src/com/zoho/crm/api/dc/*.py``,
eight data centers with their sandbox and developer hosts) and the CRM pages
https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html (US, EU, IN, AU, JP, CN, CA)
and https://www.zoho.com/crm/developer/docs/api/v4/access-refresh.html (adds SA). No Zoho
CRM source gives the UK data center's hosts: its row is ``verified=False`` and using it
warns once (:mod:`zcrm_notebook.api.unverified`). Tokens are per data center and per
environment; ``api_domain`` from the token answer is the authority for API calls. Traps:
Canada's accounts host is ``zohocloud.ca`` but its API host ``zohoapis.ca``; Australia is
``.com.au``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import DataCenterError
from ..redact import shown
from .unverified import warn_unverified

__all__ = [
    "DataCenter",
    "DATA_CENTERS",
    "ENVIRONMENTS",
    "get_dc",
    "dc_for_api_domain",
    "dc_for_accounts_server",
    "hostname",
    "zoho_hosts",
    "describe_data_centers",
    "dc_codes",
]

ENVIRONMENTS = ("production", "sandbox", "developer")


@dataclass(frozen=True)
class DataCenter:
    """One Zoho data center.

    Attributes
    ----------
    code : str
        Short code used everywhere in this package (``us``, ``eu``...).
    name : str
        Human name.
    accounts_server : str
        Zoho Accounts base URL (``https://accounts.zoho.eu``); tokens come from here.
    api_domain : str
        Production CRM API base URL (``https://www.zohoapis.eu``).
    verified : bool
        False when no Zoho CRM source gives the hosts (they follow the naming pattern).
    source : str
        Where the hosts come from (Zoho's SDK, CRM or Accounts pages).
    """

    code: str
    name: str
    accounts_server: str
    api_domain: str
    verified: bool = True
    source: str = ""

    @property
    def tld(self) -> str:
        """Top-level part of the API host after ``zohoapis.`` (``eu``, ``com.au``)."""
        return urlsplit(self.api_domain).hostname.split("zohoapis.", 1)[1]  # type: ignore[union-attr]

    def api_domain_for(self, environment: str = "production") -> str:
        """API base URL for ``production``, ``sandbox`` or ``developer`` orgs.

        Raises
        ------
        DataCenterError
            For any other environment name.
        """
        if environment == "production":
            return self.api_domain
        if environment in ("sandbox", "developer"):
            return f"https://{environment}.zohoapis.{self.tld}"
        raise DataCenterError(
            f"unknown environment {environment!r}; expected one of {', '.join(ENVIRONMENTS)}"
        )

    @property
    def api_domains(self) -> tuple[str, ...]:
        """The API base URLs of all environments of this data center."""
        return tuple(self.api_domain_for(env) for env in ENVIRONMENTS)


def _dc(code: str, name: str, accounts: str, api: str, source: str) -> DataCenter:
    return DataCenter(code, name, f"https://{accounts}", f"https://{api}", True, source)


_V8 = "SDK; CRM v8 multi-dc.html"
DATA_CENTERS: dict[str, DataCenter] = {
    d.code: d
    for d in (
        _dc("us", "United States", "accounts.zoho.com", "www.zohoapis.com", _V8),
        _dc("eu", "Europe", "accounts.zoho.eu", "www.zohoapis.eu", _V8),
        _dc("in", "India", "accounts.zoho.in", "www.zohoapis.in", _V8),
        _dc("au", "Australia", "accounts.zoho.com.au", "www.zohoapis.com.au", _V8),
        _dc("jp", "Japan", "accounts.zoho.jp", "www.zohoapis.jp", _V8),
        _dc("cn", "China", "accounts.zoho.com.cn", "www.zohoapis.com.cn", _V8),
        _dc("ca", "Canada", "accounts.zohocloud.ca", "www.zohoapis.ca", _V8),
        _dc(
            "sa",
            "Saudi Arabia",
            "accounts.zoho.sa",
            "www.zohoapis.sa",
            "SDK; CRM v4 access-refresh.html",
        ),
        DataCenter(
            "uk",
            "United Kingdom",
            "https://accounts.zoho.uk",
            "https://www.zohoapis.uk",
            verified=False,
            source="accounts server: Zoho Accounts multi-dc.html; API hosts: naming pattern only",
        ),
    )
}
"""The data centers. ``SDK`` in a source: Zoho's Python SDK for CRM v8, which also gives
the sandbox and developer hosts of its eight data centers."""


def _used(dc: DataCenter) -> DataCenter:
    """``dc``, after warning once that its hosts are unverified (when they are)."""
    if not dc.verified:
        warn_unverified(
            f"dc:{dc.code}",
            f"data center {dc.code} is not confirmed by a Zoho CRM source: its API domain "
            f"{dc.api_domain} follows the naming pattern only ({dc.source}); if Zoho "
            "answers INVALID_URL_PATTERN, check the api_domain of your token answer",
            stacklevel=4,
        )
    return dc


def dc_codes() -> str:
    """The data-center codes, unverified ones marked: ``us, eu, ..., uk (UNVERIFIED)``."""
    return ", ".join(
        dc.code + ("" if dc.verified else " (UNVERIFIED)") for dc in DATA_CENTERS.values()
    )


def describe_data_centers() -> str:
    """One line per data center: code, accounts server, API domain, sources (for --help)."""
    lines = []
    for dc in DATA_CENTERS.values():
        hosts = f"{dc.code}  {dc.accounts_server:<30} {dc.api_domain:<28}"
        lines.append(f"  {hosts} {'' if dc.verified else 'UNVERIFIED: '}{dc.source}")
    return "\n".join(lines)


def get_dc(code: str) -> DataCenter:
    """Look a data center up by its code (case and surrounding spaces ignored).

    An unverified data center (``uk``) warns once (``UnverifiedFactWarning``).

    Raises
    ------
    DataCenterError
        If the code is unknown; the message lists the valid codes.
    """
    key = str(code).strip().lower()
    try:
        return _used(DATA_CENTERS[key])
    except KeyError:
        raise DataCenterError(
            f"unknown data center {shown(code)}; valid codes: {', '.join(DATA_CENTERS)}"
        ) from None


def hostname(url: str) -> str:
    """The lower-case host of ``url`` (a bare host counts as ``https://host``)."""
    if "://" not in url:
        url = "https://" + url
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # a host urllib.parse refuses (NFKC forms): no host of ours
        return ""


def dc_for_api_domain(api_domain: str) -> DataCenter:
    """The data center whose production, sandbox or developer API host is ``api_domain``.

    Raises
    ------
    DataCenterError
        If the host belongs to no data center.
    """
    host = hostname(api_domain)
    for dc in DATA_CENTERS.values():
        if host in {hostname(u) for u in dc.api_domains}:
            return _used(dc)
    raise DataCenterError(f"{shown(api_domain)} is not the API domain of any Zoho data center")


def dc_for_accounts_server(accounts_server: str) -> DataCenter:
    """The data center whose accounts server is ``accounts_server``.

    Raises
    ------
    DataCenterError
        If the host is not an accounts server of the DC table.
    """
    host = hostname(accounts_server)
    for dc in DATA_CENTERS.values():
        if host == hostname(dc.accounts_server):
            return _used(dc)
    raise DataCenterError(
        f"{shown(accounts_server)} is not the accounts server of any Zoho data center"
    )


def zoho_hosts() -> set[str]:
    """Every accounts server and API host of the data-center table (lower case)."""
    hosts = set()
    for dc in DATA_CENTERS.values():
        hosts.add(hostname(dc.accounts_server))
        hosts.update(hostname(u) for u in dc.api_domains)
    return hosts
