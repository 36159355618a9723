"""Hostile fake Zoho endpoints on loopback, for the black-box tests of issue 10.

Reusable parts (add a case by writing one answer function):

- :class:`FakeZoho`: Zoho Accounts (``POST .../oauth/v2/token``, ``.../revoke``) and the CRM
  status call (``GET .../Leads/actions/mass_convert``) on 127.0.0.1, plain HTTP or TLS. Every
  answer comes from a function of the test: ``fake.status = fn(req, n)`` and
  ``fake.token = fn(req, n)`` (``n``: 1 for the first request of that kind / job) returning an
  :class:`Answer` or a :class:`Raw` byte-level writer (:func:`trickle_headers`,
  :func:`trickle_body`, :func:`never_answer`, :func:`big_body`, :func:`close_delimited_body`,
  :func:`chunked_body`, :func:`gzip_bomb`, :func:`raw_response`).
  It counts requests per kind and job, records what it received (:attr:`FakeZoho.requests`)
  and every secret it saw or issued (:meth:`FakeZoho.secrets`).
- :class:`EvilListener`: a raw TCP listener that records every connection and every byte
  (it answers like a friendly Zoho, to lure a client further).
- :class:`Network`: replaces ``socket.getaddrinfo`` and ``socket.socket.connect`` to record
  every name looked up and every address connected to; Zoho host names on port 443 are
  routed to a TLS :class:`FakeZoho`, every other name to the evil listener (or refused).
  ``python -m zcrm_notebook`` children get the same guard through ``tests/netguard``
  (a ``sitecustomize``), configured by environment variables (:func:`child_env`).

Only the standard library and trustme (test CA for the TLS fake).
"""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import json
import os
import secrets as _secrets
import socket
import socketserver
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).parent
#: PollPolicy arguments: a job that is never given up ends the run at this simulated
#: deadline or request budget instead of hanging the test.
BACKSTOP = {"deadline_s": 3600.0, "budget": 60}
NETGUARD_DIR = HERE / "netguard"
STATUS_PATH_PART = "/Leads/actions/mass_convert"


def new_secret(prefix: str = "1000") -> str:
    """A Zoho-shaped secret: ``1000.<32 hex>.<32 hex>`` (unique per call)."""
    return f"{prefix}.{_secrets.token_hex(16)}.{_secrets.token_hex(16)}"


# --- requests and answers -------------------------------------------------------------------


@dataclass
class Request:
    """One request the fake received."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    host: str = ""  # Host header (TLS fake: the Zoho host the client aimed at)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query).items()}

    @property
    def form(self) -> dict[str, str]:
        text = self.body.decode("utf-8", "replace")
        return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}

    @property
    def kind(self) -> str:
        if self.path.endswith("/oauth/v2/token/revoke"):
            return "revoke"
        if self.path.endswith("/oauth/v2/token"):
            return "token"
        if STATUS_PATH_PART in self.path:
            return "status"
        return "other"

    @property
    def job_id(self) -> str:
        return self.query.get("job_id", "")

    @property
    def authorization(self) -> str:
        return self.headers.get("authorization", "")

    @property
    def access_token(self) -> str:
        return self.authorization.split(" ", 1)[-1] if self.authorization else ""

    def echo(self) -> str:
        """Everything the client sent, as text (what an echoing endpoint reflects)."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method} {self.target}\n{head}\n\n{self.body.decode('utf-8', 'replace')}"


@dataclass
class Answer:
    """A complete HTTP answer; ``body`` may be bytes, text or a JSON-able object."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=UTF-8"

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


@dataclass
class Raw:
    """Byte-level control: ``write(conn, stop) -> bytes sent``; the connection is then closed."""

    write: Callable[[socket.socket, threading.Event], int]


def status_body(status: str = "COMPLETED", total: Any = 10, converted: Any = 10,
                not_converted: Any = 0, failed: Any = 0) -> dict:  # fmt: skip
    """Zoho's documented success answer of the status call."""
    return {"data": [{"Status": status, "Total_Count": total, "Converted_Count": converted,
                      "Not_Converted_Count": not_converted, "Failed_Count": failed}]}  # fmt: skip


