"""The one place that sends HTTP: every session of the package is made or set up here.

:func:`new_session` gives a ``requests.Session`` (or sets up one given, such as the
requests-oauthlib ``OAuth2Session`` of the token calls) that sends through
:class:`ZohoAdapter` for ``http://`` and ``https://``: no proxy or netrc settings from the
environment (``trust_env`` off: tokens go where we say), no redirects followed, no
urllib3 retries (retrying is the poller's decision), a pool sized for the org's calls in
flight. :meth:`ZohoAdapter.send` is the choke point every request of the package passes
through, and there, for every request:

- the destination is checked against the org's
  :class:`~zcrm_notebook.api.destinations.DestinationPolicy` on the prepared URL that
  urllib3 will connect to, before anything is connected;
- the *whole* call (connect, headers and body) is bounded by its timeout: requests'
  timeout bounds each socket read only, so one watchdog thread shuts down the socket of a
  call whose deadline passed (the call then fails with :class:`CallTimeout`);
- the body is read by the adapter itself, at most :data:`MAX_BODY_BYTES` (a larger answer
  is a :class:`~zcrm_notebook.errors.ResponseFormatError`; a ``Content-Length`` above it is
  refused before reading).

A session given by the user (``ZohoClient(session=...)``) is set up by :func:`guard_session`:
its proxies (never used for loopback: a plain-HTTP token must not pass a proxy's host),
``verify`` and ``cert`` settings are kept, every adapter mounted on it is
guarded (requests' plain adapters become :class:`ZohoAdapter`; any other adapter is
wrapped, so its requests pass the same destination check and body cap). Calls made in a
:meth:`CallGroup.active` block can be ended at once by :meth:`CallGroup.abort` (Stop, the
run's deadline, Ctrl-C).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import http.client
import itertools
import re
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import requests
import requests.adapters
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util import parse_url

from ..errors import ResponseFormatError
from .destinations import Destination, DestinationPolicy, is_loopback_url

__all__ = [
    "ZohoAdapter",
    "GuardedAdapter",
    "LeanSender",
    "Answer",
    "CallGroup",
    "CallTimeout",
    "CallAborted",
    "new_session",
    "guard_session",
    "USER_AGENT",
    "MAX_BODY_BYTES",
    "DEFAULT_CALL_TIMEOUT_S",
]

USER_AGENT = "zcrm-notebook"
#: Largest answer read, bytes (a status or token answer is well under 1 KiB).
MAX_BODY_BYTES = 1 << 20
#: Whole-call bound of a request sent without a timeout, seconds.
DEFAULT_CALL_TIMEOUT_S = 30.0
_CHUNK = 16 * 1024
_S = TypeVar("_S", bound=requests.Session)
_local = threading.local()


class CallTimeout(requests.exceptions.Timeout):
    """The whole call (connect + headers + body) took longer than its timeout."""


class CallAborted(requests.exceptions.ConnectionError):
    """The call was ended by :meth:`CallGroup.abort` (the run stopped)."""


# --- calls in flight and their watchdog -----------------------------------------------------


class _Call:
    """One request in flight: its deadline and (duplicates of) the sockets it uses.

    A duplicate descriptor refers to the same socket as urllib3's (TLS or not), so
    ``shutdown`` on it ends a read blocked in any thread; it is closed when the call ends.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = self.aborted = self.done = False
        self._socks: dict[int, socket.socket] = {}
        self._lock = threading.Lock()

    def track(self, sock: Any) -> None:
        with self._lock:
            if self.done or sock.fileno() in self._socks:
                return
            try:
                dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
            except (OSError, ValueError):
                return
            self._socks[sock.fileno()] = dup
            if self.expired or self.aborted:
                _shut(dup)

    def end(self, *, aborted: bool = False) -> None:
        """Shut down the call's sockets (the deadline passed, or the run stopped)."""
        with self._lock:
            if self.done:
                return
            self.aborted |= aborted
            self.expired |= not aborted
            for dup in self._socks.values():
                _shut(dup)

    def finish(self) -> bool:
        """Mark the call over (its sockets are not touched again); True if it was ended."""
        with self._lock:
            self.done = True
            for dup in self._socks.values():
                dup.close()
            self._socks.clear()
            return self.expired or self.aborted


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread ending the calls whose deadline passed."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Call]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, call: _Call) -> None:
        with self._cond:
            heapq.heappush(self._heap, (call.deadline, next(self._seq), call))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="zcrm-call-watchdog", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is call:  # the earliest deadline now: wake up for it
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait_s = self._heap[0][0] - time.monotonic()
                if wait_s > 0:
                    self._cond.wait(wait_s)
                    continue
                call = heapq.heappop(self._heap)[2]
            call.end()


