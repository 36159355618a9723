"""The status calls' coroutines (api/aio_sender.py) and the poll loop that awaits them,
against raw loopback servers whose every byte the test writes. Each server handles a
bounded number of connections; a call that must not end by itself is ended by its
deadline (a fraction of a second) or by an abort after a handshake (an Event), never by
sleeping."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from zcrm_notebook.api import aio_sender
from zcrm_notebook.api.aio_sender import AioSender
from zcrm_notebook.api.destinations import DestinationPolicy
from zcrm_notebook.api.transport import CallAborted, CallGroup, CallTimeout
from zcrm_notebook.auth import OrgCredentials
from zcrm_notebook.client import ZohoClient
from zcrm_notebook.errors import ResponseFormatError, UnsafeEndpointError
from zcrm_notebook.poll import Poller, orgstate
from zcrm_notebook.poll.policy import PollPolicy
from zcrm_notebook.simulator import Faults, SimClock, SimJob, SimOrg, Simulator

OK = b'{"data": []}'
SHORT_S = 0.3  # the deadline of a call that is meant to run out


class RawServer:
    """A loopback TCP server: connection ``n`` (1, 2, ...) is served by ``serve(conn, n)``
    on its own thread; at most ``max_conns`` connections are accepted."""

    def __init__(self, serve: Callable[[socket.socket, int], None], max_conns: int = 8) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.serve, self.max_conns = serve, max_conns
        self.requests: list[bytes] = []  # the request heads received, in order
        self.closed_by_client = threading.Event()  # a served connection read EOF
        self.release = threading.Event()  # handlers that hold a connection let go
        self.conns = 0
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)
        self._accept.start()

    def url(self, path: str = "/crm/v8/Leads/actions/mass_convert?job_id=1") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept_loop(self) -> None:
        while self.conns < self.max_conns:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.conns += 1
            t = threading.Thread(target=self._serve_one, args=(conn, self.conns), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve_one(self, conn: socket.socket, n: int) -> None:
        with conn:
            try:
                self.serve(conn, n)
            except OSError:
                pass

    def read_request(self, conn: socket.socket) -> bool:
        """Read one request head; False when the client closed the connection."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                self.closed_by_client.set()
                return False
            data += chunk
            assert len(data) < 1 << 20
        self.requests.append(data)
        return True

    def hold(self, conn: socket.socket) -> None:
        """Keep the connection open, silent, until the client closes it or the test ends."""
        conn.settimeout(0.05)
        while not self.release.is_set():
            try:
                if conn.recv(1024) == b"":
                    self.closed_by_client.set()
                    return
            except TimeoutError:
                continue

    def close(self) -> None:
        self.release.set()
        with contextlib_suppress():
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for t in self._threads:
            t.join(timeout=5)


def contextlib_suppress():
    import contextlib

    return contextlib.suppress(OSError)


def answer(body: bytes = OK, head: bytes = b"", status: bytes = b"200 OK") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n" + head + b"\r\n" + body
    )


@pytest.fixture
def raw():
    servers: list[RawServer] = []

    def start(serve, max_conns=8):
        srv = RawServer(serve, max_conns)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.close()


class OnLoop:
    """An :class:`AioSender` driven from the test's thread: its coroutines run on an event
    loop in a thread of its own (as the poll loop's thread runs them)."""

    def __init__(self, sender: AioSender) -> None:
        self.sender = sender
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def __getattr__(self, name):
        return getattr(self.sender, name)

    def submit(self, url, headers, timeout, group=None) -> concurrent.futures.Future:
        coro = self.sender.get(url, headers, timeout, group)
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def get(self, url, headers, timeout, group=None):
        return self.submit(url, headers, timeout, group).result(timeout + 5)

    def aclose(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sender.aclose(), self.loop).result(10)

    def stop(self) -> None:
        self.aclose()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def sender():
    senders: list[OnLoop] = []

    def make(max_body: int = 1 << 20) -> OnLoop:
        s = OnLoop(AioSender(DestinationPolicy.for_org("us", loopback=True), max_body=max_body))
        senders.append(s)
        return s

    yield make
    for s in senders:
        s.stop()


