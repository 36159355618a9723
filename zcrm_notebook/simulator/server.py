"""The simulator's HTTP plumbing: loopback server, request handler, answers and Zoho errors.

:class:`Server` (a ``ThreadingHTTPServer``) and its handler turn each request into one
call of the router's ``handle(method, target, headers, body)`` and write the
:class:`Answer` it returns (delayed, reset or normal), with HTTP/1.1 keep-alive, exact
``Content-Length`` and no request logging. :func:`json_answer` and :func:`error_answer`
build answers, the latter as Zoho CRM's error envelope in Zoho's words
(:mod:`zcrm_notebook.simulator.zoho_errors`, the one table of Zoho errors).
:class:`ServingMixin` gives :class:`~zcrm_notebook.simulator.Simulator` its
``start``/``stop``/``with`` lifecycle and ``base_url``. Standard library only; the
endpoints live in :mod:`zcrm_notebook.simulator.accounts` and
:mod:`~zcrm_notebook.simulator.crm`, the routing in :mod:`~zcrm_notebook.simulator.app`.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import logging
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from .zoho_errors import error_body

# The name the simulator has always logged under (filters and tests select it).
logger = logging.getLogger("zcrm_notebook.simulator")

MAX_IDS = 50
"""Most lead ids one mass convert takes (``LIMIT_EXCEEDED`` beyond)."""
HOLD_MAX_S = 120.0
"""Real seconds a held answer waits at most for its release."""

_JSON = "application/json;charset=UTF-8"


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # real seconds to wait before writing
    reset: bool = False  # close the socket without answering
    fault: str = ""  # the fault that shaped this answer ("" for Zoho's documented answer)
    hold: threading.Event | None = None  # wait for it (at most HOLD_MAX_S) before writing
    subject: str | None = None  # the job id (or lead) the stats log names
    date: float | None = None  # when it was made, simulated (its Date header; None: real now)


def json_answer(status: int, obj: Any) -> Answer:
    return Answer(status, json.dumps(obj).encode())


def error_answer(code: str, details: dict | None = None, *, message: str | None = None) -> Answer:
    """Zoho's error envelope of ``code`` with its documented HTTP status and words
    (:func:`zcrm_notebook.simulator.zoho_errors.error_body`)."""
    return json_answer(*error_body(code, details, message=message))


def loopback_host(host: str) -> str:
    h = str(host).strip().strip("[]")
    if h.lower() == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        ip = None
    if ip is None or not ip.is_loopback:
        raise ValueError(f"the simulator listens on loopback only (127.0.0.1, ::1), not {host!r}")
    return str(ip)


class Router(Protocol):
    """What the server calls per request (the :class:`~zcrm_notebook.simulator.Simulator`)."""

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[Answer, Any]: ...


class _Handler(http.server.BaseHTTPRequestHandler):
    """One connection: HTTP/1.1 keep-alive, exact Content-Length, no request logging."""

    protocol_version = "HTTP/1.1"
    server_version = "ZohoSimulator/1.0"
    sys_version = ""
    timeout = 60  # real seconds an idle keep-alive connection is kept
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, alive=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silenced: request lines carry job ids and may carry tokens."""

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header: when the answer was made on the simulated clock (Zoho's
        clock, the one its record times are on), not when it was written; real now for an
        answer that does not say."""
        made = getattr(self, "_made_at", None)
        return super().date_time_string(made if timestamp is None else timestamp)

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(min(max(length, 0), 1 << 20)) if length > 0 else b""

    def _serve(self, method: str) -> None:
        done: Callable[[], None] | None = None
        try:
            body = self._body()
            try:
                answer, done = self.server.sim.handle(method, self.path, self.headers, body)
            except Exception:
                path = urlsplit(self.path).path  # never the query: it may hold a token
                logger.exception("simulator failed on %s %s", method, path)
                answer = error_answer("INTERNAL_ERROR")
            self._made_at = answer.date  # the Date header (written after a hold or delay)
            if answer.hold is not None:
                answer.hold.wait(HOLD_MAX_S)
            if answer.delay_s > 0:
                time.sleep(answer.delay_s)
            done, finish = None, done
            if finish is not None:
                finish()  # before the answer leaves: the client's next call finds the slot free
            if answer.reset:
                self._reset()
            else:
                self._write(answer)
        finally:
            if done is not None:
                done()

    def _write(self, answer: Answer) -> None:
        self.send_response(answer.status)
        if answer.status != 204:
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if answer.status != 204 and answer.body:
            self.wfile.write(answer.body)

    def _reset(self) -> None:
        """Abort the connection with a TCP reset, no answer at all."""
        self.close_connection = True
        try:
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.close()
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: Router) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sim = sim
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS look-up: not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def track(self, conn: socket.socket, *, alive: bool) -> None:
        with self._conns_lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            logger.debug("simulator connection error", exc_info=True)


_S = TypeVar("_S", bound="ServingMixin")


class ServingMixin:
    """Serving lifecycle of :class:`~zcrm_notebook.simulator.Simulator` on loopback.

    Runs a :class:`Server` in a daemon thread with the simulator as its router; uses the
    simulator's lock, host, port and server slots (set up by ``Simulator.__init__``).
    """

    _lock: threading.RLock
    _host: str
    _port: int
    _server: Server | None
    _thread: threading.Thread | None

    if TYPE_CHECKING:

        def handle(
            self, method: str, target: str, headers: Any, body: bytes
        ) -> tuple[Answer, Any]: ...

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server.

        Raises
        ------
        RuntimeError
            If the simulator is not running.
        """
        server = self._server
        if server is None:
            raise RuntimeError("the simulator is not running: call start() or use `with`")
        host, port = str(server.server_address[0]), server.server_address[1]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self: _S) -> _S:
        """Start serving in a daemon thread (no-op when running); returns ``self``."""
        with self._lock:
            if self._server is None:
                server = Server((self._host, self._port), self)
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"zoho-simulator-{server.server_address[1]}",
                    daemon=True,
                )
                thread.start()
                self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close open connections (no-op when stopped)."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