_watchdog = _Watchdog()


class CallGroup:
    """The calls of one owner (a client): :meth:`abort` ends those in flight, and any
    started later in an :meth:`active` block fails at once."""

    def __init__(self) -> None:
        self.aborted = False
        self._calls: set[_Call] = set()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Calls sent by this thread inside the block belong to the group."""
        previous = getattr(_local, "group", None)
        _local.group = self
        try:
            yield
        finally:
            _local.group = previous

    def abort(self) -> None:
        """End every call of the group in flight (and refuse later ones)."""
        with self._lock:
            self.aborted = True
            calls = list(self._calls)
        for call in calls:
            call.end(aborted=True)

    def _enter(self, call: _Call) -> None:
        with self._lock:
            if self.aborted:
                raise CallAborted("the call was not sent: its run has stopped")
            self._calls.add(call)

    def _leave(self, call: _Call) -> None:
        with self._lock:
            self._calls.discard(call)


@contextlib.contextmanager
def _running(timeout: Any) -> Iterator[_Call]:
    """A call in flight for the body of the block: watched, in the thread's group."""
    call = _Call(time.monotonic() + _whole_call_s(timeout))
    group: CallGroup | None = getattr(_local, "group", None)
    if group is not None:
        group._enter(call)
    previous = getattr(_local, "call", None)
    _local.call = call
    _watchdog.watch(call)
    try:
        yield call
    finally:
        _local.call = previous
        call.finish()
        if group is not None:
            group._leave(call)


def _whole_call_s(timeout: Any) -> float:
    """The whole-call bound of requests' ``timeout`` (a number, a (connect, read) pair)."""
    if isinstance(timeout, (int, float)) and timeout > 0:
        return float(timeout)
    if isinstance(timeout, tuple):
        parts = [t for t in timeout if isinstance(t, (int, float)) and t > 0]
        if parts:
            return float(sum(parts))
    return DEFAULT_CALL_TIMEOUT_S


def _track(sock: Any) -> None:
    call: _Call | None = getattr(_local, "call", None)
    if call is not None and sock is not None:
        call.track(sock)


