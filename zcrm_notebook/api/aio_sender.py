"""The status GETs of the poll loop as coroutines on the caller's event loop (standard
library only).

:class:`AioSender` sends ``GET`` requests over asyncio streams on the event loop that
awaits them (the poll loop's own: :mod:`zcrm_notebook.poll.loop`), the answer's head read
at once and split into requests' ``CaseInsensitiveDict``, so that a poll round needs no
thread per call in flight and no hand-off between threads per answer: about a quarter of
the CPU of a ``requests.Session`` call (``benchmarks/bench_cpu.py``). It keeps the
guarantees of the transport's adapter and lean sender (:mod:`zcrm_notebook.api.transport`):

- each URL is checked by the org's :class:`~zcrm_notebook.api.destinations.DestinationPolicy`
  (:meth:`DestinationPolicy.check`, the same parser) right before it is sent, and the
  connection goes exactly to the host and port that check returned;
- HTTPS with a default verified TLS context on certifi's CA bundle (as requests); plain
  HTTP only where the policy allows it (loopback); no proxy, no redirect followed;
- the *whole* call (connect, TLS, headers, body) is bounded by its timeout
  (:class:`~zcrm_notebook.api.transport.CallTimeout`) and ended by
  :meth:`CallGroup.abort` from any thread
  (:class:`~zcrm_notebook.api.transport.CallAborted`);
- the body is read up to :data:`~zcrm_notebook.api.transport.MAX_BODY_BYTES` whatever its
  framing (``Content-Length``, chunked, read to close; larger: a ``ResponseFormatError``);
  a bad status line, a header line above 64 KiB, a head above 256 KiB or more than 100
  header lines, malformed chunking (a chunk size other than 1 to 16 hex digits), a chunked
  trailer section above 64 KiB, a ``Content-Length`` that is not one run of digits (or
  repeats differing values), whitespace before a header's colon, a status line other than
  HTTP/1.0 or 1.1, or an answer cut short is a ``requests.ConnectionError``
  naming only its kind (the server's text, which may echo a secret, is never in it); a
  head whose lines end in bare LFs (not CRLF) is not read: the call ends at its deadline
  or when the server closes;
- a ``Transfer-Encoding`` wins over a ``Content-Length`` (RFC 9112 section 6.3): its body
  is chunked when its last coding is ``chunked``, else read to the close; a connection
  whose answer had both, or was read to the close, is never reused;
- kept-alive connections per destination (at most ``pool_size`` idle), bound to the loop
  that opened them (:meth:`AioSender.aclose` closes them before that loop ends); a kept
  connection the server closed is replaced once.

HTTP/1.1 message syntax: RFC 9112 (https://www.rfc-editor.org/rfc/rfc9112).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import re
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from .destinations import Destination, DestinationPolicy
from .transport import (
    _RESET,
    MAX_BODY_BYTES,
    USER_AGENT,
    Answer,
    CallAborted,
    CallGroup,
    CallTimeout,
    _ca_bundle,
    _request_target,
    _tls_context,
    _too_big,
)

__all__ = ["AioSender"]

_MAX_LINE = 65536  # http.client's bound of one status, header or chunk-size line
_LIMIT = 4 * _MAX_LINE  # the stream's buffer bound: a longer head is refused
_MAX_HEADERS = 100  # http.client's bound of the header lines of one answer
_FRAMING = frozenset({"content-length", "transfer-encoding"})  # repeats combined, checked
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")  # chunk-size = 1*HEXDIG (RFC 9112 7.1)
_READ = 16 * 1024  # a body read to the close: at most this much read beyond the cap
_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class AioSender:
    """GET requests as coroutines over asyncio streams, on the loop that awaits them.

    Parameters
    ----------
    policy : DestinationPolicy
    max_body : int, default :data:`MAX_BODY_BYTES`
        Largest body read, bytes.
    user_agent : str, default :data:`USER_AGENT`
    pool_size : int, default 5
        Idle connections kept alive per destination (match the calls in flight).
    """

    def __init__(
        self,
        policy: DestinationPolicy,
        *,
        max_body: int = MAX_BODY_BYTES,
        user_agent: str = USER_AGENT,
        pool_size: int = 5,
    ) -> None:
        self.policy, self.user_agent = policy, user_agent
        self.max_body, self.pool_size = max_body, max(1, pool_size)
        self._conns: _Connections | None = None
        self._last_fields: tuple[Any, bytes] = (None, b"")
        self.connections_made = 0  # new connections so far (tests: keep-alive reuse)

    def check(self, url: str) -> Destination:
        """Called with every URL right before it is sent: where it goes, if the policy
        allows it (:meth:`DestinationPolicy.check`)."""
        return self.policy.check(url)

    async def get(
        self, url: str, headers: dict[str, str], timeout: float, group: CallGroup | None = None
    ) -> Answer:
        """``GET url`` with ``headers``; the whole call within ``timeout`` seconds, ended by
        ``group``'s :meth:`CallGroup.abort` (from any thread).

        Raises
        ------
        UnsafeEndpointError
            ``url`` is not allowed by the policy: nothing was connected or sent.
        ResponseFormatError
            The answer is larger than ``max_body``.
        CallTimeout, CallAborted, requests.ConnectionError
            No (complete) answer (as the transport's, so callers handle them alike);
            ``CallAborted`` before anything is sent when ``group`` was aborted.
        requests.exceptions.InvalidHeader
            A header holds a line break or NUL, or is not Latin-1 (nothing was sent).
        """
        dest = self.check(url)
        head = _request_head(dest, _request_target(url), self._fields(dest, headers))
        call = _AioCall(asyncio.get_running_loop())
        if group is not None:
            group._enter(call)  # type: ignore[arg-type]  # CallAborted: nothing sent
        try:
            return await self._connections().call(call, dest, head, url, timeout)
        finally:
            if group is not None:
                group._leave(call)  # type: ignore[arg-type]

    def _fields(self, dest: Destination, headers: dict[str, str]) -> bytes:
        """The header section for ``dest`` and ``headers``: the last one is kept (the same
        token's for every call of a run), never more (it holds the token)."""
        key = (dest, dict(headers))
        if self._last_fields[0] != key:
            self._last_fields = (key, _fields(dest, self.user_agent, headers))
        return self._last_fields[1]

    def _connections(self) -> _Connections:
        """The kept connections of the running loop (those of a loop that ended are gone)."""
        loop = asyncio.get_running_loop()
        if self._conns is None or self._conns.loop is not loop:
            if self._conns is not None:
                self._conns.abort_all()
            self._conns = _Connections(self, loop)
        return self._conns

    async def aclose(self) -> None:
        """Close every connection of the running loop (await it before the loop ends)."""
        conns, self._conns = self._conns, None
        if conns is not None:
            conns.abort_all()
            for _ in range(2):  # the transports' connection_lost: their sockets are closed
                await asyncio.sleep(0)

    def close(self) -> None:
        """Close every connection (any thread): on their loop if it is running elsewhere,
        else at once (their calls in flight end as ``requests.ConnectionError``)."""
        conns, self._conns = self._conns, None
        if conns is None:
            return
        if conns.loop.is_running() and not _running_loop_is(conns.loop):
            with contextlib.suppress(RuntimeError):  # closed meanwhile: so are its sockets
                conns.loop.call_soon_threadsafe(conns.abort_all)
            return
        conns.abort_all()


def _running_loop_is(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class _AioCall:
    """One call on a loop: cancelled by its deadline (:meth:`expire`, on the loop) or by
    :meth:`end` (``CallGroup.abort``, any thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.aborted = self.expired = self.done = False
        self.task: asyncio.Task | None = None

    def end(self, *, aborted: bool = False) -> None:
        self.aborted = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing is in flight
            self.loop.call_soon_threadsafe(self._cancel)

    def expire(self) -> None:
        self.expired = True
        self._cancel()

    def _cancel(self) -> None:
        if self.task is not None and not self.done:  # never a later await of the task
            self.task.cancel()


def _request_head(dest: Destination, target: str, fields: bytes) -> bytes:
    """The request line of ``GET target`` before the header section ``fields``.

    Raises
    ------
    requests.exceptions.InvalidHeader
        A header holds CR, LF or NUL, or is not Latin-1 (the text is not in the message).
    """
    if _UNSAFE_TARGET.search(target):
        raise requests.exceptions.InvalidHeader("the request target holds a space; not sent")
    try:
        line = f"GET {target} HTTP/1.1\r\n".encode("latin-1")
    except UnicodeEncodeError:
        raise requests.exceptions.InvalidHeader("the request target is not Latin-1") from None
    return line + fields


def _fields(dest: Destination, user_agent: str, headers: dict) -> bytes:
    """The header section of a request to ``dest`` (see :func:`_request_head`)."""
    default_port = 443 if dest.scheme == "https" else 80
    host = dest.host if dest.port in (None, default_port) else f"{dest.host}:{dest.port}"
    fields = {"Host": host, "User-Agent": user_agent, "Accept-Encoding": "identity", **headers}
    if any(_UNSAFE.search(f"{k}{v}") for k, v in fields.items()):
        raise requests.exceptions.InvalidHeader("a request header holds a line break; not sent")
    try:
        return "".join([*(f"{k}: {v}\r\n" for k, v in fields.items()), "\r\n"]).encode("latin-1")
    except UnicodeEncodeError:
        raise requests.exceptions.InvalidHeader(
            "a request header is not Latin-1; not sent"
        ) from None


_UNSAFE = re.compile(r"[\r\n\0]")
_UNSAFE_TARGET = re.compile(r"[\x00-\x20\x7f]")  # http.client's refusal of a path


# --- connections and the exchange (on their loop only) ----------------------------------


class _Connections:
    """Kept-alive connections per destination of one loop, and the exchange of one call."""

    def __init__(self, sender: AioSender, loop: asyncio.AbstractEventLoop) -> None:
        self.sender, self.loop = sender, loop
        self.max_body, self.pool_size = sender.max_body, sender.pool_size
        self.idle: dict[Destination, list[_Conn]] = {}
        self.open: set[asyncio.StreamWriter] = set()

    async def call(
        self, call: _AioCall, dest: Destination, head: bytes, url: str, timeout: float
    ) -> Answer:
        """One whole call, its errors as the transport's (see :meth:`AioSender.get`)."""
        call.task = asyncio.current_task()
        deadline = self.loop.call_later(timeout, call.expire)
        try:
            if call.aborted:
                raise asyncio.CancelledError
            return await self._exchange(dest, head, url)
        except asyncio.CancelledError:
            if call.expired and not call.aborted:
                raise CallTimeout(f"the whole call took more than {timeout:g} s") from None
            if call.aborted:
                raise CallAborted("the call was ended: its run stopped") from None
            raise  # the task itself was cancelled (its loop is ending)
        except _MalformedChunk:
            raise requests.exceptions.ChunkedEncodingError("malformed chunked body") from None
        except (http.client.HTTPException, OSError, EOFError, ValueError) as exc:
            raise requests.exceptions.ConnectionError(type(exc).__name__) from None
        finally:
            call.done = True
            deadline.cancel()

    async def _exchange(self, dest: Destination, head: bytes, url: str) -> Answer:
        conn = self._take(dest)
        if conn is not None:
            try:
                return await self._request(conn, dest, head, url)
            except _RESET:
                pass  # the server closed a kept connection: once more on a new one
        return await self._request(await self._connect(dest), dest, head, url)

    async def _request(self, conn: _Conn, dest: Destination, head: bytes, url: str) -> Answer:
        reader, writer = conn
        try:
            writer.write(head)
            answer, keep = await self._answer(reader, url)
        except BaseException:
            self._drop(writer)
            raise
        keep = keep and not _buffered(reader)  # bytes beyond the answer: never another's
        if keep and len(self.idle.setdefault(dest, [])) < self.pool_size:
            self.idle[dest].append(conn)
        else:
            self._drop(writer)
        return answer

    def _take(self, dest: Destination) -> _Conn | None:
        """An idle kept connection to ``dest`` the server has not closed, if any."""
        idle = self.idle.get(dest)
        while idle:
            reader, writer = idle.pop()
            if not (reader.at_eof() or writer.is_closing() or _buffered(reader)):
                return reader, writer
            self._drop(writer)
        return None

    async def _connect(self, dest: Destination) -> _Conn:
        host = dest.host.strip("[]")
        if dest.scheme == "https":
            tls = _tls_context(_ca_bundle())
            conn = await asyncio.open_connection(
                host, dest.port or 443, ssl=tls, server_hostname=host, limit=_LIMIT
            )
        else:
            conn = await asyncio.open_connection(host, dest.port or 80, limit=_LIMIT)
        self.sender.connections_made += 1
        self.open.add(conn[1])
        return conn

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        self.open.discard(writer)
        with contextlib.suppress(RuntimeError):  # its loop is closed: the socket is too
            writer.transport.abort()  # nothing left to send: no TLS close_notify wait

    def abort_all(self) -> None:
        for writer in list(self.open):
            self._drop(writer)
        self.idle.clear()

    async def _answer(self, reader: asyncio.StreamReader, url: str) -> tuple[Answer, bool]:
        """The answer on ``reader`` and whether its connection may be kept."""
        status, version, lines = await _head(reader)
        while 100 <= status < 200:  # interim answers (100 Continue, 103 Early Hints)
            status, version, lines = await _head(reader)
        headers = _parse_headers(lines)
        empty = Answer(status, headers, b"", url)
        body, framed = await self._body(reader, status, headers, empty)
        return Answer(status, headers, body, url), framed and not _will_close(version, headers)

    async def _body(
        self, reader: asyncio.StreamReader, status: int, headers: Any, answer: Answer
    ) -> tuple[bytes, bool]:
        """(body, whether it was framed: the connection is not spent by it)."""
        if status in (204, 304) or status < 200:
            return b"", True
        coding = headers.get("Transfer-Encoding")
        if coding is not None:  # RFC 9112 6.3: it wins over a Content-Length
            kept = "Content-Length" not in headers  # both: smuggling-shaped, never reused
            if coding.rsplit(",", 1)[-1].strip().lower() == "chunked":
                return await _chunked(reader, self.max_body, answer), kept
            return await _to_close(reader, self.max_body, answer), False
        length = _content_length(headers.get("Content-Length"))
        if length is None:
            return await _to_close(reader, self.max_body, answer), False
        if length > self.max_body:
            raise _too_big(answer, self.max_body)
        return await reader.readexactly(length), True


def _buffered(reader: asyncio.StreamReader) -> bool:
    """Bytes the server sent that no answer read: a kept connection would hand them to
    the next call as its answer."""
    return bool(getattr(reader, "_buffer", b""))  # private: no public accessor


class _MalformedChunk(Exception):
    """A chunk-size line that is not 1 to 16 hexadecimal digits (``0x2``, ``+2``, ``-2``,
    ``2_0`` are malformed, though Python's ``int(text, 16)`` reads them)."""


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readline()
    except ValueError:  # longer than the stream's limit
        raise http.client.LineTooLong("line") from None
    if len(line) > _MAX_LINE:
        raise http.client.LineTooLong("line")
    return line


async def _head(reader: asyncio.StreamReader) -> tuple[int, str, list[bytes]]:
    """(status code, HTTP version, header lines) of the answer's head, read at once up to
    its empty line (CRLF line ends, RFC 9112 section 2.2; a head of bare LFs is not read:
    the call ends at its deadline or when the server closes). At most 100 header lines
    of at most 64 KiB each (http.client's bounds)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise http.client.RemoteDisconnected("closed without an answer") from None
        raise
    except asyncio.LimitOverrunError:
        raise http.client.LineTooLong("head") from None
    lines = head[:-4].split(b"\r\n")
    if any(len(line) > _MAX_LINE for line in lines):
        raise http.client.LineTooLong("header line")
    if len(lines) > _MAX_HEADERS + 1:
        raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
    version, status, *_ = str(lines[0], "iso-8859-1").split(None, 2) + ["", ""]
    ok_code = len(status) == 3 and status.isascii() and status.isdigit()
    if version not in ("HTTP/1.0", "HTTP/1.1") or not ok_code:
        raise http.client.BadStatusLine("status line")
    if int(status) < 100:
        raise http.client.BadStatusLine("status line")
    return int(status), version, lines[1:]


def _parse_headers(lines: list[bytes]) -> CaseInsensitiveDict:
    """The header fields of ``lines`` (RFC 9112 section 5): name before the first colon,
    value trimmed; the first of a repeated field is kept (as ``http.client``'s ``get``),
    but repeated ``Content-Length`` / ``Transfer-Encoding`` lines are combined into one
    list (RFC 9110 section 5.3) so that differing values are seen; a folded line continues
    the value before it; a line without a colon is ignored; whitespace between a name and
    its colon is malformed (RFC 9112 section 5.1).
    (``http.client.parse_headers`` reads the same, through the e-mail parser: 3x the CPU.)"""
    fields: dict[str, tuple[str, str]] = {}
    last = None
    for raw in lines:
        line = raw.decode("iso-8859-1")
        if line[:1] in (" ", "\t"):  # obs-fold
            if last is not None:
                fields[last] = (fields[last][0], f"{fields[last][1]} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        last = None
        if colon and name != name.rstrip():  # RFC 9112 5.1: reject, never guess
            raise http.client.HTTPException("whitespace before a header's colon")
        if colon and name and name.lower() not in fields:
            last = name.lower()
            fields[last] = (name, value.strip())
        elif colon and name.lower() in _FRAMING:  # repeated: combined, to be checked
            last = name.lower()
            fields[last] = (fields[last][0], f"{fields[last][1]}, {value.strip()}")
    return CaseInsensitiveDict(fields.values())


def _content_length(text: str | None) -> int | None:
    """``Content-Length`` (RFC 9112 6.3): None when absent; ASCII digits, or a list of one
    repeated value (``5, 5``); anything else (``+5``, ``1_0``, ``2, 5``) is malformed."""
    if text is None:
        return None
    values = {v.strip() for v in text.split(",")}
    value = values.pop()
    if values or not (value.isascii() and value.isdigit()):
        raise http.client.HTTPException("Content-Length")
    return int(value)


def _will_close(version: str, headers: Any) -> bool:
    """The server closes the connection after this answer (RFC 9112 section 9.3)."""
    conn = (headers.get("Connection") or "").lower()
    if version == "HTTP/1.1":
        return "close" in conn
    return "keep-alive" not in conn


async def _chunked(reader: asyncio.StreamReader, cap: int, answer: Answer) -> bytes:
    """A chunked body (RFC 9112 section 7.1), at most ``cap`` bytes; trailers dropped."""
    parts, size = [], 0
    while True:
        text = (await _line(reader)).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(text):
            raise _MalformedChunk
        n = int(text, 16)
        if n == 0:
            break
        size += n
        if size > cap:
            raise _too_big(answer, cap)
        parts.append(await reader.readexactly(n))
        if await reader.readexactly(2) != b"\r\n":  # the CRLF after the chunk
            raise _MalformedChunk
    await _trailer(reader)
    return b"".join(parts)


async def _trailer(reader: asyncio.StreamReader) -> None:
    """Read past a chunked body's trailer section (RFC 9112 section 7.1.2), at most
    64 KiB in all (its fields are dropped: nothing here reads them)."""
    size = 0
    while (line := await _line(reader)) not in (b"\r\n", b"\n", b""):
        size += len(line)
        if size > _MAX_LINE:
            raise http.client.LineTooLong("trailer section")


async def _to_close(reader: asyncio.StreamReader, cap: int, answer: Answer) -> bytes:
    """A body that ends when the server closes the connection, at most ``cap`` bytes."""
    parts, size = [], 0
    while chunk := await reader.read(_READ):
        size += len(chunk)
        if size > cap:
            raise _too_big(answer, cap)
        parts.append(chunk)
    return b"".join(parts)
