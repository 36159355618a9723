"""Zoho data centers: codes, accounts servers and API domains.

Source: Zoho CRM API "Multi DC" page (https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html)
and Zoho Accounts OAuth docs (``docs/zoho-api.md``). Tokens are per data center and per
environment; ``api_domain`` from the token answer is the authority for API calls. Traps:
Canada's accounts host is ``zohocloud.ca`` but its API host ``zohoapis.ca``; Australia is
``.com.au``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import DataCenterError
from ..redact import shown

__all__ = [
    "DataCenter",
    "DATA_CENTERS",
    "ENVIRONMENTS",
    "get_dc",
    "dc_for_api_domain",
    "dc_for_accounts_server",
    "hostname",
    "zoho_hosts",
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
    """

    code: str
    name: str
    accounts_server: str
    api_domain: str

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


def _dc(code: str, name: str, accounts: str, api: str) -> DataCenter:
    return DataCenter(code, name, f"https://{accounts}", f"https://{api}")


DATA_CENTERS: dict[str, DataCenter] = {
    d.code: d
    for d in (
        _dc("us", "United States", "accounts.zoho.com", "www.zohoapis.com"),
        _dc("eu", "Europe", "accounts.zoho.eu", "www.zohoapis.eu"),
        _dc("in", "India", "accounts.zoho.in", "www.zohoapis.in"),
        _dc("au", "Australia", "accounts.zoho.com.au", "www.zohoapis.com.au"),
        _dc("jp", "Japan", "accounts.zoho.jp", "www.zohoapis.jp"),
        _dc("cn", "China", "accounts.zoho.com.cn", "www.zohoapis.com.cn"),
        _dc("ca", "Canada", "accounts.zohocloud.ca", "www.zohoapis.ca"),
        _dc("sa", "Saudi Arabia", "accounts.zoho.sa", "www.zohoapis.sa"),
        _dc("uk", "United Kingdom", "accounts.zoho.uk", "www.zohoapis.uk"),
    )
}


def get_dc(code: str) -> DataCenter:
    """Look a data center up by its code (case and surrounding spaces ignored).

    Raises
    ------
    DataCenterError
        If the code is unknown; the message lists the valid codes.
    """
    key = str(code).strip().lower()
    try:
        return DATA_CENTERS[key]
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
            return dc
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
            return dc
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
