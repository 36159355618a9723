"""Keep secrets out of every log record, including the dependencies' DEBUG logs.

requests-oauthlib logs, at DEBUG, the refresh request body (refresh token and client
secret) and the token answer (access token). This module installs, once, a chained
``logging`` record factory that rewrites any record whose text contains a registered
secret, or a ``token=...`` / ``"access_token": "..."`` style pair, before any handler
sees it. Secrets are registered by :mod:`zcrm_notebook.auth` as soon as they are known.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["register_secret", "redact", "install_log_redaction", "mask"]

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False
_MIN_LEN = 6

_KEYS = (
    r"access_token|refresh_token|client_secret|id_token|token|code|grant_token|"
    r"Zoho-oauthtoken|Bearer|Authorization"
)
# key=value (form bodies, URLs), "key": "value" / 'key': 'value' (JSON, dict reprs),
# "Zoho-oauthtoken <token>" / "Bearer <token>" (headers).
_PATTERNS = [
    re.compile(rf"(?i)\b({_KEYS})=([^&\s'\",;)}}]+)"),
    re.compile(rf"(?i)([\"']({_KEYS})[\"']\s*:\s*[\"'])([^\"']+)([\"'])"),
    re.compile(r"(?i)\b(Zoho-oauthtoken|Bearer)\s+([A-Za-z0-9._~+/=-]+)"),
]
MASK = "***"


def mask(value: object) -> str:
    """Show that a secret is set without showing it: ``'***'`` or ``'<unset>'``."""
    return MASK if value else "<unset>"


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that it is masked wherever it appears in a log record."""
    if value and len(value) >= _MIN_LEN:
        with _lock:
            _secrets.add(value)
    install_log_redaction()


def _sub_pattern(m: re.Match) -> str:
    groups = m.groups()
    if len(groups) == 4:  # quoted key/value
        return f"{groups[0]}{MASK}{groups[3]}"
    return f"{groups[0]}{'=' if '=' in m.group(0) else ' '}{MASK}"


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and token-looking pair masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pat in _PATTERNS:
        text = pat.sub(_sub_pattern, text)
    return text


def _needs_redaction(text: str) -> bool:
    return any(s in text for s in _secrets) or any(p.search(text) for p in _PATTERNS)


def install_log_redaction() -> None:
    """Install the redacting record factory (idempotent, chains the current factory)."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs):  # type: ignore[no-untyped-def]
            record = previous(*args, **kwargs)
            try:
                text = record.getMessage()
            except Exception:  # a bad format string is the logging module's business
                return record
            if _needs_redaction(text):
                record.msg, record.args = redact(text), None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