class _Tracked:
    """Mixin of a urllib3 connection: hands its socket to the call in flight of this
    thread, for a new connection and for a reused one."""

    sock: Any

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        _track(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _track(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _TrackedHTTPConnection(_Tracked, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_Tracked, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


# --- reading an answer ------------------------------------------------------------------


def _read_body(r: requests.Response, cap: int) -> None:
    """Read the body of a streamed answer into ``r`` (``r.content``), at most ``cap`` bytes.

    Raises
    ------
    ResponseFormatError
        The answer announces or holds more than ``cap`` bytes.
    """
    if _announced_too_big(r.headers.get("Content-Length"), cap):
        raise _too_big(r, cap)
    if r._content is not False:  # an adapter that read it already (a test double)
        if len(r._content or b"") > cap:
            raise _too_big(r, cap)
        return
    content = _read_capped(r.iter_content(_CHUNK), cap)
    if content is None:
        raise _too_big(r, cap)
    r._content = content
    r._content_consumed = True


def _announced_too_big(length: object, cap: int) -> bool:
    """A ``Content-Length`` header above ``cap`` (read no further)."""
    text = str(length or "").strip()
    return text.isdigit() and (len(text) > 12 or int(text) > cap)


def _read_capped(chunks: Iterator[bytes], cap: int) -> bytes | None:
    """The body from ``chunks``, or None as soon as it holds more than ``cap`` bytes."""
    parts, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > cap:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _too_big(r: requests.Response | Answer, cap: int) -> ResponseFormatError:
    host = requests.utils.urlparse(r.url).hostname
    size = f"{cap >> 20} MiB" if cap % 2**20 == 0 else f"{cap:,} bytes"
    return ResponseFormatError(
        f"answer from {host} (HTTP {r.status_code}) is larger than {size}; not read",
        http_status=r.status_code,
    )


def _bounded_send(
    send: Any, request: requests.PreparedRequest, cap: int, kwargs: dict
) -> requests.Response:
    """``send(request, stream=True, ...)`` and read its body, bounded in time and size."""
    kwargs = {**kwargs, "stream": True}
    with _running(kwargs.get("timeout")) as call:
        try:
            r = send(request, **kwargs)
            try:
                _read_body(r, cap)
            except ValueError as exc:  # http.client on a negative chunk size ("-2")
                _close(r)
                why = f"malformed body ({type(exc).__name__})"
                raise requests.exceptions.ChunkedEncodingError(why, request=request) from None
            except BaseException:
                _close(r)
                raise
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            if call.aborted:
                raise CallAborted("the call was ended: its run stopped", request=request) from None
            if call.expired:
                raise _call_timeout(request, kwargs) from None
            if isinstance(exc, requests.RequestException):
                raise
            raise requests.exceptions.ConnectionError(type(exc).__name__, request=request) from None
        if call.finish():  # ended while the end of the body arrived: it may be cut short
            _close(r)
            raise _call_timeout(request, kwargs)
    with contextlib.suppress(AttributeError, Urllib3Error, OSError):
        r.raw.release_conn()  # the body is read: the connection goes back to the pool
    return r


def _close(r: requests.Response) -> None:
    """Drop an answer's connection (not back to the pool: its body was not read whole)."""
    with contextlib.suppress(AttributeError, Urllib3Error, OSError):
        r.close()


def _call_timeout(request: requests.PreparedRequest, kwargs: dict) -> CallTimeout:
    bound = _whole_call_s(kwargs.get("timeout"))
    return CallTimeout(f"the whole call took more than {bound:g} s", request=request)


# --- adapters and sessions --------------------------------------------------------------


def _direct(request: requests.PreparedRequest, kwargs: dict) -> dict:
    """No proxy for a loopback destination: the request (plain HTTP, a token in its
    headers) would be sent to the proxy's host, and loopback is this machine anyway."""
    return {**kwargs, "proxies": {}} if is_loopback_url(request.url or "") else kwargs


class ZohoAdapter(HTTPAdapter):
    """The transport adapter of every session: each request of the package passes through
    :meth:`send`.

    Parameters
    ----------
    pool_size : int, default 10
        Connections kept alive per host.
    policy : DestinationPolicy, optional
        Where requests may go; default every data-center host and loopback
        (:meth:`DestinationPolicy.any_zoho`). A session of one org gets its org's policy.
    max_body : int, default :data:`MAX_BODY_BYTES`
        Largest body read, bytes.
    """

    def __init__(
        self,
        pool_size: int = 10,
        *,
        policy: DestinationPolicy | None = None,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.policy = policy or DestinationPolicy.any_zoho()
        self.max_body = max_body
        super().__init__(pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS  # sockets known to the watchdog

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send one prepared request after :meth:`check`, bounded in time and size.

        Raises
        ------
        UnsafeEndpointError
            The destination is not allowed; nothing was connected.
        ResponseFormatError
            The answer is larger than ``max_body``.
        CallTimeout, CallAborted, requests.RequestException
            No (complete) answer.
        """
        self.check(request)
        return _bounded_send(super().send, request, self.max_body, _direct(request, kwargs))

    def check(self, request: requests.PreparedRequest) -> None:
        """Called with every request before it is sent: refuse a destination that the
        policy does not allow (:meth:`DestinationPolicy.check` of the prepared URL)."""
        self.policy.check(request.url)


class GuardedAdapter(BaseAdapter):
    """An adapter of a session given by the user, wrapped: each request passes the same
    destination check and body cap as :class:`ZohoAdapter`, then goes to ``inner``."""

    def __init__(
        self, inner: BaseAdapter, *, policy: DestinationPolicy, max_body: int = MAX_BODY_BYTES
    ) -> None:
        super().__init__()
        self.inner, self.policy, self.max_body = inner, policy, max_body

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Check, send through the wrapped adapter, read the body (capped)."""
        self.policy.check(request.url)
        return _bounded_send(self.inner.send, request, self.max_body, _direct(request, kwargs))

    def close(self) -> None:
        self.inner.close()


def guard_session(
    session: _S, policy: DestinationPolicy | None = None, *, pool_size: int = 10
) -> _S:
    """Guard every adapter of ``session`` (a session given by the user), in place.

    requests' plain ``HTTPAdapter`` (without retries of yours) becomes a
    :class:`ZohoAdapter`; any other adapter is wrapped in a :class:`GuardedAdapter` (the
    destination check and the body cap apply; its own timeouts bound the call); an
    adapter already guarded also accepts ``policy``'s destinations. The session's
    proxies, ``verify``, ``cert``, headers and ``trust_env`` are kept.

    Returns
    -------
    requests.Session
        ``session``.
    """
    policy = policy or DestinationPolicy.any_zoho()
    for prefix, adapter in list(session.adapters.items()):
        if isinstance(adapter, (ZohoAdapter, GuardedAdapter)):
            adapter.policy = adapter.policy | policy
        elif type(adapter) is HTTPAdapter and not adapter.max_retries.total:
            session.adapters[prefix] = ZohoAdapter(pool_size, policy=policy)  # requests' own
        else:
            session.adapters[prefix] = GuardedAdapter(adapter, policy=policy)
    for prefix in ("https://", "http://"):
        if prefix not in session.adapters:
            session.mount(prefix, ZohoAdapter(pool_size, policy=policy))
    return session


@overload
def new_session(
    session: None = None,
    *,
    pool_size: int = ...,
    user_agent: str | None = ...,
    policy: DestinationPolicy | None = ...,
) -> requests.Session: ...


@overload
def new_session(
    session: _S,
    *,
    pool_size: int = ...,
    user_agent: str | None = ...,
    policy: DestinationPolicy | None = ...,
) -> _S: ...


def new_session(
    session: requests.Session | None = None,
    *,
    pool_size: int = 10,
    user_agent: str | None = USER_AGENT,
    policy: DestinationPolicy | None = None,
) -> requests.Session:
    """A session whose every request goes through a :class:`ZohoAdapter`.

    Parameters
    ----------
    session : requests.Session, optional
        A session to set up (e.g. an ``OAuth2Session``); default a new one.
    pool_size : int, default 10
        Connections kept alive (match the calls in flight).
    user_agent : str or None, default ``"zcrm-notebook"``
        The ``User-Agent`` header; None keeps the session's.
    policy : DestinationPolicy, optional
        Where its requests may go (default: any data-center host, or loopback).

    Returns
    -------
    requests.Session
        ``session`` (or the new one), with ``trust_env`` off and ``max_redirects = 0``
        (a redirect is refused: it would send a secret again, elsewhere).
    """
    s = session if session is not None else requests.Session()
    adapter = ZohoAdapter(pool_size, policy=policy)
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    s.trust_env = False  # no proxy/netrc surprises: tokens go where we say
    s.max_redirects = 0
    if user_agent is not None:
        s.headers["User-Agent"] = user_agent
    return s


# --- the lean sender of the hot loop ----------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """An answer of :class:`LeanSender` (the attributes of ``requests.Response`` that
    :func:`~zcrm_notebook.api.answers.interpret_answer` reads).

    Attributes
    ----------
    status_code : int
    headers : email.message.Message
        Case-insensitive ``get`` (``http.client``'s headers).
    content : bytes
        The body, at most the sender's ``max_body`` bytes.
    url : str
    """

    status_code: int
    headers: Any
    content: bytes
    url: str


_RESET = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class LeanSender:
    """GET requests over ``http.client`` (standard library), for the status calls of the
    poll loop: about half the CPU of a ``requests.Session`` call (``benchmarks/bench_cpu.py``).

    The same guarantees as :class:`ZohoAdapter`, with its code: each URL is checked by
    ``policy`` (:meth:`DestinationPolicy.check`, the same parser) right before sending and
    the connection goes exactly to the host and port that check returned; the whole call
    is bounded by the same watchdog (and ended by :meth:`CallGroup.abort`); the body is
    read by the same capped reader (a larger answer is a ``ResponseFormatError``). TLS with
    a default verified context on certifi's CA bundle (as requests uses); no proxy, no
    redirect followed, no ``Accept-Encoding`` but ``identity``. One kept-alive connection
    per thread and destination; a kept connection the server closed is replaced once.

    Parameters
    ----------
    policy : DestinationPolicy
    max_body : int, default :data:`MAX_BODY_BYTES`
    user_agent : str, default :data:`USER_AGENT`
    """

    def __init__(
        self,
        policy: DestinationPolicy,
        *,
        max_body: int = MAX_BODY_BYTES,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.policy, self.max_body, self.user_agent = policy, max_body, user_agent
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()
        self.connections_made = 0  # new connections (tests: keep-alive reuse)
        # a sender dropped without close() (a client nobody closed) still closes its sockets
        weakref.finalize(self, _close_all, self._open, self._lock)

    def close(self) -> None:
        """Close every kept connection (of all threads)."""
        _close_all(self._open, self._lock)

    def get(self, url: str, headers: dict[str, str], timeout: float) -> Answer:
        """``GET url`` with ``headers``; the whole call within ``timeout`` seconds.

        Raises
        ------
        UnsafeEndpointError
            ``url`` is not allowed by the policy: nothing was connected or sent.
        ResponseFormatError
            The answer is larger than ``max_body``.
        CallTimeout, CallAborted, requests.ConnectionError
            No (complete) answer (as :class:`ZohoAdapter`'s, so callers handle both alike).
        """
        dest = self.check(url)
        target = _request_target(url)
        with _running(timeout) as call:
            try:
                answer = self._exchange(dest, target, url, headers, timeout)
            except ValueError as exc:  # http.client on a negative chunk size ("-2")
                why = f"malformed body ({type(exc).__name__})"
                raise requests.exceptions.ChunkedEncodingError(why) from None
            except (http.client.HTTPException, OSError) as exc:
                if call.aborted:
                    raise CallAborted("the call was ended: its run stopped") from None
                # the socket's own timeout may fire before the watchdog marks the call
                # (a loaded machine): either way the call took longer than it may
                if call.expired or isinstance(exc, TimeoutError):
                    raise CallTimeout(f"the whole call took more than {timeout:g} s") from None
                raise requests.exceptions.ConnectionError(type(exc).__name__) from None
            if call.finish():
                self._drop(dest)
                raise CallTimeout(f"the whole call took more than {timeout:g} s")
        return answer

    def check(self, url: str) -> Destination:
        """Called with every URL right before it is sent: where it goes, if the policy
        allows it (:meth:`DestinationPolicy.check`, as :meth:`ZohoAdapter.check`)."""
        return self.policy.check(url)

    def _exchange(
        self, dest: Destination, target: str, url: str, headers: dict, timeout: float
    ) -> Answer:
        conn, reused = self._conn(dest, timeout)
        try:
            return self._request(conn, dest, target, url, headers)
        except _RESET:
            self._drop(dest)
            if not reused:
                raise
        conn, _ = self._conn(dest, timeout)  # the server closed a kept connection: once more
        try:
            return self._request(conn, dest, target, url, headers)
        except BaseException:
            self._drop(dest)
            raise

    def _request(
        self, conn: http.client.HTTPConnection, dest: Destination, target: str, url: str,
        headers: dict,
    ) -> Answer:  # fmt: skip
        if conn.sock is None:
            conn.connect()
        _track(conn.sock)
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.putheader("User-Agent", self.user_agent)
        conn.putheader("Accept-Encoding", "identity")
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        answer = Answer(resp.status, resp.headers, b"", url)
        try:
            if _announced_too_big(resp.headers.get("Content-Length"), self.max_body):
                raise _too_big(answer, self.max_body)
            body = _read_capped(iter(functools.partial(resp.read, _CHUNK), b""), self.max_body)
            if body is None:
                raise _too_big(answer, self.max_body)
        except BaseException:
            resp.close()  # its file holds the socket open after the connection's close()
            self._drop(dest)
            raise
        if resp.will_close:
            self._drop(dest)
        return Answer(resp.status, resp.headers, body, url)

    def _conn(self, dest: Destination, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to ``dest`` (reused: True), or a new one (not connected)."""
        conns = self._conns()
        conn = conns.get(dest)
        if conn is not None and conn.sock is not None:
            conn.timeout = timeout
            return conn, True
        host, port = dest.host.strip("[]"), dest.port
        if dest.scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port or 443, timeout=timeout, context=_tls_context(_ca_bundle())
            )
        else:
            conn = http.client.HTTPConnection(host, port or 80, timeout=timeout)
        conns[dest] = conn
        with self._lock:
            self._open.add(conn)
            self.connections_made += 1
        return conn, False

    def _conns(self) -> dict[Destination, http.client.HTTPConnection]:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        return conns

    def _drop(self, dest: Destination) -> None:
        conn = self._conns().pop(dest, None)
        if conn is not None:
            with self._lock:
                self._open.discard(conn)
            conn.close()


# A path and query that urllib3's parse_url keeps as they are: unreserved characters, "/",
# no dot segment; a query of unreserved characters, "=", "&" and "+".
_AUTHORITY_END = re.compile(r"[/?#]")
_PLAIN_TARGET = re.compile(r"(/(?!\.\.?(?:/|\?|$))[A-Za-z0-9_~.-]*)+(\?[A-Za-z0-9_~.=&+-]*)?")


def _request_target(url: str) -> str:
    """The path and query sent for ``url`` (checked): urllib3's ``request_uri``, read off
    the text when parse_url would keep it as is (the status URL), else parsed."""
    end = _AUTHORITY_END.search(url, url.find("://") + 3)  # the host part ends at / ? #
    if end is not None and end.group() == "/" and _PLAIN_TARGET.fullmatch(url, end.start()):
        return url[end.start() :]
    return parse_url(url).request_uri


def _close_all(conns: set[http.client.HTTPConnection], lock: threading.Lock) -> None:
    with lock:
        kept = list(conns)
        conns.clear()
    for conn in kept:
        conn.close()


def _ca_bundle() -> str:
    """The CA bundle requests verifies with (certifi's; ``trust_env`` is off)."""
    return str(requests.adapters.DEFAULT_CA_BUNDLE_PATH)


@functools.lru_cache(maxsize=4)
def _tls_context(ca_bundle: str) -> ssl.SSLContext:
    """A default verified TLS context (hostname checked) on ``ca_bundle``."""
    return ssl.create_default_context(cafile=ca_bundle)