def keep_answering(srv_ref: list) -> Callable[[socket.socket, int], None]:
    def serve(conn, n):
        while srv_ref[0].read_request(conn):
            conn.sendall(answer())

    return serve


def friendly(raw) -> RawServer:
    ref: list = []
    srv = raw(keep_answering(ref))
    ref.append(srv)
    return srv


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "zcrm-poll-loop" and t.is_alive()]


# --- keep-alive, reconnect ----------------------------------------------------------------


def test_calls_in_flight_together_share_kept_connections_on_the_next_round(raw, sender):
    srv, s = friendly(raw), sender()
    for _ in range(3):  # three rounds of five calls in flight at once
        futs = [s.submit(srv.url(f"/s?job_id={i}"), {}, 5.0) for i in range(5)]
        assert [f.result(timeout=10).status_code for f in futs] == [200] * 5
    assert s.connections_made <= 5 and len(srv.requests) == 15


def test_a_kept_connection_closed_by_the_server_is_replaced_once_and_no_more(raw, sender):
    holder: list = []

    def serve(conn, n):
        holder[0].read_request(conn)
        if n == 1:  # answers once, then reads the next request and drops it unanswered
            conn.sendall(answer())
            holder[0].read_request(conn)
        elif n == 2:  # answers, saying it closes
            conn.sendall(answer(b'{"data": [2]}', head=b"Connection: close\r\n"))
        # n == 3: a new connection closed without an answer: an error, not another try

    srv = raw(serve, max_conns=3)
    holder.append(srv)
    s = sender()
    assert s.get(srv.url(), {}, 5.0).content == OK
    assert s.get(srv.url(), {}, 5.0).content == b'{"data": [2]}'  # sent again, once
    assert s.connections_made == 2 and len(srv.requests) == 3
    with pytest.raises(requests.ConnectionError, match="RemoteDisconnected"):
        s.get(srv.url(), {}, 5.0)
    assert s.connections_made == 3 and len(srv.requests) == 4


# --- deadline and abort -------------------------------------------------------------------


def test_a_trickling_server_is_cut_at_the_whole_call_deadline(raw, sender):
    holder: list = []

    def serve(conn, n):
        holder[0].read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while not holder[0].release.wait(0.02):  # one header byte at a time, for ever
            conn.sendall(b"X")

    srv = raw(serve, max_conns=1)
    holder.append(srv)
    with pytest.raises(CallTimeout, match="more than 0.3 s"):
        sender().get(srv.url(), {}, SHORT_S)


def test_a_server_that_never_answers_ends_at_the_deadline_and_its_connection_is_closed(raw, sender):
    holder: list = []

    def serve(conn, n):
        holder[0].read_request(conn)
        holder[0].hold(conn)

    srv = raw(serve, max_conns=1)
    holder.append(srv)
    with pytest.raises(CallTimeout):
        sender().get(srv.url(), {}, SHORT_S)
    assert srv.closed_by_client.wait(5)  # the client dropped the connection


def test_abort_ends_a_call_in_flight_and_refuses_the_next(raw, sender):
    holder: list = []
    got_request = threading.Event()

    def serve(conn, n):
        holder[0].read_request(conn)
        got_request.set()
        holder[0].hold(conn)

    srv = raw(serve, max_conns=1)
    holder.append(srv)
    s, group = sender(), CallGroup()
    fut = s.submit(srv.url(), {}, 60.0, group)
    assert got_request.wait(10)
    group.abort()
    with pytest.raises(CallAborted):
        fut.result(timeout=10)
    with pytest.raises(CallAborted):
        s.get(srv.url(), {}, 60.0, group)
    assert srv.closed_by_client.wait(5) and len(srv.requests) == 1


# --- the body cap, for each framing -------------------------------------------------------

CAP = 100