def envelope(code: str, message: str = "", details: Any = None, status: str = "error") -> dict:
    """Zoho's error envelope ``{"code", "details", "message", "status"}``."""
    return {"code": code, "details": {} if details is None else details, "message": message,
            "status": status}  # fmt: skip


def completed(req: Request, n: int) -> Answer:
    """Default status answer: the job is done."""
    return Answer(200, status_body())


def by_job(answers: dict[str, Callable[[Request, int], Any]], default=completed):
    """A status function that answers each job with its own function (``default`` otherwise)."""

    def answer(req: Request, n: int):
        return answers.get(req.job_id, default)(req, n)

    return answer


def _send(conn: socket.socket, data: bytes) -> int:
    conn.sendall(data)
    return len(data)


def _head(*lines: str) -> bytes:
    """A 200 status line and JSON content type, plus ``lines``, then the blank line."""
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", *lines]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def raw_response(data: bytes) -> Raw:
    """Send exactly ``data`` and close."""
    return Raw(lambda conn, stop: _send(conn, data))


def trickle_headers(interval_s: float = 0.1, limit_s: float = 60.0) -> Raw:
    """A status line, then one header byte every ``interval_s``, never ending the headers."""

    def write(conn, stop):
        sent = _send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")
        end = time.monotonic() + limit_s
        while not stop.wait(interval_s) and time.monotonic() < end:
            sent += _send(conn, b"a")
        return sent

    return Raw(write)


def trickle_body(interval_s: float = 0.1, limit_s: float = 60.0) -> Raw:
    """Complete headers (a 1 MB JSON body announced), then one body byte every ``interval_s``."""

    def write(conn, stop):
        head = _head("Content-Length: 1000000")
        sent = _send(conn, head + b'{"data": [{"Status": "in_progress", "x": "')
        end = time.monotonic() + limit_s
        while not stop.wait(interval_s) and time.monotonic() < end:
            sent += _send(conn, b"a")
        return sent

    return Raw(write)


def never_answer(limit_s: float = 60.0) -> Raw:
    """Accept the request and never send a byte."""

    def write(conn, stop):
        stop.wait(limit_s)
        return 0

    return Raw(write)


def big_body(size: int = 100 * 2**20, chunk: int = 64 * 1024) -> Raw:
    """A ``size``-byte body (Content-Length announced) of garbage, streamed in chunks."""

    def write(conn, stop):
        sent, block = 0, b"a" * chunk
        _send(conn, _head(f"Content-Length: {size}"))
        while sent < size and not stop.is_set():
            sent += _send(conn, block[: min(chunk, size - sent)])
        return sent

    return Raw(write)


def close_delimited_body(size: int = 100 * 2**20, chunk: int = 64 * 1024) -> Raw:
    """A ``size``-byte body with no Content-Length: it ends when the connection closes."""

    def write(conn, stop):
        sent, block = 0, b"a" * chunk
        _send(conn, _head("Connection: close"))
        while sent < size and not stop.is_set():
            sent += _send(conn, block)
        return sent

    return Raw(write)


def chunked_body(size: int = 100 * 2**20, chunk: int = 64 * 1024) -> Raw:
    """A ``size``-byte body in HTTP/1.1 chunks (no Content-Length)."""

    def write(conn, stop):
        sent, block = 0, b"%x\r\n" % chunk + b"a" * chunk + b"\r\n"
        _send(conn, _head("Transfer-Encoding: chunked"))
        while sent < size and not stop.is_set():
            sent += _send(conn, block)
        return sent

    return Raw(write)


