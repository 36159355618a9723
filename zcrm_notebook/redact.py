"""Keep secrets out of every log record, exception, snapshot and printed line.

requests-oauthlib logs, at DEBUG, the refresh request body (refresh token and client
secret) and the token answer (access token), and a server may echo a request back in its
error text. This module masks both:

- :func:`redact` masks every registered secret (and its URL-quoted, JSON-escaped and
  base64 forms, and the parts of a dotted token), anything shaped like a Zoho token
  (``1000.`` followed by hex runs) and ``token=...`` / ``"access_token": "..."`` /
  ``Zoho-oauthtoken ...`` style pairs; :func:`redact_deep` also finds them behind
  ``%XX`` / ``&#NN;`` / ``\\uXXXX`` escapes, invisible characters or a change of case;
- :func:`install_log_redaction` installs, once, a chained ``logging`` record factory that
  rewrites any record holding one of them (:func:`redact_deep`) before any handler sees it;
- :func:`clean_text` is what server text goes through before it is stored or printed
  (decoded and masked, with hex and base64 runs that may hide a token, control characters
  replaced, cut), and :func:`shown` quotes a bad value in an
  error message (``repr``, cut).

Secrets are registered by :mod:`zcrm_notebook.auth` (and the command line) as soon as
they are read or received. :class:`zcrm_notebook.errors.ZcrmError` masks its message, so
no exception of the package carries a registered secret, whoever builds it.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
import unicodedata
from urllib.parse import quote, quote_plus, unquote

__all__ = [
    "register_secret",
    "redact",
    "redact_deep",
    "install_log_redaction",
    "mask",
    "clean_text",
    "shown",
    "SERVER_TEXT_LIMIT",
]

_lock = threading.Lock()
_secrets: set[str] = set()
# clean_text of short server text (status words, codes: the same few on every poll), for
# the secrets registered so far: emptied when one is registered (a result kept from before
# could miss it). Bounded; a key is (text, limit).
_cleaned: dict[tuple[str, int], str] = {}
_CLEANED_MAX, _CLEANED_TEXT_MAX = 1024, 64
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
# In server text (not in logs: a user's own hashes stay): a run of 16 or more lower-case
# hex digits holding a letter and a digit, the random part of a Zoho token or client
# secret however it is cut, prefixed or glued (job ids are digits only; client ids upper
# case); a base64 run that decodes to a secret or such a run.
_HEX_RUN = re.compile(r"[0-9a-f]{16,}")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}=*")
_U_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
MASK = "***"
# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# lone surrogates (JSON "\ud800" decodes to one): no UTF-8 file, frame or terminal takes them
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def mask(value: object) -> str:
    """Show that a secret is set without showing it: ``'***'`` or ``'<unset>'``."""
    return MASK if value else "<unset>"


def _encodings(value: str) -> set[str]:
    """``value`` as it may appear in a form body, a URL or a JSON text, or base64-encoded
    within any text (standard or URL-safe alphabet, at each of the three byte offsets);
    each part of a dotted token (``1000.<hex>.<hex>``) on its own."""
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    forms |= {part for part in value.split(".") if len(part) >= 16}  # 1000.<hex>.<hex>
    forms |= _base64_forms(value)
    return {f for f in forms if len(f) >= _MIN_LEN}


def _base64_forms(value: str) -> set[str]:
    """The base64 characters that encode only ``value``'s bytes, whatever precedes or
    follows it: the first and last 4-character groups, which mix in other bytes, dropped."""
    raw, forms = value.encode("utf-8", "replace"), set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        core = encoded[4 if offset else 0 : (len(encoded) - 4) // 4 * 4]
        forms |= {core, core.replace("+", "-").replace("/", "_")}
    return {f for f in forms if len(f) >= 8}


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that it is masked wherever it appears (logs, errors, rows)."""
    if isinstance(value, str) and len(value) >= _MIN_LEN:
        with _lock:
            _secrets.update(_encodings(value))
            _cleaned.clear()
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