def _serve_bytes(wire: bytes):
    holder: list = []

    def serve(conn, n):
        holder[0].read_request(conn)
        conn.sendall(wire)
        if b"Content-Length" not in wire.split(b"\r\n\r\n")[0] and b"chunked" not in wire:
            return  # a body read to the close: closing ends it
        holder[0].hold(conn)

    return holder, serve


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n",  # announced: not read at all
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + b"x" * 64 + b"\r\n"
        b"40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 101,  # read to the close
    ],
    ids=["content-length", "chunked", "read-to-close"],
)
def test_a_body_over_the_cap_is_refused_whatever_its_framing(raw, sender, wire):
    holder, serve = _serve_bytes(wire)
    srv = raw(serve, max_conns=1)
    holder.append(srv)
    with pytest.raises(ResponseFormatError, match="larger than 100 bytes"):
        sender(max_body=CAP).get(srv.url(), {}, 5.0)


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n32;ext=1\r\n" + b"x" * 50 + b"\r\n"
        b"32\r\n" + b"x" * 50 + b"\r\n0\r\nTrailer: t\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 100,
    ],
    ids=["content-length", "chunked", "read-to-close"],
)
def test_a_body_of_exactly_the_cap_is_read_whatever_its_framing(raw, sender, wire):
    holder, serve = _serve_bytes(wire)
    srv = raw(serve, max_conns=1)
    holder.append(srv)
    assert sender(max_body=CAP).get(srv.url(), {}, 5.0).content == b"x" * 100


# --- malformed answers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc", "ChunkedEncoding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nabc", "ChunkedEncoding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nabc", "ChunkedEncoding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+2\r\nabc", "ChunkedEncoding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2_0\r\nabc", "ChunkedEncoding"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"0" * 17 + b"2\r\nab",
            "ChunkedEncoding",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n"
            + (b"X: " + b"x" * 1000 + b"\r\n") * 70,
            "LineTooLong",
        ),  # 70 lines, 70 KB
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
            "ChunkedEncoding",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}", "HTTPException"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n{}", "HTTPException"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}", "HTTPException"),
        (b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n{}", "HTTPException"),
        (b"HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\n{}", "BadStatusLine"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", "IncompleteRead"),
        (b"ICY 200 OK\r\nContent-Length: 2\r\n\r\n{}", "BadStatusLine"),
        (b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}", "BadStatusLine"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", "HTTPException"),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", "LineTooLong"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}", "IncompleteRead"),  # cut short
    ],
    ids=[
        "not-hex",
        "negative",
        "0x-prefix",
        "plus-sign",
        "underscore",
        "17-digits",
        "trailer-over-64k",
        "chunk-crlf-lie",
        "length-plus",
        "length-underscore",
        "two-lengths",
        "space-before-colon",
        "http2",
        "cut-chunk",
        "status",
        "code",
        "headers",
        "line",
        "short",
    ],
)
def test_a_malformed_answer_is_a_connection_error_naming_only_its_kind(raw, sender, wire, error):
    holder: list = []

    def serve(conn, n):
        holder[0].read_request(conn)
        conn.sendall(wire)  # then the server closes the connection

    srv = raw(serve, max_conns=1)
    holder.append(srv)
    with pytest.raises(requests.RequestException) as err:
        sender().get(srv.url(), {}, 5.0)
    assert error in f"{type(err.value).__name__} {err.value}"
    assert "abc" not in str(err.value) and "X-A" not in str(err.value)  # no server text


@pytest.mark.parametrize("hold", [False, True], ids=["then-closed", "then-held"])
def test_a_head_of_bare_lfs_is_not_read_and_ends_at_the_close_or_the_deadline(raw, sender, hold):
    holder: list = []

    def serve(conn, n):
        holder[0].read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}")
        if hold:
            holder[0].hold(conn)

    srv = raw(serve, max_conns=1)
    holder.append(srv)
    with pytest.raises(CallTimeout if hold else requests.ConnectionError):
        sender().get(srv.url(), {}, SHORT_S if hold else 5.0)


def test_a_head_over_256_kib_is_refused_without_reading_more(raw, sender):
    holder: list = []

    def serve(conn, n):
        holder[0].read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + (b"X-A: " + b"b" * 4000 + b"\r\n") * 80)
        holder[0].hold(conn)  # never ends its head

    srv = raw(serve, max_conns=1)
    holder.append(srv)
    with pytest.raises(requests.ConnectionError, match="LineTooLong"):
        sender().get(srv.url(), {}, 5.0)


