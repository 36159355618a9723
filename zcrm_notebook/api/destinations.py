"""Where a request may go: a host of the org's data center over HTTPS, or loopback.

Every URL is read with ``urllib3.util.parse_url``, the parser urllib3 (and so requests)
uses to pick the host it connects to, so the host checked is the host connected to. A URL
whose authority holds anything but a host and an optional port is refused, whatever the
parsers would make of it: user info (even an empty ``@``), a backslash anywhere, ``%`` in
the authority, a control character, whitespace or a non-ASCII character anywhere, a host
that is neither a plain DNS name (``[a-z0-9-]`` labels) nor a canonical IP literal, an
empty host, a scheme other than ``http`` / ``https``. As a second opinion
``urllib.parse.urlsplit`` must agree on scheme, host and port (RFC 3986 section 3.2).

A :class:`DestinationPolicy` says what one org may reach: for a data-center org the
accounts server and the API hosts (production, sandbox, developer) of *its* data center,
over HTTPS on the default port; for the simulator (a loopback org) loopback only
(``localhost``, 127.0.0.0/8, ``[::1]``; ``http`` or ``https``, any port). The check runs in
:class:`zcrm_notebook.api.transport.ZohoAdapter` right before each request is sent; the
early checks of the credentials call the same functions. Anything else is an
:class:`~zcrm_notebook.errors.UnsafeEndpointError` before a byte is sent.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from ..errors import UnsafeEndpointError
from ..redact import shown
from .datacenters import DATA_CENTERS, get_dc, hostname

__all__ = [
    "Destination",
    "DestinationPolicy",
    "parse_destination",
    "is_loopback_url",
    "check_token_destination",
]

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_SCHEMES = ("http", "https")
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x21-\x7e]|\\")  # and the backslash


@dataclass(frozen=True)
class Destination:
    """Where a URL sends a request: scheme, host (lower case; IPv6 in brackets), port."""

    scheme: str
    host: str
    port: int | None

    @property
    def is_loopback(self) -> bool:
        """``localhost``, a canonical 127.0.0.0/8 address, or ``[::1]``."""
        return _loopback_host(self.host)

    @property
    def default_https(self) -> bool:
        """HTTPS on its default port (no port, or 443)."""
        return self.scheme == "https" and self.port in (None, 443)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}" + (f":{self.port}" if self.port else "")


@functools.lru_cache(maxsize=256)
def _loopback_host(host: str) -> bool:
    if host in ("localhost", "[::1]"):
        return True
    return _canonical_ipv4(host) and ipaddress.IPv4Address(host).is_loopback


def _canonical_ipv4(host: str) -> bool:
    try:
        return str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        return False


def _canonical_ipv6(host: str) -> bool:
    inner = host[1:-1] if host.startswith("[") and host.endswith("]") else ""
    try:
        return bool(inner) and str(ipaddress.IPv6Address(inner)) == inner
    except ValueError:
        return False


def _refuse(url: object, why: str) -> UnsafeEndpointError:
    return UnsafeEndpointError(f"refusing URL {shown(str(url))}: {why}")


def parse_destination(url: object) -> Destination:
    """The scheme, host and port a request to ``url`` would connect to, or a refusal.

    Raises
    ------
    UnsafeEndpointError
        For anything in the authority but a host and an optional port, or any character
        or form on which parsers may disagree (see the module docstring).
    """
    text = str(url)
    head, question, query = text.partition("?")
    if question and _PLAIN_QUERY.fullmatch(query):
        # A query of plain characters moves neither parser's authority (it ends at the
        # first "/", "?" or "#"): the status URL of every job is read as its cached head.
        # A refused head is read again whole, so the refusal names the URL.
        try:
            return _parse(head)
        except UnsafeEndpointError:
            pass
    return _parse(text)


# Unreserved characters, "=", "&" and "+" (the query of a status call: ``job_id=<digits>``).
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~=&+-]*")


@functools.lru_cache(maxsize=512)  # the same api_domain, accounts and status URLs
def _parse(text: str) -> Destination:
    bad = _NOT_PRINTABLE_ASCII.search(text)
    if bad:
        why = "a backslash" if bad.group() == "\\" else "whitespace, control or non-ASCII"
        raise _refuse(text, why)
    try:
        u = parse_url(text)
        split = urlsplit(text)
        split_port = split.port
    except (LocationParseError, ValueError):
        raise _refuse(text, "not a URL with a host and a valid port") from None
    if u.port == 0:  # requests drops ":0" (the default port would be used)
        raise _refuse(text, "port 0")
    scheme, host = (u.scheme or "").lower(), (u.host or "").lower()
    if scheme not in _SCHEMES:
        raise _refuse(text, "the scheme must be http or https")
    if u.auth is not None or "@" in split.netloc or "%" in split.netloc:
        raise _refuse(text, "user info or an encoded character in the host part")
    if not (_DNS_NAME.fullmatch(host) or _canonical_ipv4(host) or _canonical_ipv6(host)):
        raise _refuse(text, "the host must be a plain DNS name or a canonical IP address")
    split_host = (split.hostname or "").lower()
    if split.scheme.lower() != scheme or split_host != host.strip("[]") or split_port != u.port:
        raise _refuse(text, "URL parsers disagree on where it goes")
    return Destination(scheme, host, u.port)


def is_loopback_url(url: str) -> bool:
    """True when ``url`` is well formed (:func:`parse_destination`) and goes to loopback."""
    try:
        return parse_destination(url).is_loopback
    except UnsafeEndpointError:
        return False


@dataclass(frozen=True)
class DestinationPolicy:
    """What one org may reach: DC hosts over HTTPS (default port), or loopback.

    Attributes
    ----------
    hosts : frozenset of str
        Host names reachable over HTTPS on the default port.
    api_hosts : frozenset of str
        Of those, the ones a token answer's ``api_domain`` may name.
    loopback : bool
        Loopback (any port, http or https) is reachable (and only it: the simulator).
    name : str
        What the policy allows, for messages.
    """

    hosts: frozenset[str]
    api_hosts: frozenset[str]
    loopback: bool
    name: str

    @classmethod
    def for_org(cls, dc: str, loopback: bool) -> DestinationPolicy:
        """The policy of an org: loopback only (simulator), or its data center's hosts.

        Raises
        ------
        DataCenterError
            ``dc`` is not a data-center code (and the org is not a loopback org).
        """
        if loopback:
            return cls(frozenset(), frozenset(), True, "loopback (the simulator)")
        known = get_dc(dc)
        api = frozenset(hostname(u) for u in known.api_domains)
        return cls(
            api | {hostname(known.accounts_server)}, api, False, f"data center {known.code!r}"
        )

    @classmethod
    def any_zoho(cls, loopback: bool = True) -> DestinationPolicy:
        """Every host of the data-center table (and loopback): a session of no one org."""
        return _any_zoho(loopback)

    def __or__(self, other: DestinationPolicy) -> DestinationPolicy:
        """What either policy allows (a session shared by several orgs)."""
        if other == self:
            return self
        return DestinationPolicy(
            self.hosts | other.hosts,
            self.api_hosts | other.api_hosts,
            self.loopback or other.loopback,
            f"{self.name} or {other.name}",
        )

    def check(self, url: object) -> Destination:
        """Where ``url`` goes, if this policy allows it.

        Raises
        ------
        UnsafeEndpointError
            A malformed URL (:func:`parse_destination`) or one outside the policy.
        """
        return self._allow(parse_destination(url))

    def _allow(self, dest: Destination) -> Destination:
        if dest.is_loopback and self.loopback:
            return dest
        if dest.default_https and dest.host in self.hosts:
            return dest
        raise UnsafeEndpointError(
            f"refusing to send a token to {dest}: this org may reach only {self.name} "
            "(HTTPS on the default port to its data center's hosts, or loopback for the "
            "simulator; see zcrm_notebook.DATA_CENTERS)"
        )

    def check_api_domain(self, url: object) -> str:
        """A token answer's (or config's) ``api_domain``, if it is an API host allowed here.

        Returns
        -------
        str
            ``url`` without a trailing slash.

        Raises
        ------
        UnsafeEndpointError
            Not an API host of this policy's data center (nor loopback for a loopback org);
            for a Zoho host of another data center the message names the expected hosts.
        """
        dest = parse_destination(url)
        other_zoho = dest.host in _any_zoho(False).hosts and dest.host not in self.api_hosts
        if other_zoho:  # (anything else that is not allowed: the refusal of check())
            expected = ", ".join(sorted(self.api_hosts)) or "loopback"
            raise UnsafeEndpointError(
                f"refusing api_domain: {shown(str(url))} is not an API domain of "
                f"{self.name} (expected one of {expected})"
            )
        self._allow(dest)
        return str(url).rstrip("/")


@functools.lru_cache(maxsize=2)
def _any_zoho(loopback: bool) -> DestinationPolicy:
    hosts: set[str] = set()
    api: set[str] = set()
    for dc in DATA_CENTERS.values():
        api.update(hostname(u) for u in dc.api_domains)
        hosts.add(hostname(dc.accounts_server))
    name = "a Zoho data-center host" + (" or loopback" if loopback else "")
    return DestinationPolicy(frozenset(hosts | api), frozenset(api), loopback, name)


def check_token_destination(url: str, *, allow_loopback: bool = True) -> str:
    """Refuse to send a token anywhere but a Zoho host over HTTPS, or loopback.

    :meth:`DestinationPolicy.check` of :meth:`DestinationPolicy.any_zoho` (every data
    center); an org's own policy (:meth:`DestinationPolicy.for_org`) is stricter.

    Returns
    -------
    str
        ``url`` without a trailing slash.

    Raises
    ------
    UnsafeEndpointError
        If the URL is malformed, not HTTPS on the default port to a Zoho host, nor loopback.
    """
    DestinationPolicy.any_zoho(loopback=allow_loopback).check(url)
    return str(url).rstrip("/")
