"""Offline Zoho (Accounts OAuth + CRM mass convert) served on loopback.

The demo, the notebooks, the tests and the benchmarks run against this server through the
same client code path as real Zoho (DESIGN.md §6). Wire format from ``shared/ZOHO_API.md``:

- ``POST {base_url}/{dc}/accounts/oauth/v2/token``: refresh and grant (authorization code)
  exchange; failures are HTTP 200 with an ``error`` key; throttling (``Access Denied``);
- ``POST {base_url}/{dc}/accounts/oauth/v2/token/revoke``: revoke a token;
- ``GET {base_url}/{dc}/api/crm/{v5..v8}/Leads/actions/mass_convert?job_id=...``: the
  status of a job (Zoho CRM "Get Status of Mass Convert Lead");
- ``POST`` on the same path: schedule a job ("Mass Convert Lead").

What is simulated (clock, orgs, jobs, faults) lives in :mod:`zcrm_notebook.sim_scenario`
and is re-exported here. A job's answer at simulated time ``t`` is a pure function of ``t``
(only the scripted ``backwards`` fault looks at earlier answers). The server binds only to
loopback, never logs tokens, and uses the standard library only.
"""

from __future__ import annotations

import csv
import functools
import http.server
import ipaddress
import json
import logging
import os
import random
import re
import secrets
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .dc import DATA_CENTERS
from .sim_scenario import (
    CREATE_SCOPE,
    FAULT_NAMES,
    READ_SCOPE,
    Faults,
    JobTruth,
    SimClock,
    SimJob,
    SimOrg,
    build_default_scenario,
)

__all__ = [
    "SimClock",
    "SimOrg",
    "SimJob",
    "Faults",
    "SimStats",
    "Simulator",
    "default_scenario",
    "FAULT_NAMES",
    "UNKNOWN_ORG",
]

logger = logging.getLogger(__name__)

UNKNOWN_ORG = "(unknown)"
"""Org label in :class:`SimStats` for a request that cannot be tied to an org."""

API_VERSIONS = frozenset({"v5", "v6", "v7", "v8"})
MAX_IDS = 50
_JSON = "application/json;charset=UTF-8"
_MASS_CONVERT = ["Leads", "actions", "mass_convert"]
_HTML = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
_THROTTLED = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. "
    "Please try again after some time.",
}
_ERRORS: dict[str, tuple[int, str, dict]] = {
    "INVALID_TOKEN": (401, "invalid oauth token", {}),
    "AUTHENTICATION_FAILURE": (401, "Authentication failed", {}),
    "OAUTH_SCOPE_MISMATCH": (401, "invalid oauth scope to access this URL", {}),
    "NO_PERMISSION": (403, "permission denied", {"permissions": ["Crm_Implied_Mass_Convert"]}),
    "TOO_MANY_REQUESTS": (429, "The API request rate limit has been exceeded", {}),
    "INTERNAL_ERROR": (500, "Internal Server Error", {}),
    "INVALID_DATA": (400, "Invalid job id", {"api_name": "job_id"}),
    "REQUIRED_PARAM_MISSING": (400, "required param missing", {"api_name": "job_id"}),
    "MANDATORY_NOT_FOUND": (400, "required field not found", {"api_name": "ids"}),
    "LIMIT_EXCEEDED": (400, "the number of ids exceeds the limit", {"limit": MAX_IDS}),
    "INVALID_URL_PATTERN": (404, "Please check if the URL trying to access is a correct one", {}),
    "INVALID_REQUEST_METHOD": (400, "The http request method type is not a valid one", {}),
}
_SCRIPTED_ERRORS = {
    "429": "TOO_MANY_REQUESTS",
    "500": "INTERNAL_ERROR",
    "404": "INVALID_URL_PATTERN",
    "invalid_token": "INVALID_TOKEN",
    "auth_failure": "AUTHENTICATION_FAILURE",
    "scope_mismatch": "OAUTH_SCOPE_MISMATCH",
    "no_permission": "NO_PERMISSION",
    "invalid_data": "INVALID_DATA",
}
_CASINGS = {
    "scheduled": ("scheduled", "Scheduled", "SCHEDULED"),
    "in progress": ("in progress", "IN PROGRESS", "IN_PROGRESS", "RUNNING"),
    "completed": ("completed", "Completed", "COMPLETED"),
    "failed": ("failed", "Failed", "FAILED"),
}


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # real seconds to wait before writing
    reset: bool = False  # close the socket without answering