def test_a_header_with_a_line_break_is_never_sent(raw, sender):
    srv = friendly(raw)
    s = sender()
    with pytest.raises(requests.exceptions.InvalidHeader) as err:
        s.get(srv.url(), {"Authorization": "Zoho-oauthtoken 1000.a\r\nX-Evil: 1"}, 5.0)
    assert "1000.a" not in str(err.value) and s.connections_made == 0


# --- where it connects --------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    ["", "@evil.example/x", "\\@evil.example/", "#@evil.example/", "?@evil.example/", ":80/"],
)
def test_the_connection_goes_exactly_to_the_host_and_port_the_check_returned(
    raw, sender, monkeypatch, tail
):
    srv = friendly(raw)
    opened: list[tuple] = []
    real_open = asyncio.open_connection

    async def recording_open(host, port, **kw):
        opened.append((host, port))
        return await real_open(host, port, **kw)

    monkeypatch.setattr(aio_sender.asyncio, "open_connection", recording_open)
    s = sender()
    url = f"http://127.0.0.1:{srv.port}{tail}"
    try:
        dest = s.check(url)
    except UnsafeEndpointError:
        with pytest.raises(UnsafeEndpointError):
            s.get(url, {}, 5.0)
        assert opened == []
        return
    try:
        s.get(url, {}, 2.0)
    except requests.RequestException:
        pass  # nothing listens there: what matters is where it went
    assert opened == [(dest.host.strip("[]"), dest.port or 80)]


# --- shutdown -----------------------------------------------------------------------------


def test_closing_the_connections_closes_every_socket_and_ends_the_calls_on_them(raw, sender):
    holder: list = []
    got_request = threading.Event()

    def serve(conn, n):
        while holder[0].read_request(conn):
            if b"job_id=2" in holder[0].requests[-1]:
                got_request.set()
                holder[0].hold(conn)
                return
            conn.sendall(answer())

    srv = raw(serve, max_conns=3)
    holder.append(srv)
    s = sender()
    busy = s.submit(srv.url("/s?job_id=2"), {}, 60.0)  # connection 1, never answered
    assert got_request.wait(10)
    s.get(srv.url("/s?job_id=1"), {}, 5.0)  # connection 2, kept idle
    socks = [w.get_extra_info("socket") for w in s._conns.open]
    assert len(socks) == 2
    s.close()  # from this thread: on the loop's thread
    with pytest.raises(requests.RequestException):
        busy.result(timeout=10)
    assert all(sock.fileno() == -1 for sock in socks)
    assert s.get(srv.url(), {}, 5.0).content == OK  # a later call opens a new connection
    assert s.connections_made == 3


# --- through the client and the poll run (the simulator) ----------------------------------

JOB = "3652397000009835020"


def _sim(faults=None, jobs=(JOB,)):
    org = SimOrg("us-org", "us", "1000.USCLIENT", "us-client-secret", "1000.us.refresh")
    clock = SimClock()
    sim = Simulator([org], [SimJob(j, "us-org", 10) for j in jobs], clock=clock, faults=faults)
    return sim, clock


def _client(sim, clock) -> ZohoClient:
    return ZohoClient(OrgCredentials(org="us-org", **sim.org_config("us-org")), clock=clock.time)


@pytest.mark.usefixtures("fresh_token_caches")
def test_a_401_refreshes_once_off_the_loop_and_the_call_is_sent_again_on_it():
    sim, clock = _sim(Faults(script={JOB: ["invalid_token"]}))
    got_on: list[str] = []

    async def main(client, pool):
        loop = asyncio.get_running_loop()

        def blocking(fn, *args):
            return loop.run_in_executor(pool, fn, *args)

        real_get, real_invalidate = client.tokens.get, client.tokens.invalidate
        client.tokens.get = lambda *a: (
            got_on.append(threading.current_thread().name) or (real_get(*a))
        )
        client.tokens.invalidate = lambda *a: (  # takes the cache's lock: never on the loop
            got_on.append(threading.current_thread().name) or (real_invalidate(*a))
        )
        try:
            return await client.get_status_async(JOB, blocking)
        finally:
            await client.aio.aclose()

    with sim, ThreadPoolExecutor(2, thread_name_prefix="pool") as pool:
        client = _client(sim, clock)
        client.tokens.get()  # cached: the first GET goes out on the loop
        answer = asyncio.run(main(client, pool))
        client.close()
    assert answer.http_status == 200 and answer.status.job_id == JOB
    assert sim.stats.token_requests["us-org"] == 2 and sim.stats.status_requests["us-org"] == 2
    assert len(got_on) == 2 and all(name.startswith("pool") for name in got_on)