def gzip_bomb(size: int = 200 * 2**20) -> Raw:
    """A gzip body of ~200 KB that decompresses to ``size`` bytes (Content-Encoding: gzip)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"0" * 2**20
    body = b"".join(deflate.compress(block) for _ in range(size // len(block))) + deflate.flush()
    head = _head(f"Content-Length: {len(body)}", "Content-Encoding: gzip")
    return Raw(lambda conn, stop: _send(conn, head + body))


def deep_json(levels: int = 100_000) -> bytes:
    """A JSON document nested ``levels`` deep (valid JSON; breaks recursive parsers)."""
    return b'{"data": ' + b"[" * levels + b"]" * levels + b"}"


# --- the fake Zoho --------------------------------------------------------------------------


class _Counted:
    """A socket whose ``sendall`` adds the bytes handed to the kernel to a counter."""

    def __init__(self, conn: socket.socket, add: Callable[[int], None]) -> None:
        self._conn, self._add = conn, add

    def sendall(self, data: bytes) -> None:
        self._conn.sendall(data)
        self._add(len(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeZoho"
    sys_version = ""
    timeout = 30
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track(self.connection, alive=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silent."""

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20)) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, self.path, headers, body, headers.get("host", ""))
        answer = self.server.fake._answer(req)
        if isinstance(answer, Raw):
            self.close_connection = True
            self.server.fake._send_raw(answer, self.connection)
            return
        payload = answer.payload()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, fake: FakeZoho, tls: ssl.SSLContext | None) -> None:
        self.fake, self.tls = fake, tls
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:  # no getfqdn() DNS look-up
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def get_request(self):
        conn, addr = self.socket.accept()
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, addr

    def handle_error(self, request, client_address) -> None:
        """Client went away / TLS refused: not the test's business."""