def _json(status: int, obj: Any) -> _Answer:
    return _Answer(status, json.dumps(obj).encode())


def _error(code: str, *, status: int | None = None, message: str | None = None, details=None):
    """A Zoho error envelope ``{"code","details","message","status":"error"}``."""
    http_status, default_message, default_details = _ERRORS[code]
    details = dict(default_details if details is None else details)
    envelope = {"code": code, "details": details, "message": message or default_message}
    return _json(status or http_status, {**envelope, "status": "error"})


def _has_scope(granted: Iterable[str], needed: str) -> bool:
    base = needed.rsplit(".", 1)[0]  # ZohoCRM.mass_convert.leads
    ok = {needed, f"{base}.ALL", f"{base.rsplit('.', 1)[0]}.ALL"}
    return any(g.strip().lower() in {s.lower() for s in ok} for g in granted)


def _is_lead_id(x: object) -> bool:
    if isinstance(x, str):
        return x.isdigit()
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _toml_str(s: str) -> str:
    escapes = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
    escapes["\r"] = "\\r"
    out = []
    for ch in str(s):
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_str(name)


def _loopback_host(host: str) -> str:
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


class SimStats:
    """Thread-safe counters of what the simulator was asked and answered.

    Every attribute returns a copy; ``Counter`` objects give 0 for missing keys. Org keys
    are org names, or :data:`UNKNOWN_ORG` when a request cannot be tied to an org.

    Attributes
    ----------
    token_requests : Counter
        ``org -> token endpoint calls`` (successful and failed).
    token_requests_by_grant : Counter
        ``grant_type -> token endpoint calls`` (``""`` when the field is missing).
    status_requests : Counter
        ``org -> status GETs`` (any answer, 401 included when the token is known).
    requests_by_job : Counter
        ``job_id -> status GETs`` (id with whitespace stripped).
    max_in_flight : Counter
        ``org -> most authenticated status GETs in flight at once`` (those answered 429
        because of the cap included).
    answers : Counter
        ``(org, http_status) -> CRM answers`` (status GETs and schedule POSTs; status
        ``None`` for a reset connection). Token answers are not counted here.
    log : list of tuple
        ``(sim_time, kind, org, job_id, http_status)`` per request, kind in ``token``,
        ``status``, ``schedule``, ``revoke``.
    """

    _NAMES = (
        "token_requests",
        "token_requests_by_grant",
        "status_requests",
        "requests_by_job",
        "max_in_flight",
        "answers",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self._c: dict[str, Counter] = {name: Counter() for name in self._NAMES}
            self._log: list[tuple[float, str, str, str | None, int | None]] = []

    def _get(self, name: str) -> Counter:
        with self._lock:
            return Counter(self._c[name])

    token_requests = property(lambda self: self._get("token_requests"))
    token_requests_by_grant = property(lambda self: self._get("token_requests_by_grant"))
    status_requests = property(lambda self: self._get("status_requests"))
    requests_by_job = property(lambda self: self._get("requests_by_job"))
    max_in_flight = property(lambda self: self._get("max_in_flight"))
    answers = property(lambda self: self._get("answers"))

    @property
    def log(self) -> list[tuple[float, str, str, str | None, int | None]]:
        """Copy of the request log (see the class docstring)."""
        with self._lock:
            return list(self._log)

    def _record(
        self, t: float, kind: str, org: str, job_id: str | None, status: int | None, grant=""
    ) -> None:
        with self._lock:
            self._log.append((t, kind, org, job_id, status))
            if kind == "token":
                self._c["token_requests"][org] += 1
                self._c["token_requests_by_grant"][grant] += 1
            elif kind == "status":
                self._c["status_requests"][org] += 1
                if job_id:
                    self._c["requests_by_job"][job_id] += 1
            if kind in ("status", "schedule"):
                self._c["answers"][(org, status)] += 1

    def _saw_in_flight(self, org: str, n: int) -> None:
        with self._lock:
            self._c["max_in_flight"][org] = max(self._c["max_in_flight"][org], n)


@dataclass
class _Refresh:
    org: str
    scopes: tuple[str, ...]
    revoked: bool = False
    issued: list[float] = field(default_factory=list)  # sim times access tokens were issued


@dataclass
class _Access:
    org: str
    dc: str
    scopes: tuple[str, ...]
    expires_at: float
    refresh: str
    revoked: bool = False


@dataclass
class _Grant:
    org: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


class Simulator:
    """Zoho Accounts + CRM mass convert on loopback, for demos, tests and benchmarks.

    Parameters
    ----------
    orgs : iterable of SimOrg
        At least one; names and refresh tokens unique.
    jobs : iterable of SimJob
        Jobs known from the start (``created_at=None`` becomes :attr:`started_at`).
    clock : SimClock, optional
        Simulated time; default ``SimClock(speed=60.0)`` (one real second is one simulated
        minute). Tests pass a manual ``SimClock()``.
    faults : Faults, optional
        Fault injection; default none.
    token_lifetime_s : float, default 3600.0
        Simulated seconds an access token lives.
    expires_in_style : {"seconds", "ms"}
        ``"seconds"``: ``{"expires_in": 3600}``; ``"ms"``: ``{"expires_in": 3600000,
        "expires_in_sec": 3600}`` (ZOHO_API.md §4).
    token_throttle : tuple of (int, float), default (10, 600.0)
        At most this many new access tokens per refresh token per window of simulated
        seconds; more answer ``"Access Denied"``.
    host : str, default "127.0.0.1"
        Loopback address to bind (``localhost`` means 127.0.0.1).
    port : int, default 0
        TCP port; 0 picks a free one.

    Attributes
    ----------
    clock : SimClock
    faults : Faults
    stats : SimStats
    started_at : float
        Simulated time the simulator was created (default job creation time).
    unknown_job_id : str or None
        The last id registered with :meth:`add_unknown_job` (listed, but answers
        ``INVALID_DATA``).

    Raises
    ------
    ValueError
        For a non-loopback host, duplicate org names / refresh tokens / job ids, a job of
        an unknown org, or a bad option value.
    """

    def __init__(
        self,
        orgs: Iterable[SimOrg],
        jobs: Iterable[SimJob] = (),
        *,
        clock: SimClock | None = None,
        faults: Faults | None = None,
        token_lifetime_s: float = 3600.0,
        expires_in_style: str = "seconds",
        token_throttle: tuple[int, float] = (10, 600.0),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._host, self._port = _loopback_host(host), int(port)
        if expires_in_style not in ("seconds", "ms"):
            raise ValueError(f"expires_in_style must be 'seconds' or 'ms': {expires_in_style!r}")
        if not token_lifetime_s > 0 or token_throttle[0] < 1 or not token_throttle[1] > 0:
            raise ValueError("token_lifetime_s, token_throttle count and window must be > 0")
        self.clock = clock if clock is not None else SimClock(speed=60.0)
        self.faults = faults if faults is not None else Faults()
        self.faults.validate()
        self.token_lifetime_s = float(token_lifetime_s)
        self.expires_in_style = expires_in_style
        self.token_throttle = (int(token_throttle[0]), float(token_throttle[1]))
        self.started_at = self.clock.time()
        self.stats = SimStats()
        self.unknown_job_id: str | None = None
        self._lock = threading.RLock()
        self._init_orgs(list(orgs))
        self._jobs: dict[str, SimJob] = {}
        self._unknown: list[tuple[str, str]] = []
        for job in jobs:
            self._add_job(job)
        self._access: dict[str, _Access] = {}
        self._grants: dict[str, _Grant] = {}
        self._in_flight: Counter = Counter()
        self._credits: dict[str, int] = {}
        self._script_pos: Counter = Counter()
        self._last_processed: dict[str, int] = {}
        self._rng = random.Random(self.faults.seed)
        self._id_rng = random.Random(f"{self.faults.seed}:job-ids")
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _init_orgs(self, orgs: list[SimOrg]) -> None:
        if not orgs:
            raise ValueError("the simulator needs at least one org")
        self._orgs = {o.name: o for o in orgs}
        self._refresh = {o.refresh_token: _Refresh(o.name, o.scopes) for o in orgs}
        if len(self._orgs) != len(orgs) or len(self._refresh) != len(orgs):
            raise ValueError("org names and refresh tokens must be unique")

    def _add_job(self, job: SimJob) -> SimJob:
        if job.org not in self._orgs:
            raise ValueError(f"job {job.job_id}: unknown org {job.org!r}")
        if job.created_at is None:
            job = replace(job, created_at=self.started_at)
        with self._lock:
            if job.job_id in self._jobs or any(job.job_id == j for j, _ in self._unknown):
                raise ValueError(f"duplicate job id {job.job_id}")
            self._jobs[job.job_id] = job
        return job

    def _org(self, org: str) -> SimOrg:
        try:
            return self._orgs[org]
        except KeyError:
            raise KeyError(f"unknown org {org!r}; known: {', '.join(self._orgs)}") from None

    # -- public helpers ------------------------------------------------------------------

    @property
    def orgs(self) -> tuple[SimOrg, ...]:
        """The simulated orgs, in the order given."""
        return tuple(self._orgs.values())

    @property
    def jobs(self) -> dict[str, SimJob]:
        """Copy of ``job_id -> SimJob`` for every known job (``created_at`` filled in)."""
        with self._lock:
            return dict(self._jobs)

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

    def accounts_url(self, dc: str) -> str:
        """Accounts server of data center ``dc``; tokens: ``POST {it}/oauth/v2/token``."""
        return f"{self.base_url}/{dc}/accounts"

    def api_domain(self, dc: str) -> str:
        """API domain of data center ``dc`` (what a token answer's ``api_domain`` says)."""
        return f"{self.base_url}/{dc}/api"

    def org_config(self, org: str) -> dict[str, str]:
        """Credentials and endpoints of one org, the shape of a config-file table.

        Returns
        -------
        dict
            Keys ``dc``, ``client_id``, ``client_secret``, ``refresh_token``,
            ``accounts_url``, ``api_domain``, ``api_version`` (``"v5"``).

        Raises
        ------
        KeyError
            For an unknown org. RuntimeError if the simulator is not running.
        """
        o = self._org(org)
        return {
            "dc": o.dc,
            "client_id": o.client_id,
            "client_secret": o.client_secret,
            "refresh_token": o.refresh_token,
            "accounts_url": self.accounts_url(o.dc),
            "api_domain": self.api_domain(o.dc),
            "api_version": "v5",
        }

    def write_config(self, path: str | os.PathLike) -> None:
        """Write a TOML config: one ``[orgs.<name>]`` table per org (see :meth:`org_config`).

        The file is made readable by its owner only (it holds secrets, albeit fake ones).
        """
        lines = ["# Zoho simulator orgs (fake credentials; loopback only)", ""]
        for name in self._orgs:
            lines.append(f"[orgs.{_toml_key(name)}]")
            lines += [f"{k} = {_toml_str(v)}" for k, v in self.org_config(name).items()]
            lines.append("")
        Path(path).write_text("\n".join(lines), encoding="utf-8")
        os.chmod(path, 0o600)

    def job_ids(self, org: str | None = None) -> list[str]:
        """Ids of all jobs (then the unknown ids), optionally of one org only.

        Raises
        ------
        KeyError
            For an unknown org.
        """
        if org is not None:
            self._org(org)
        with self._lock:
            pairs = [(j.job_id, j.org) for j in self._jobs.values()] + self._unknown
        return [jid for jid, o in pairs if org is None or o == org]

    def write_jobs_csv(self, path: str | os.PathLike) -> None:
        """Write the job list as CSV with header ``job_id,org`` (unknown ids included)."""
        with self._lock:
            pairs = [(j.job_id, j.org) for j in self._jobs.values()] + self._unknown
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["job_id", "org"])
            writer.writerows(pairs)

    def add_unknown_job(self, org: str, job_id: str | None = None) -> str:
        """List a job id for ``org`` that the server does not know (answers ``INVALID_DATA``).

        Returns
        -------
        str
            The id (a new random 19-digit one when ``job_id`` is None); also stored in
            :attr:`unknown_job_id`.
        """
        self._org(org)
        with self._lock:
            jid = job_id or self._new_job_id()
            self._unknown.append((jid, org))
            self.unknown_job_id = jid
        return jid

    def true_finish_at(self, job_id: str) -> float | None:
        """Simulated time ``job_id`` reaches its final status; ``None`` for an unknown id."""
        job = self._jobs.get(str(job_id).strip())
        return None if job is None else job.finish_at()

    def expected_status(self, job_id: str, t: float | None = None) -> dict | None:
        """The ``data[0]`` object Zoho would answer at simulated time ``t`` (default now).

        Canonical lower-case status word, no faults. ``None`` for an unknown id or a job
        not yet created.
        """
        job = self._jobs.get(str(job_id).strip())
        truth = None if job is None else job.truth(self.clock.time() if t is None else t)
        return None if truth is None else self._data_item(truth, truth.status)

    def issue_grant_token(
        self, org: str, scopes: Iterable[str] | None = None, lifetime_s: float = 180.0
    ) -> str:
        """A single-use grant token (authorization code) for ``grant_type=authorization_code``.

        Parameters
        ----------
        org : str
            Org whose client may exchange it.
        scopes : iterable of str, optional
            Scopes of the refresh token it yields; default the org's scopes.
        lifetime_s : float, default 180.0
            Simulated seconds it stays valid (Zoho self client: 3 minutes).
        """
        o = self._org(org)
        code = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        granted = tuple(o.scopes if scopes is None else scopes)
        with self._lock:
            self._grants[code] = _Grant(org, granted, self.clock.time() + lifetime_s)
        return code

    def schedule(self, org: str, ids: Iterable[Any], **kw: Any) -> str:
        """Create a job like ``POST .../mass_convert`` would (no HTTP, not in :attr:`stats`).

        Parameters
        ----------
        org : str
            Owner org.
        ids : iterable
            Lead ids, 1 to 50 (only their number matters).
        **kw
            :class:`SimJob` fields (``queue_delay_s``, ``leads_per_s``, ``failed``,
            ``stall_s``, ``outcome``, ``created_at`` -- default now).

        Returns
        -------
        str
            The new 19-digit job id.

        Raises
        ------
        KeyError
            Unknown org. ValueError: not 1..50 ids or a bad field value.
        """
        n = len(list(ids))
        if not 1 <= n <= MAX_IDS:
            raise ValueError(f"a mass convert takes 1..{MAX_IDS} lead ids, not {n}")
        self._org(org)
        kw.setdefault("created_at", self.clock.time())
        with self._lock:
            return self._add_job(SimJob(self._new_job_id(), org, n, **kw)).job_id

    def _new_job_id(self) -> str:
        with self._lock:
            while True:
                jid = str(self._id_rng.randrange(10**18, 10**19))
                if jid not in self._jobs and all(jid != j for j, _ in self._unknown):
                    return jid

    # -- server lifecycle ----------------------------------------------------------------

    def start(self) -> Simulator:
        """Start serving in a daemon thread (no-op when running); returns ``self``."""
        with self._lock:
            if self._server is None:
                server = _Server((self._host, self._port), self)
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

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = "stopped" if self._server is None else self.base_url
        return f"<Simulator orgs={len(self._orgs)} jobs={len(self._jobs)} {where}>"

    # -- request handling (called from the server's threads) -----------------------------

    def _handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[_Answer, Any]:
        """Route one request; returns ``(answer, done)``, ``done`` run after writing."""
        parts = urlsplit(target)
        segs = parts.path.strip("/").split("/") + ["", ""]
        dc, area, rest = segs[0], segs[1], [s for s in segs[2:] if s]
        query = parse_qs(parts.query, keep_blank_values=True)
        if dc not in DATA_CENTERS or area not in ("accounts", "api"):
            return _error("INVALID_URL_PATTERN"), None
        if area == "accounts":
            if method == "POST" and rest == ["oauth", "v2", "token"]:
                return self._token_endpoint(dc, query, headers, body), None
            if method == "POST" and rest == ["oauth", "v2", "token", "revoke"]:
                return self._revoke_endpoint(query, headers, body), None
            return _error("INVALID_URL_PATTERN"), None
        answer, done = _error("INVALID_URL_PATTERN"), None
        if len(rest) == 5 and rest[0] == "crm" and rest[1] in API_VERSIONS:
            if rest[2:] != _MASS_CONVERT:
                pass
            elif method == "GET":
                answer, done = self._status_endpoint(dc, query, headers)
            elif method == "POST":
                answer = self._schedule_endpoint(dc, headers, body)
            else:
                answer = _error("INVALID_REQUEST_METHOD")
        answer.delay_s += self.faults.latency_s
        if answer.status == 429 and self.faults.retry_after_s is not None:
            answer.headers["Retry-After"] = f"{self.faults.retry_after_s:g}"
        return answer, done

    # accounts --------------------------------------------------------------------------

    @staticmethod
    def _form(query: dict, headers: Any, body: bytes) -> dict[str, str]:
        """Query + form fields (first values); empty for a JSON body (Zoho: invalid_client)."""
        content_type = (headers.get("Content-Type") or "").lower()
        if "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
            return {}
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in {**query, **fields}.items()}

    def _token_endpoint(self, dc: str, query: dict, headers: Any, body: bytes) -> _Answer:
        now = self.clock.time()
        form = self._form(query, headers, body)
        org, answer = self._token_answer(dc, form, now)
        self.stats._record(now, "token", org, None, 200, grant=form.get("grant_type", ""))
        return _json(200, answer)

    def _token_answer(self, dc: str, form: dict[str, str], now: float) -> tuple[str, dict]:
        clients = [o for o in self._orgs.values() if o.client_id == form.get("client_id")]
        here = [o for o in clients if o.dc == dc]
        if not here:  # unknown client, or a client of another data center
            return (clients[0].name if clients else UNKNOWN_ORG), {"error": "invalid_client"}
        names = {o.name for o in here if o.client_secret == form.get("client_secret")}
        if not names:
            return here[0].name, {"error": "invalid_client_secret"}
        grant = form.get("grant_type")
        if grant == "refresh_token":
            return self._refresh_grant(dc, names, form.get("refresh_token", ""), now)
        if grant == "authorization_code":
            return self._code_grant(dc, names, form.get("code", ""), now)
        return min(names), {"error": "unsupported_grant_type"}

    def _refresh_grant(self, dc: str, names: set, token: str, now: float) -> tuple[str, dict]:
        with self._lock:
            rec = self._refresh.get(token)
            if rec is None or rec.revoked or rec.org not in names:
                return min(names), {"error": "invalid_code"}
            limit, window_s = self.token_throttle
            rec.issued = [t for t in rec.issued if t > now - window_s]
            if len(rec.issued) >= limit:
                return rec.org, dict(_THROTTLED)
            access = self._issue_access(rec, token, dc, now)
        return rec.org, self._token_json(access, dc)

    def _code_grant(self, dc: str, names: set, code: str, now: float) -> tuple[str, dict]:
        with self._lock:
            grant = self._grants.get(code)
            if grant is None or grant.used or now >= grant.expires_at or grant.org not in names:
                return min(names), {"error": "invalid_code"}
            grant.used = True
            refresh = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
            rec = self._refresh[refresh] = _Refresh(grant.org, grant.scopes)
            access = self._issue_access(rec, refresh, dc, now)
        extra = {"refresh_token": refresh, "scope": " ".join(grant.scopes)}
        return grant.org, self._token_json(access, dc, extra)

    def _issue_access(self, rec: _Refresh, refresh: str, dc: str, now: float) -> str:
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        expires_at = now + self.token_lifetime_s
        self._access[token] = _Access(rec.org, dc, rec.scopes, expires_at, refresh)
        rec.issued.append(now)
        return token

    def _token_json(self, access: str, dc: str, extra: dict | None = None) -> dict:
        answer: dict[str, Any] = {"access_token": access, **(extra or {})}
        answer.update(api_domain=self.api_domain(dc), token_type="Bearer")
        if self.expires_in_style == "ms":
            answer["expires_in"] = _number(self.token_lifetime_s * 1000)
            answer["expires_in_sec"] = _number(self.token_lifetime_s)
        else:
            answer["expires_in"] = _number(self.token_lifetime_s)
        return answer

    def _revoke_endpoint(self, query: dict, headers: Any, body: bytes) -> _Answer:
        now = self.clock.time()
        token = self._form(query, headers, body).get("token", "")
        org = UNKNOWN_ORG
        with self._lock:
            if token in self._refresh:
                self._refresh[token].revoked = True
                org = self._refresh[token].org
                for acc in self._access.values():
                    acc.revoked = acc.revoked or acc.refresh == token
            if token in self._access:
                self._access[token].revoked = True
                org = self._access[token].org
        self.stats._record(now, "revoke", org, None, 200)
        return _json(200, {"status": "success"})

    # CRM -------------------------------------------------------------------------------

    def _authenticate(self, dc: str, headers: Any, now: float) -> tuple[_Access | None, str]:
        """The live access token of the request (None if not), and its org label."""
        scheme, _, token = (headers.get("Authorization") or "").strip().partition(" ")
        with self._lock:
            acc = self._access.get(token.strip())
        if acc is None:
            return None, UNKNOWN_ORG
        live = scheme == "Zoho-oauthtoken" and not acc.revoked and acc.dc == dc
        return (acc if live and now < acc.expires_at else None), acc.org

    def _guard(self, acc: _Access | None, scope: str) -> _Answer | None:
        if acc is None:
            return _error("INVALID_TOKEN")
        if not _has_scope(acc.scopes, scope):
            return _error("OAUTH_SCOPE_MISMATCH")
        if self._orgs[acc.org].no_permission:
            return _error("NO_PERMISSION")
        return None

    def _spend_credit(self, org: str) -> tuple[bool, dict[str, str]]:
        """(credits left before this call, headers to add); always True when unmetered."""
        if self.faults.credits_remaining is None:
            return True, {}
        with self._lock:
            left = self._credits.setdefault(org, self.faults.credits_remaining)
            if left > 0:
                left = self._credits[org] = left - 1
                return True, {"X-API-CREDITS-REMAINING": str(left)}
        return False, {"X-API-CREDITS-REMAINING": "0"}

    def _status_endpoint(self, dc: str, query: dict, headers: Any) -> tuple[_Answer, Any]:
        now = self.clock.time()
        job_id = query.get("job_id", [""])[0].strip()
        acc, org = self._authenticate(dc, headers, now)
        answer, done = self._guard(acc, READ_SCOPE), None
        if answer is None:
            with self._lock:
                self._in_flight[org] += 1
                n = self._in_flight[org]
            self.stats._saw_in_flight(org, n)
            done = functools.partial(self._leave, org)
            try:
                answer = self._status_checked(org, job_id, n, now)
            except BaseException:
                done()
                raise
        code = None if answer.reset else answer.status
        self.stats._record(now, "status", org, job_id or None, code)
        return answer, done

    def _leave(self, org: str) -> None:
        with self._lock:
            self._in_flight[org] -= 1

    def _status_checked(self, org: str, job_id: str, in_flight: int, now: float) -> _Answer:
        cap = self._orgs[org].concurrency_cap
        if cap is not None and in_flight > cap:
            return _error("TOO_MANY_REQUESTS", message="concurrency limit exceeded")
        paid, headers = self._spend_credit(org)
        if not paid:
            answer = _error("TOO_MANY_REQUESTS", message="API credits exhausted")
        elif not job_id:
            answer = _error("REQUIRED_PARAM_MISSING")
        else:
            answer = self._status_faulted(org, job_id, now)
        answer.headers.update(headers)
        return answer

    def _next_scripted(self, job_id: str) -> str | None:
        with self._lock:
            names = self.faults.script.get(job_id) or []
            i = self._script_pos[job_id]
            if i >= len(names):
                return None
            self._script_pos[job_id] = i + 1
            return names[i]

    def _status_faulted(self, org: str, job_id: str, now: float) -> _Answer:
        fault = self._next_scripted(job_id)
        if fault in _SCRIPTED_ERRORS:
            return _error(_SCRIPTED_ERRORS[fault])
        if fault == "503":
            return _error("INTERNAL_ERROR", status=503, message="Service Unavailable")
        if fault == "reset":
            return _Answer(0, reset=True)
        if fault == "html":
            return _Answer(200, _HTML, "text/html;charset=UTF-8")
        if fault == "204":
            return _Answer(204, content_type="")
        if fault == "missing_data":
            return _json(200, {"info": {}})
        if fault is None and (self.faults.rate_5xx or self.faults.rate_429):
            with self._lock:
                r = self._rng.random()
            if r < self.faults.rate_5xx:
                return _error("INTERNAL_ERROR")
            if r < self.faults.rate_5xx + self.faults.rate_429:
                return _error("TOO_MANY_REQUESTS")
        return self._job_answer(org, job_id, now, fault)

    def _job_answer(self, org: str, job_id: str, now: float, fault: str | None) -> _Answer:
        job = self._jobs.get(job_id)
        truth = job.truth(now) if job is not None and job.org == org else None
        if job is None or truth is None:  # unknown, another org's, or not created yet
            return _error("INVALID_DATA")
        with self._lock:
            if fault == "backwards":
                truth = job.counts("in progress", self._last_processed.get(job_id, 0) // 2)
            else:
                self._last_processed[job_id] = truth.processed
            word = self._word(truth.status) if fault != "unknown_status" else "PAUSED"
        answer = _json(200, {"data": [self._data_item(truth, word)]})
        if fault == "truncated":
            answer.body = answer.body[: len(answer.body) // 2]
        if fault == "slow":
            answer.delay_s += self.faults.slow_s
        return answer

    def _word(self, status: str) -> str:
        if not self.faults.status_casing:
            return status
        with self._lock:
            return self._rng.choice(_CASINGS[status])

    @staticmethod
    def _data_item(truth: JobTruth, word: str) -> dict[str, Any]:
        return {
            "Status": word,
            "Total_Count": truth.total,
            "Converted_Count": truth.converted,
            "Not_Converted_Count": truth.not_converted,
            "Failed_Count": truth.failed,
        }

    def _schedule_endpoint(self, dc: str, headers: Any, body: bytes) -> _Answer:
        now = self.clock.time()
        acc, org = self._authenticate(dc, headers, now)
        answer, job_id = self._guard(acc, CREATE_SCOPE), None
        if answer is None:
            paid, credit_headers = self._spend_credit(org)
            if paid:
                answer, job_id = self._schedule_checked(org, body, now)
            else:
                answer = _error("TOO_MANY_REQUESTS", message="API credits exhausted")
            answer.headers.update(credit_headers)
        self.stats._record(now, "schedule", org, job_id, answer.status)
        return answer

    def _schedule_checked(self, org: str, body: bytes, now: float) -> tuple[_Answer, str | None]:
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:  # includes UnicodeDecodeError
            return _error("INVALID_DATA", message="the body is not valid JSON", details={}), None
        ids = payload.get("ids") if isinstance(payload, dict) else None
        if not ids:
            return _error("MANDATORY_NOT_FOUND"), None
        if not isinstance(ids, list) or not all(_is_lead_id(x) for x in ids):
            bad = {"api_name": "ids"}
            return _error("INVALID_DATA", message="invalid lead id", details=bad), None
        if len(ids) > MAX_IDS:
            return _error("LIMIT_EXCEEDED"), None
        job_id = self.schedule(org, ids, created_at=now)
        return _json(
            202,
            {
                "code": "SCHEDULED",
                "details": {"job_id": job_id},
                "message": "Mass convert of the leads is scheduled",
                "status": "success",
            },
        ), job_id


class _Handler(http.server.BaseHTTPRequestHandler):
    """One connection: HTTP/1.1 keep-alive, exact Content-Length, no request logging."""

    protocol_version = "HTTP/1.1"
    server_version = "ZohoSimulator/1.0"
    sys_version = ""
    timeout = 60  # real seconds an idle keep-alive connection is kept
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: _Server

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
                answer, done = self.server.sim._handle(method, self.path, self.headers, body)
            except Exception:
                path = urlsplit(self.path).path  # never the query: it may hold a token
                logger.exception("simulator failed on %s %s", method, path)
                answer = _error("INTERNAL_ERROR")
            if answer.delay_s > 0:
                time.sleep(answer.delay_s)
            if answer.reset:
                self._reset()
            else:
                self._write(answer)
        finally:
            if done is not None:
                done()

    def _write(self, answer: _Answer) -> None:
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


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
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


def default_scenario(
    *,
    n_jobs: int = 36,
    dcs: Iterable[str] = ("us", "eu", "in", "au"),
    seed: int = 7,
    clock: SimClock | None = None,
    realistic: bool = False,
    **sim_kwargs: Any,
) -> Simulator:
    """A ready-made simulator (not started): one org per data center and a mixed batch.

    Parameters
    ----------
    n_jobs : int, default 36
        Jobs the server knows, spread round-robin over the orgs (1 to 50 leads each).
    dcs : iterable of str, default ("us", "eu", "in", "au")
        One org ``f"{dc}-org"`` per data-center code, with generated credentials.
    seed : int, default 7
        Same seed, same credentials, job ids and timelines.
    clock : SimClock, optional
        Default ``SimClock(speed=60.0)``; tests pass a manual ``SimClock()``.
    realistic : bool, default False
        False: queue 0-20 s, 0.5-5 leads/s, all jobs final within ~3 simulated minutes.
        True: queue 0-300 s, 0.2-5 leads/s, ~10 % of jobs stall 30-120 s.
    **sim_kwargs
        Passed to :class:`Simulator` (``faults``, ``token_lifetime_s``, ``port``...).

    Returns
    -------
    Simulator
        Jobs with failures, one whole job ``failed``, at least one stalled; plus
        :attr:`Simulator.unknown_job_id`, listed for the first org by :meth:`~Simulator.job_ids`
        and the jobs CSV but answering 400 ``INVALID_DATA``. Use ``with ... as sim:``.

    Raises
    ------
    ValueError
        For ``n_jobs < 1``, an unknown or duplicate data-center code.
    """
    orgs, jobs, (unknown_id, unknown_org) = build_default_scenario(
        n_jobs=n_jobs, dcs=tuple(dcs), seed=seed, realistic=realistic
    )
    sim = Simulator(orgs, jobs, clock=clock, **sim_kwargs)
    sim.add_unknown_job(unknown_org, unknown_id)
    return sim