@pytest.mark.usefixtures("fresh_token_caches")
def test_a_token_for_a_host_outside_the_orgs_data_center_is_never_sent():
    sim, clock = _sim()

    async def never(fn, *args):
        raise AssertionError("nothing blocking is needed: the token is cached")

    with sim:
        client = _client(sim, clock)
        token = client.tokens.get()
        client.tokens._token = dataclasses.replace(token, api_domain="https://evil.example")
        with pytest.raises(UnsafeEndpointError) as err:
            asyncio.run(client.get_status_async(JOB, never))
        client.close()
    assert token.access_token not in str(err.value)
    assert client.aio.connections_made == 0 and sim.stats.status_requests["us-org"] == 0


def _poller(sim, clock, jobs, **kw) -> Poller:
    orgs = {"us-org": OrgCredentials(org="us-org", **sim.org_config("us-org"))}
    return Poller({"us-org": jobs}, orgs, clock=clock.time, sleep=clock.sleep,
                  policy=PollPolicy(seed=1, max_in_flight=3), **kw)  # fmt: skip


@pytest.mark.usefixtures("fresh_token_caches")
def test_a_poll_run_leaves_no_thread_and_no_open_socket(monkeypatch):
    made: list = []
    real_init = aio_sender._Connections.__init__

    def recording_init(self, *args):
        made.append(self)
        real_init(self, *args)

    monkeypatch.setattr(aio_sender._Connections, "__init__", recording_init)
    jobs = [str(int(JOB) + i) for i in range(6)]
    sim, clock = _sim(jobs=jobs)
    before = set(threading.enumerate())
    with sim:
        p = _poller(sim, clock, jobs)
        df = p.run()
    assert p.stopped_reason == "finished" and set(df["job_id"]) == set(jobs)
    assert len(made) == 1 and not made[0].open and made[0].loop.is_closed()
    assert sim.stats.status_requests["us-org"] == len(df)  # every GET went out on the loop
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("zcrm")
                and "us-org" not in t.name]  # fmt: skip


@pytest.mark.usefixtures("fresh_token_caches")
def test_a_run_started_inside_a_running_event_loop_runs_beside_it_and_leaves_it_alone():
    jobs = [str(int(JOB) + i) for i in range(4)]
    sim, clock = _sim(jobs=jobs)
    ticks: list[int] = []

    async def kernel():  # a notebook cell: a blocking call inside the kernel's loop
        outer = asyncio.get_running_loop()
        outer.call_soon(ticks.append, 1)  # runs only once the cell gives the loop back
        df = p.run()
        assert ticks == [] and asyncio.get_running_loop() is outer
        await asyncio.sleep(0)
        return df

    with sim:
        p = _poller(sim, clock, jobs)
        df = asyncio.run(kernel())
    assert p.stopped_reason == "finished" and set(df["job_id"]) == set(jobs)
    assert ticks == [1] and not loop_threads()


@pytest.mark.usefixtures("fresh_token_caches")
def test_stop_ends_a_run_whose_calls_never_come_back_and_closes_their_connections(raw):
    holder: list = []
    got = threading.Event()

    def serve(conn, n):
        while holder[0].read_request(conn):
            got.set()
            holder[0].hold(conn)
            return

    srv = raw(serve, max_conns=3)
    holder.append(srv)
    sim, clock = _sim()
    with sim:
        p = _poller(sim, clock, [JOB])
        client_cls = orgstate.ZohoClient

        class Hijacked(client_cls):  # the token from the simulator, the GET to ``srv``
            def __init__(self, *a, **kw):
                super().__init__(*a, **kw)
                token = self.tokens.get()
                self.tokens._token = dataclasses.replace(
                    token, api_domain=f"http://127.0.0.1:{srv.port}"
                )

        stopper = threading.Thread(target=lambda: got.wait(10) and p.stop())
        stopper.start()
        orgstate.ZohoClient = Hijacked
        try:
            p.run()
        finally:
            orgstate.ZohoClient = client_cls
        stopper.join(10)
    assert p.stopped_reason == "stopped" and p.snapshots == []
    assert srv.closed_by_client.wait(5) and len(srv.requests) == 1