class FakeZoho:
    """A configurable fake Zoho (accounts + CRM) on 127.0.0.1; see the module docstring.

    Parameters
    ----------
    status, token, revoke : callable ``(req, n) -> Answer | Raw``, optional
        Answer functions; default: every job completed, a fresh access token, revoke ok.
    tls : ssl.SSLContext, optional
        Serve HTTPS with this server context (see :func:`tls_fake`).
    """

    def __init__(self, *, status=None, token=None, revoke=None, tls=None) -> None:
        self.status = status or completed
        self.token = token or self.issue_token
        self.revoke = revoke or (lambda req, n: Answer(200, {"status": "success"}))
        self.client_id = f"1000.{_secrets.token_hex(8).upper()}"
        self.client_secret = _secrets.token_hex(21)
        self.refresh_token = new_secret()
        self.requests: list[Request] = []
        self.counts: Counter = Counter()  # kind -> n, ("status", job_id) -> n
        self.issued: list[str] = []
        self.raw_bytes_sent = 0  # bytes of Raw answers handed to the kernel
        self.stop_event = threading.Event()
        self._lock = threading.Condition()
        self._conns: set[socket.socket] = set()
        self._server = _Server(self, tls)
        self.scheme = "https" if tls is not None else "http"
        self.port = self._server.server_address[1]
        serve = self._server.serve_forever
        self._thread = threading.Thread(target=serve, args=(0.05,), daemon=True)
        self._thread.start()

    # -- addresses and credentials ----------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def accounts_url(self) -> str:
        return self.base_url + "/accounts"

    @property
    def api_domain(self) -> str:
        return self.base_url + "/api"

    def org_config(self, **overrides: str) -> dict[str, str]:
        """An org table for this fake (loopback pair), shape of a ``[orgs.NAME]`` table."""
        base = {"dc": "us", "client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": self.refresh_token, "accounts_url": self.accounts_url,
                "api_domain": self.api_domain}  # fmt: skip
        return {**base, **overrides}

    def secrets(self) -> set[str]:
        """Every secret this fake knows: its credentials, issued tokens, and every secret the
        client sent (form fields, Authorization header values)."""
        found = {self.client_secret, self.refresh_token, *self.issued}
        with self._lock:
            for req in self.requests:
                form = req.form
                found |= {form.get(k, "") for k in ("client_secret", "refresh_token", "code",
                                                     "token")}  # fmt: skip
                found.add(req.access_token)
        return {s for s in found if len(s) >= 8}

    # -- answers ----------------------------------------------------------------------------

    def issue_token(self, req: Request, n: int, api_domain: str | None = None) -> Answer:
        """A successful token answer (a new access token) whose api_domain is ours or given."""
        token = new_secret()
        with self._lock:
            self.issued.append(token)
        body = {"access_token": token, "api_domain": api_domain or self.api_domain,
                "token_type": "Bearer", "expires_in": 3600}  # fmt: skip
        if req.form.get("grant_type") == "authorization_code":
            body["refresh_token"] = self.refresh_token
            body["scope"] = "ZohoCRM.mass_convert.leads.READ"
        return Answer(200, body)

    def token_with_api_domain(self, api_domain: str):
        """A token function whose answers name ``api_domain``."""
        return lambda req, n: self.issue_token(req, n, api_domain=api_domain)

    def _answer(self, req: Request):
        with self._lock:
            self.requests.append(req)
            self.counts[req.kind] += 1
            key = ("status", req.job_id) if req.kind == "status" else req.kind
            if key != req.kind:
                self.counts[key] += 1
            n = self.counts[key]
            self._lock.notify_all()
        fn = {"token": self.token, "status": self.status, "revoke": self.revoke}.get(req.kind)
        if fn is None:
            return Answer(404, envelope("INVALID_URL_PATTERN", "no such path"))
        return fn(req, n)

    def _send_raw(self, raw: Raw, conn: socket.socket) -> None:
        conn.settimeout(10.0)  # a client that stops reading cannot block this thread for ever
        try:
            raw.write(_Counted(conn, self._count_raw), self.stop_event)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _count_raw(self, n: int) -> None:
        with self._lock:
            self.raw_bytes_sent += n

    def status_requests(self, job_id: str | None = None) -> int:
        """Status calls received (for one job, or all)."""
        with self._lock:
            return self.counts[("status", job_id)] if job_id else self.counts["status"]

    def hosts(self) -> set[str]:
        """Host headers of every request received (without port)."""
        with self._lock:
            return {r.host.rsplit(":", 1)[0] if r.host.count(":") == 1 else r.host
                    for r in self.requests}  # fmt: skip

    def wait_for(self, kind: str, n: int = 1, timeout_s: float = 30.0) -> bool:
        """Block until ``n`` requests of ``kind`` arrived (True) or ``timeout_s`` passed."""
        with self._lock:
            return self._lock.wait_for(lambda: self.counts[kind] >= n, timeout_s)

    # -- lifecycle --------------------------------------------------------------------------

    def _track(self, conn: socket.socket, *, alive: bool) -> None:
        with self._lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def drop_connections(self) -> None:
        """End every slow answer and shut every open connection."""
        self.stop_event.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.drop_connections()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeZoho:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the evil listener ----------------------------------------------------------------------


class EvilListener:
    """A TCP listener on 127.0.0.1 that records every connection and every byte received.

    It answers each request with a friendly HTTP 200 that works both as a token answer and as
    a status answer, so that a client which trusts it goes on to send more.
    """

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self.received = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self) -> bytes:
        token = {"access_token": "evil-" + _secrets.token_hex(8), "token_type": "Bearer"}
        body = json.dumps({**token, "api_domain": self.url, "expires_in": 3600, **status_body()})
        return _head(f"Content-Length: {len(body)}", "Connection: close") + body.encode()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(1.0)
        with conn:
            data = b""
            try:
                while not _request_complete(data) and len(data) < 1 << 20:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if not data[:1].isalpha():  # not HTTP (a TLS hello): record, hang up
                        break
                if data.startswith((b"GET", b"POST")):
                    conn.sendall(self.answer())
            except OSError:
                pass
            with self._lock:
                self.received += data

    def saw(self, values: Iterable[str]) -> list[str]:
        """The values (secrets) found in the bytes received."""
        with self._lock:
            data = bytes(self.received)
        return [v[:10] + "..." for v in values if v and v.encode() in data]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def __enter__(self) -> EvilListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _request_complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip() or 0)
    return True


