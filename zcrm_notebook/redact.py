"""Keep secrets out of every log record, exception, snapshot and printed line.

requests-oauthlib logs, at DEBUG, the refresh request body (refresh token and client
secret) and the token answer (access token), and a server may echo a request back in its
error text. This module masks both:

- :func:`redact` masks every registered secret (and its URL-quoted and JSON-escaped
  forms), anything shaped like a Zoho token (``1000.`` followed by hex runs) and
  ``token=...`` / ``"access_token": "..."`` / ``Zoho-oauthtoken ...`` style pairs;
- :func:`install_log_redaction` installs, once, a chained ``logging`` record factory that
  rewrites any record holding one of them before any handler sees it;
- :func:`clean_text` is what server text goes through before it is stored or printed
  (masked, control characters replaced, cut), and :func:`shown` quotes a bad value in an
  error message (``repr``, cut).

Secrets are registered by :mod:`zcrm_notebook.auth` (and the command line) as soon as
they are read or received. :class:`zcrm_notebook.errors.ZcrmError` masks its message, so
no exception of the package carries a registered secret, whoever builds it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from urllib.parse import quote, quote_plus

__all__ = [
    "register_secret",
    "redact",
    "install_log_redaction",
    "mask",
    "clean_text",
    "shown",
    "SERVER_TEXT_LIMIT",
]

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False
_MIN_LEN = 6
#: Longest server text (an error message, a status word) kept in a snapshot or an error.
SERVER_TEXT_LIMIT = 300

_KEYS = (
    r"access_token|refresh_token|client_secret|id_token|token|code|grant_token|"
    r"Zoho-oauthtoken|Bearer|Authorization"
)
# key=value (form bodies, URLs), "key": "value" / 'key': 'value' (JSON, dict reprs),
# "Zoho-oauthtoken <token>" / "Bearer <token>" (headers), and Zoho's token shape
# (1000.<hex>.<hex>: access, refresh and grant tokens; client ids are upper case).
_PATTERNS = [
    re.compile(rf"(?i)\b({_KEYS})=([^&\s'\",;)}}]+)"),
    re.compile(rf"(?i)([\"']({_KEYS})[\"']\s*:\s*[\"'])([^\"']+)([\"'])"),
    re.compile(r"(?i)\b(Zoho-oauthtoken|Bearer)\s+([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"\b(1000)\.[0-9a-f]{16,}(?:\.[0-9a-f]{16,})?\b"),
]
MASK = "***"
# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# lone surrogates (JSON "\ud800" decodes to one): no UTF-8 file, frame or terminal takes them
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def mask(value: object) -> str:
    """Show that a secret is set without showing it: ``'***'`` or ``'<unset>'``."""
    return MASK if value else "<unset>"


def _encodings(value: str) -> set[str]:
    """``value`` as it may appear in a form body, a URL or a JSON text."""
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    return {f for f in forms if len(f) >= _MIN_LEN}


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that it is masked wherever it appears (logs, errors, rows)."""
    if isinstance(value, str) and len(value) >= _MIN_LEN:
        with _lock:
            _secrets.update(_encodings(value))
    install_log_redaction()


def _sub_pattern(m: re.Match) -> str:
    groups = m.groups()
    if len(groups) == 4:  # quoted key/value
        return f"{groups[0]}{MASK}{groups[3]}"
    if len(groups) == 1:  # a bare Zoho-shaped token
        return f"{groups[0]}.{MASK}"
    return f"{groups[0]}{'=' if '=' in m.group(0) else ' '}{MASK}"


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and token-looking value masked."""
    text = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pat in _PATTERNS:
        text = pat.sub(_sub_pattern, text)
    return text


def clean_text(text: object, limit: int = SERVER_TEXT_LIMIT) -> str:
    """Server text made fit to store or print: masked, on one line, at most ``limit`` long.

    Every secret and token shape is masked (:func:`redact`), each run of control
    characters (newline, CR, tab, escape, NUL, DEL, C1) becomes one space, a lone surrogate
    (no UTF-8 encoder takes it) becomes U+FFFD, and text longer
    than ``limit`` characters is cut and ends with ``...``. A value that is not text (a
    JSON number, list or object) is taken as its JSON text.
    """
    if not isinstance(text, str):
        try:
            text = json.dumps(text, default=str)[: 4 * limit]
        except (ValueError, TypeError, RecursionError):  # too deep, or not JSON at all
            text = f"<{type(text).__name__}>"
    text = _CONTROL.sub(" ", redact(_SURROGATE.sub("\ufffd", text)))
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def shown(value: object, limit: int = 80) -> str:
    """How a bad value is quoted in an error message: its ``repr``, masked and cut.

    ``repr`` escapes control characters, so a newline in a value cannot forge a line.
    """
    try:
        text = redact(repr(value))
    except (ValueError, RecursionError):  # an int of over 4300 digits, a too-deep list
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: max(0, limit - 4)] + "...'"


def _needs_redaction(text: str) -> bool:
    known = tuple(_secrets)  # a copy: another thread may register a secret meanwhile
    return any(s in text for s in known) or any(p.search(text) for p in _PATTERNS)


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