STRAY = b'{"data": [{"Status": "stray"}]}'
OWN = b'{"data": [{"Status": "own"}]}'


@pytest.mark.parametrize(
    "first",
    [
        answer() + answer(STRAY),  # a second answer nobody asked for
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + answer(),  # an interim answer
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}" + answer(STRAY),  # length too short
        b"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n{}",  # a body on a 204
    ],
    ids=["extra-answer", "103", "short-length", "204-body"],
)
def test_bytes_beyond_an_answer_never_become_the_next_jobs_answer(raw, sender, first):
    """Hostile review: the kept connection handed the bytes after job 1's answer to job 2
    as its answer (a final 'completed' row of another job's counts: Zoho's status answer
    names no job, so nothing could tell)."""
    holder: list = []

    def serve(conn, n):
        srv = holder[0]
        if n == 1:  # the first connection's first answer is the hostile one
            srv.read_request(conn)
            conn.sendall(first)
        while srv.read_request(conn):
            conn.sendall(answer(OWN))

    holder.append(raw(serve, max_conns=4))
    s = sender()
    one = s.get(holder[0].url("/x?job_id=1"), {}, 3.0)
    two = s.get(holder[0].url("/x?job_id=2"), {}, 3.0)
    assert one.status_code in (200, 204) and two.content == OWN


@pytest.mark.parametrize(
    "first",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 2\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
    ],
    ids=["chunked-and-length", "gzip-chunked-and-length"],
)
def test_a_connection_whose_answer_had_two_framings_is_never_reused(raw, sender, first):
    """Hostile review: 'Transfer-Encoding: gzip, chunked' with 'Content-Length: 2' was read
    by its length and the connection kept; the server's next bytes (sent later, so no
    check of unread bytes could see them) became another job's answer. Here every later
    request on that connection is answered with a stray: only a new connection is right."""
    holder: list = []

    def serve(conn, n):
        srv = holder[0]
        srv.read_request(conn)
        conn.sendall(first if n == 1 else answer(OWN))
        while srv.read_request(conn):
            conn.sendall(answer(STRAY if n == 1 else OWN))

    holder.append(raw(serve, max_conns=4))
    s = sender()
    one = s.get(holder[0].url("/x?job_id=1"), {}, 3.0)
    two = s.get(holder[0].url("/x?job_id=2"), {}, 3.0)
    assert one.content == b"{}" and two.content == OWN


def test_an_interrupt_while_waiting_beside_a_loop_waits_for_the_run_to_end(monkeypatch):
    """In a notebook the run has a thread of its own; a Ctrl-C while the caller waits must
    stop it and wait for its last rows before it is raised (Thread.join on 3.11, once
    interrupted, marks a running thread stopped: the store was closed under the run)."""
    import types

    from zcrm_notebook.poll import loop as loop_module

    stop, ended = threading.Event(), []

    async def main():
        for _ in range(5000):  # bounded: without the interrupt nothing sets stop
            if stop.is_set():
                ended.append("last rows recorded")
                return "stopped"
            await asyncio.sleep(0.001)
        return "never stopped"

    class InterruptedOnce(threading.Event):
        interrupted = False

        def wait(self, timeout=None):
            if timeout == loop_module._SLICE_S and not InterruptedOnce.interrupted:
                InterruptedOnce.interrupted = True  # the caller's first wait: Ctrl-C
                raise KeyboardInterrupt
            return super().wait(timeout)

    fake = types.SimpleNamespace(Event=InterruptedOnce, Thread=threading.Thread)
    monkeypatch.setattr(loop_module, "threading", fake)
    with pytest.raises(KeyboardInterrupt):
        loop_module._run_beside(main, stop)
    assert stop.is_set() and ended == ["last rows recorded"]