# --- the network observer -------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
        return True
    except ValueError:
        return False


class Network:
    """Record every name lookup and connect; route Zoho names to a TLS fake.

    Parameters
    ----------
    routes : dict host -> port, optional
        Names (lower case) that resolve, on port 443 only, to 127.0.0.1:port (the TLS fake).
    fallback_port : int, optional
        Port of an :class:`EvilListener` that every other name (and a routed name on another
        port) resolves to, so what the client would send there is recorded; without it such
        look-ups fail.
    log_path : path, optional
        Also append each event as a JSON line (the child process guard uses this).

    Attributes
    ----------
    lookups : list of (host, port)
        Every name looked up (IP literals and ``localhost`` included).
    connects : list of (host, port)
        Every address a socket connected (or tried to connect) to.
    foreign : list of (host, port)
        Names that are neither loopback nor a routed Zoho name on port 443.
    """

    def __init__(self, routes=None, fallback_port=None, log_path=None) -> None:
        self.routes = {str(k).lower(): int(v) for k, v in (routes or {}).items()}
        self.fallback_port = fallback_port
        self.log_path = log_path
        self.lookups: list[tuple[str, int]] = []
        self.connects: list[tuple[str, int]] = []
        self.foreign: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._getaddrinfo = socket.getaddrinfo
        self._connect = socket.socket.connect

    def install(self, setattr_=setattr) -> Network:
        """Patch the socket module (pass ``monkeypatch.setattr`` to undo after a test)."""
        self._getaddrinfo = socket.getaddrinfo
        self._connect = socket.socket.connect
        setattr_(socket, "getaddrinfo", self.getaddrinfo)
        setattr_(socket.socket, "connect", self._make_connect())
        return self

    def _record(self, kind: str, host: str, port: int) -> None:
        with self._lock:
            getattr(self, kind).append((host, port))
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps([kind, host, port]) + "\n")

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
        name = host.decode() if isinstance(host, bytes) else str(host)
        port_n = int(port) if str(port or "").isdigit() else 0
        self._record("lookups", name, port_n)
        if is_loopback(name) or _is_ip(name):
            return self._getaddrinfo(host, port, family, type, proto, flags)
        if name.lower() in self.routes and port_n == 443:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     ("127.0.0.1", self.routes[name.lower()]))]  # fmt: skip
        self._record("foreign", name, port_n)
        if self.fallback_port is None:
            raise socket.gaierror(socket.EAI_NONAME, f"test network: {name!r} is not resolvable")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", self.fallback_port))]

    def _make_connect(self):
        previous, record = self._connect, self._record

        def connect(sock, address):
            if isinstance(address, tuple) and sock.family in (socket.AF_INET, socket.AF_INET6):
                record("connects", str(address[0]), int(address[1]))
                if not is_loopback(str(address[0])):
                    raise OSError(f"test network: no route to {address[0]}")
            return previous(sock, address)

        return connect

    def connected_ports(self) -> set[int]:
        with self._lock:
            return {port for _, port in self.connects}


def read_child_log(path: str | os.PathLike) -> dict[str, list[tuple[str, int]]]:
    """The events a child's network guard wrote (see :func:`child_env`)."""
    out: dict[str, list[tuple[str, int]]] = {"lookups": [], "connects": [], "foreign": []}
    if Path(path).exists():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            kind, host, port = json.loads(line)
            out[kind].append((host, port))
    return out


def child_env(tmp_path: Path, *, routes=None, fallback_port=None, ca_bundle=None, **extra):
    """Environment for ``python -m zcrm_notebook`` with the network guard of ``tests/netguard``.

    Returns
    -------
    (dict, Path)
        The environment and the path of the child's network log.
    """
    log = tmp_path / f"net-{_secrets.token_hex(4)}.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(NETGUARD_DIR), str(HERE)]),
        "ZCRM_TEST_NETLOG": str(log),
        "ZCRM_TEST_ROUTES": json.dumps(routes or {}),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "ZCRM_NOTEBOOK_TOKEN_STORE": str(tmp_path / "tokens.json"),
    }
    for name in ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN", "ZOHO_DC",
                 "ZOHO_ORG", "ZOHO_API_VERSION"):  # fmt: skip
        env.pop(name, None)
    if fallback_port is not None:
        env["ZCRM_TEST_FALLBACK_PORT"] = str(fallback_port)
    if ca_bundle is not None:
        env["ZCRM_TEST_CA"] = str(ca_bundle)
    env.update({k: str(v) for k, v in extra.items()})
    return env, log


