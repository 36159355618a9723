"""Where a token or a secret may be sent: a Zoho host over HTTPS, or loopback.

Every URL that is about to receive a token (an accounts server, an ``api_domain`` from a
config or a token answer, a revoke URL) is checked here first: HTTPS to a host of the
data-center table (:mod:`zcrm_notebook.api.datacenters`), or ``http``/``https`` to
loopback for the simulator. Anything else is an
:class:`~zcrm_notebook.errors.UnsafeEndpointError` before a byte is sent.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ..errors import UnsafeEndpointError
from .datacenters import zoho_hosts

__all__ = ["is_loopback_url", "check_token_destination"]


def is_loopback_url(url: str) -> bool:
    """True when ``url``'s host is ``localhost`` or a loopback IP (127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_ZOHO_HOSTS = zoho_hosts()


def check_token_destination(url: str, *, allow_loopback: bool = True) -> str:
    """Refuse to send a token anywhere but a Zoho host over HTTPS, or loopback.

    Parameters
    ----------
    url : str
        The URL (or base URL) a token or secret is about to be sent to.
    allow_loopback : bool, default True
        Accept ``http://127.0.0.1`` / ``localhost`` (the simulator, an explicit custom
        endpoint).

    Returns
    -------
    str
        ``url`` without a trailing slash.

    Raises
    ------
    UnsafeEndpointError
        If the scheme is not HTTPS for a Zoho host, or the host is neither in the DC
        table nor loopback.
    """
    url = str(url).strip().rstrip("/")
    parts = urlsplit(url)
    if allow_loopback and is_loopback_url(url) and parts.scheme in ("http", "https"):
        return url
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host in _ZOHO_HOSTS and parts.username is None:
        return url
    raise UnsafeEndpointError(
        f"refusing to send a token to {parts.scheme}://{host or url!s}: tokens go only over "
        "HTTPS to a Zoho data-center host (see zcrm_notebook.DATA_CENTERS) or to loopback"
    )
