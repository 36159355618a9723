"""redact.py: what a secret looks like wherever it may appear, and server text made safe."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from zcrm_notebook.errors import ApiError, ZcrmError
from zcrm_notebook.redact import MASK, clean_text, redact, register_secret, shown

SECRET = "p@ss w/rd+&=\"'x-secret-42"
register_secret(SECRET)


@pytest.mark.parametrize(
    "form",
    [SECRET, quote(SECRET, safe=""), quote_plus(SECRET), json.dumps(SECRET)[1:-1]],
    ids=["raw", "quote", "quote_plus", "json"],
)
def test_a_registered_secret_is_masked_in_its_encodings(form):
    text = redact(f"the server said: {form} (end)")
    assert form not in text and MASK in text and text.endswith("(end)")


@pytest.mark.parametrize(
    "token",
    [
        "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210",
        "1000.0123456789abcdef0123",  # a single hex run
    ],
)
def test_anything_shaped_like_a_zoho_token_is_masked(token):
    assert token not in redact(f"unknown token {token}, try again")
    assert "1000.ABCDEF0123456789" in redact("client 1000.ABCDEF0123456789")  # ids stay


def test_clean_text_is_one_masked_line_of_at_most_the_limit():
    text = clean_text(f"a\nb\r\tc\x1b[31m\x00\x85\u2028{SECRET}" + "z" * 500, limit=60)
    assert len(text) == 60 and text.endswith("...") and SECRET not in text
    assert text.startswith("a b c [31m ") and text.isprintable()
    assert clean_text({"deep": [[["x"]]]}) == '{"deep": [[["x"]]]}'
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    assert clean_text(deep) == "<list>"


def test_clean_text_remembered_for_a_short_text_masks_a_secret_registered_later():
    word = "STATUSzq7Wk3pLx"  # short server text, cleaned once before its secret is known
    assert clean_text(word, 100) == word
    assert clean_text(word, 100) == word  # remembered
    register_secret("zq7Wk3pLx")
    assert clean_text(word, 100) == f"STATUS{MASK}"
    assert clean_text(f"  {word}\n", 100) == f"  STATUS{MASK} "


def test_shown_quotes_with_repr_cut_and_masked():
    assert shown("ok\nforged") == "'ok\\nforged'"
    long = shown("x" * 1000, 40)
    assert len(long) == 40 and long.endswith("...'")
    assert SECRET not in shown(SECRET)
    assert shown(10**5000) == "<int>"  # repr would raise


def test_every_zcrm_error_masks_its_message_code_and_details():
    details = {"k": SECRET, "n": 3, "nested": {"s": SECRET}}
    exc = ApiError(f"echo {SECRET}", code=f"C-{SECRET}", details=details)
    texts = [str(exc), repr(exc), repr(vars(exc)), repr(exc.args)]
    assert all(SECRET not in t for t in texts) and exc.details["n"] == 3
    assert SECRET not in str(ZcrmError(f"a {quote_plus(SECRET)} b"))


def test_server_text_hides_no_secret_in_an_encoding_a_case_or_a_cut():
    token = "1000.0a1b2c3d4e5f60718293a4b5c6d7e8f9.f9e8d7c6b5a4938271605f4e3d2c1b0a"
    register_secret(token)
    b64 = base64.b64encode(f"Zoho-oauthtoken {token}".encode()).decode()
    forms = [token[5:], token.upper(), b64, b64[: len(b64) // 2], token.encode().hex()[:40],
             "".join(f"%{ord(c):02x}" for c in token), "\u200b".join(token),
             "".join(f"&#{ord(c)};" for c in token[5:40]), token[::-1]]  # fmt: skip
    for form in forms:
        text = clean_text(f"bad: {form} (end)")
        hex_parts = [p for p in token.split(".")[1:]]
        assert not any(p[:16] in text or p[-16:] in text for p in hex_parts), (form, text)
        assert form not in text and text.startswith("bad: ") and text.endswith("(end)")


def test_the_log_filter_keeps_hashes_of_yours_but_masks_an_escaped_secret(caplog):
    register_secret(SECRET)
    digest = "9b74c9897bac770ffc029102a200c5de"
    logging.getLogger("yours").warning("file digest %s", digest)
    logging.getLogger("yours").warning("echo %s", "".join(f"&#{ord(c)};" for c in SECRET))
    logging.getLogger("yours").warning("echo %s", SECRET.upper())
    first, *echoes = [r.getMessage() for r in caplog.records]
    assert first == f"file digest {digest}"
    assert echoes == [f"echo {MASK}", f"echo {MASK}"]