# --- TLS: a fake for the real Zoho host names -----------------------------------------------


def zoho_host_names() -> list[str]:
    """Every accounts and API host name of Zoho's data-center table (public API)."""
    import zcrm_notebook as zn

    names = set()
    for dc in zn.DATA_CENTERS.values():
        names.add(urlsplit(dc.accounts_server).hostname)
        names.update(urlsplit(u).hostname for u in dc.api_domains)
    return sorted(n for n in names if n)


@dataclass
class TlsZoho:
    """A TLS :class:`FakeZoho` reachable under every Zoho host name (see :func:`tls_fake`)."""

    fake: FakeZoho
    ca_bundle: Path
    routes: dict[str, int]


@contextlib.contextmanager
def tls_fake(tmp_path: Path, **fake_kw):
    """A TLS FakeZoho with a test CA whose certificate names every Zoho host.

    The caller routes the names (:class:`Network` ``routes``) and trusts ``ca_bundle``
    (``requests.adapters.DEFAULT_CA_BUNDLE_PATH`` in-process; ``ZCRM_TEST_CA`` in a child).
    """
    import trustme

    names = zoho_host_names()
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(ctx)
    bundle = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with FakeZoho(tls=ctx, **fake_kw) as fake:
        yield TlsZoho(fake, bundle, {n: fake.port for n in names})


def trust_ca(setattr_, ca_bundle: str | os.PathLike) -> None:
    """Make requests verify HTTPS against ``ca_bundle`` (the test CA) instead of certifi."""
    import requests.adapters

    setattr_(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(ca_bundle))


# --- leak search ------------------------------------------------------------------------------


def leaks(texts: Iterable[str | bytes], secrets: Iterable[str]) -> list[tuple[str, str]]:
    """(secret prefix, where) for every secret found in any text or byte string."""
    found = []
    secrets = [s for s in secrets if s]
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        for s in secrets:
            at = text.find(s)
            if at >= 0:
                found.append((s[:10] + "...", text[max(0, at - 100) : at + len(s) + 20]))
    return found


def write_toml(path: Path, orgs: dict[str, dict[str, Any]]) -> Path:
    """Write ``{org: {key: value}}`` as a TOML config (values JSON-quoted: valid TOML strings)."""
    lines = []
    for name, table in orgs.items():
        lines.append(f"[orgs.{json.dumps(name)}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class TomlRaw(str):
    """A value written into the TOML file as is (a list, a table...)."""


def _toml_value(value: Any) -> str:
    if isinstance(value, TomlRaw):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string (\uXXXX escapes)
    return str(value)


# --- running the code under test ------------------------------------------------------------


def manual_poller(jobs, orgs=None, *, policy=None, **kw):
    """A ``zn.Poller`` on a manual simulated clock (it never sleeps for real)."""
    import zcrm_notebook as zn
    from zcrm_notebook.simulator import SimClock

    clock = SimClock()
    policy = policy or zn.PollPolicy(seed=1)
    return zn.Poller(jobs, orgs, policy=policy, clock=clock.time, sleep=clock.sleep, **kw)


def run_cli(argv: list[str], env: dict, *, timeout_s: float = 60.0, cwd=None, preexec_fn=None):
    """``python -m zcrm_notebook *argv`` with a hard time limit (killed after it).

    Returns
    -------
    (int or None, str, str)
        Exit code (None when it had to be killed), stdout, stderr.
    """
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "zcrm_notebook", *argv], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec_fn)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout_s)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        return None, out, err
