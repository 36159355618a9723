"""Variants of the status call's HTTP path, for measuring CPU per call (issue 15).

Each is a ZohoClient subclass that keeps everything but the transport: the token cache,
the token-destination check, :func:`interpret_answer` and the 401 refresh-and-retry of
``get_status``; only ``_call`` changes. A variant that does not use requests hands
``interpret_answer`` a tiny stand-in with the attributes it reads (``status_code``, ``url``,
``content``, ``headers``, ``json()``). Benchmark code: no fault handling beyond mapping
transport failures to ``TransportError``.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import quote, urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from .internals import (
    StatusAnswer,
    TransportError,
    ZohoClient,
    check_token_destination,
    interpret_answer,
)


class _Reply:
    """The parts of ``requests.Response`` that ``interpret_answer`` reads."""

    __slots__ = ("status_code", "url", "content", "headers")

    def __init__(self, status_code: int, url: str, content: bytes, headers) -> None:
        self.status_code, self.url, self.content, self.headers = status_code, url, content, headers

    def json(self):
        return json.loads(self.content)


def _credits(headers) -> int | None:
    value = headers.get("X-API-CREDITS-REMAINING")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _OncePerToken(ZohoClient):
    """Check the token's destination and build the URL and headers once per token."""

    def _target(self, token) -> tuple[str, dict]:
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] is not token:
            domain = check_token_destination(
                token.api_domain, allow_loopback=self.creds.allows_loopback
            )
            headers = {"Authorization": f"Zoho-oauthtoken {token.access_token}",
                       "User-Agent": "zcrm-notebook", "Accept": "*/*"}  # fmt: skip
            cached = self._cached = (token, self.status_url(domain) + "?job_id=", headers)
        return cached[1], cached[2]


class RequestsPrepared(_OncePerToken):
    """requests, but a hand-built PreparedRequest sent straight to the HTTPAdapter:
    no per-call merge of session settings, cookies, hooks or environment."""

    def _call(self, job_id: str, token) -> StatusAnswer:
        base, headers = self._target(token)
        prep = requests.PreparedRequest()
        prep.method, prep.url, prep.body = "GET", base + quote(job_id, safe=""), None
        prep.headers = CaseInsensitiveDict(headers)
        prep.hooks = {"response": []}
        adapter = self.session.get_adapter(prep.url)
        started = time.perf_counter()
        try:
            r = adapter.send(prep, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise TransportError(f"job {job_id}: no answer ({type(exc).__name__})",
                                 code=type(exc).__name__) from None  # fmt: skip
        latency = time.perf_counter() - started
        return StatusAnswer(
            interpret_answer(job_id, r), r.status_code, latency, _credits(r.headers)
        )


class Urllib3Pool(_OncePerToken):
    """urllib3 directly: one HTTPConnectionPool (or HTTPSConnectionPool) per org."""

    def _pool(self, url: str):
        pool = getattr(self, "_pool_obj", None)
        if pool is None:
            parts = urlsplit(url)
            cls = (
                urllib3.HTTPSConnectionPool
                if parts.scheme == "https"
                else urllib3.HTTPConnectionPool
            )
            pool = self._pool_obj = cls(
                parts.hostname, parts.port, maxsize=8, block=True, retries=False,
                timeout=urllib3.Timeout(connect=self.timeout_s, read=self.timeout_s),
            )  # fmt: skip
        return pool

    def _call(self, job_id: str, token) -> StatusAnswer:
        base, headers = self._target(token)
        url = base + quote(job_id, safe="")
        started = time.perf_counter()
        try:
            r = self._pool(url).urlopen("GET", url, headers=headers, retries=False,
                                        redirect=False, preload_content=True)  # fmt: skip
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"job {job_id}: no answer ({type(exc).__name__})",
                                 code=type(exc).__name__) from None  # fmt: skip
        latency = time.perf_counter() - started
        reply = _Reply(r.status, url, r.data, r.headers)
        return StatusAnswer(interpret_answer(job_id, reply), r.status, latency, _credits(r.headers))


class HttpClient(_OncePerToken):
    """http.client: one kept-alive HTTPConnection per worker thread."""

    def _conn(self, url: str) -> http.client.HTTPConnection:
        local = self.__dict__.setdefault("_local", threading.local())
        conn = getattr(local, "conn", None)
        if conn is None:
            parts = urlsplit(url)
            cls = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = local.conn = cls(parts.hostname, parts.port, timeout=self.timeout_s)
        return conn

    def _call(self, job_id: str, token) -> StatusAnswer:
        base, headers = self._target(token)
        url = base + quote(job_id, safe="")
        path = url[url.index("/", 8) :]
        started = time.perf_counter()
        for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
            conn = self._conn(url)
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                break
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise TransportError(f"job {job_id}: no answer ({type(exc).__name__})",
                                         code=type(exc).__name__) from None  # fmt: skip
        latency = time.perf_counter() - started
        reply = _Reply(r.status, url, body, r.headers)
        return StatusAnswer(interpret_answer(job_id, reply), r.status, latency, _credits(r.headers))


VARIANTS = {
    "requests Session.get (today)": ZohoClient,
    "requests, prepared -> adapter.send": RequestsPrepared,
    "urllib3 HTTPConnectionPool": Urllib3Pool,
    "http.client, conn per thread": HttpClient,
}