def redact_deep(text: str) -> str:
    """:func:`redact`, and a registered secret hidden by an encoding or a change of case
    is masked too.

    ``text`` is also read decoded (:func:`_decoded`); when a registered secret or a token
    shape (for text that had escapes, also a hex run) appears only there, that reading,
    masked, is returned. Registered secrets are
    then masked in any case (the rest of the text keeps its case).
    """
    text = redact(text)
    decoded = _decoded(text)
    masked = redact(decoded)
    if decoded != text:  # escaped text: hex runs in it are masked too (see _HEX_RUN)
        masked = _HEX_RUN.sub(_sub_hex_run, masked)
    if masked == decoded:
        masked = text
    lower = masked.lower()
    with _lock:
        other_case = [s for s in _secrets if s.lower() in lower]
    for secret in sorted(other_case, key=len, reverse=True):
        masked = re.sub(re.escape(secret), MASK, masked, flags=re.IGNORECASE)
    return masked


def _sub_hex_run(m: re.Match) -> str:
    run = m.group()
    return MASK if not run.isdigit() and not run.isalpha() else run


def _decoded(text: str) -> str:
    """``text`` with HTML character references, ``\\uXXXX`` escapes and ``%XX`` escapes
    decoded (three times over at most), and format characters (zero-width, bidi) removed: a
    secret echoed in those forms is one again, where :func:`redact` finds it."""
    for _ in range(3):
        before = text
        text = html.unescape(text)
        text = _U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        text = unquote(text, errors="replace")
        if text == before:
            break
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _mask_shapes(text: str) -> str:
    """Server text only: hex runs (:data:`_HEX_RUN`) and base64 runs holding a secret."""
    return _BASE64_RUN.sub(_sub_base64_run, _HEX_RUN.sub(_sub_hex_run, text))


def _sub_base64_run(m: re.Match) -> str:
    """A base64 run (any alphabet, any alignment, cut anywhere) that decodes to a secret,
    or to part of a token: masked."""
    run = m.group().rstrip("=").replace("-", "+").replace("_", "/")
    for start in range(4):
        part = run[start:]
        part = part[: len(part) // 4 * 4]
        try:
            decoded = base64.b64decode(part, validate=True).decode("latin-1")
        except ValueError:
            continue
        if _HEX_RUN.sub(_sub_hex_run, redact(decoded)) != decoded:
            return MASK
    return m.group()


def clean_text(text: object, limit: int = SERVER_TEXT_LIMIT) -> str:
    """Server text made fit to store or print: masked, on one line, at most ``limit`` long.

    Escapes (``%XX``, ``&#NN;``, ``\\uXXXX``) are decoded and format characters (zero
    width, bidi) removed first, and base64 runs are decoded to be searched, so that an
    echoed secret is found in any of those forms;
    every secret and token shape is masked (:func:`redact`; also in the text lower-cased,
    which is then what is kept), each run of control
    characters (newline, CR, tab, escape, NUL, DEL, C1) becomes one space, a lone surrogate
    (no UTF-8 encoder takes it) becomes U+FFFD, and text longer
    than ``limit`` characters is cut and ends with ``...``. A value that is not text (a
    JSON number, list or object) is taken as its JSON text.

    The result for a short text (a status word, a code) is remembered until another secret
    is registered (:func:`register_secret`): the poll loop cleans the same few words on
    every answer.
    """
    if type(text) is str and len(text) <= _CLEANED_TEXT_MAX:
        key = (text, limit)
        cleaned = _cleaned.get(key)
        if cleaned is None:
            with _lock:
                known = len(_secrets)
            cleaned = _clean(text, limit)
            with _lock:  # not kept if a secret was registered meanwhile
                if len(_secrets) == known and len(_cleaned) < _CLEANED_MAX:
                    _cleaned[key] = cleaned
        return cleaned
    return _clean(text, limit)


def _clean(text: object, limit: int) -> str:
    if not isinstance(text, str):
        try:
            text = json.dumps(text, default=str)[: 4 * limit]
        except (ValueError, TypeError, RecursionError):  # too deep, or not JSON at all
            text = f"<{type(text).__name__}>"
    text = _decoded(redact(text))[: 4 * limit]  # what is past this is cut away below
    text = _mask_shapes(redact_deep(text))
    folded = _mask_shapes(redact(text.lower()))
    if folded != text.lower():  # a token shape in upper case: kept lower-cased, masked
        text = folded
    text = _CONTROL.sub(" ", _SURROGATE.sub("\ufffd", text))
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
            masked = redact_deep(text)
            if masked != text:
                record.msg, record.args = masked, None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
