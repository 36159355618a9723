"""Zoho facts the package uses although no Zoho source confirms them: warned once each.

``docs/zoho-api.md``, "Unverified facts", lists them with what was found instead. The
package still uses them (a user in the UK data center must be able to try), but says so
once per fact and process with an :class:`~zcrm_notebook.errors.UnverifiedFactWarning`;
when Zoho then answers ``INVALID_URL_PATTERN`` the org ends with a message naming its
``api_domain`` and ``api_version``.
"""

from __future__ import annotations

import threading
import warnings

from ..errors import UnverifiedFactWarning

__all__ = ["warn_unverified", "forget_warnings"]

_warned: set[str] = set()
_lock = threading.Lock()


def warn_unverified(fact: str, message: str, *, stacklevel: int = 3) -> None:
    """Warn ``message`` the first time ``fact`` (a short key, e.g. ``"dc:uk"``) is used."""
    with _lock:
        if fact in _warned:
            return
        _warned.add(fact)
    warnings.warn(message, UnverifiedFactWarning, stacklevel=stacklevel)


def forget_warnings() -> None:
    """Warn again for every fact (tests)."""
    with _lock:
        _warned.clear()
