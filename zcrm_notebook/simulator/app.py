"""The simulator itself: orgs, jobs, the files it writes for clients, request routing.

The demo, the notebooks, the tests and the benchmarks run against this server through the
same client code path as real Zoho. It serves the endpoints of
:mod:`zcrm_notebook.api.endpoints` it knows (:data:`SERVED`) under one base URL per data
center, in Zoho's documented words and shapes by default (``docs/zoho-api.md``; what it
offers beyond them is a labelled fault, ``docs/simulator.md``):

- ``POST {base_url}/{dc}/accounts/oauth/v2/token``: refresh and grant (authorization code)
  exchange; failures are HTTP 200 with an ``error`` key; Zoho's token limits;
- ``POST {base_url}/{dc}/accounts/oauth/v2/token/revoke``: revoke a token (400 for an
  unknown one);
- ``GET {base_url}/{dc}/api/crm/{v5..v8}/Leads/actions/mass_convert?job_id=...``: the
  status of a job (Zoho CRM "Get Status of Mass Convert Lead");
- ``POST`` on the same path (``v4..v8``): schedule a job converting the leads given
  ("Mass Convert Lead");
- ``GET {base_url}/{dc}/api/crm/{v}/Leads?ids=...&fields=...&converted=...``: read leads
  ("Get Records");
- ``POST {base_url}/{dc}/api/crm/{v}/Leads/{id}/actions/convert``: convert one lead
  ("Convert Lead").

This module assembles :class:`Simulator` and :func:`default_scenario`; the parts live in
sibling modules: :mod:`~zcrm_notebook.simulator.scenario` (clock, orgs, leads, jobs,
faults), :mod:`~zcrm_notebook.simulator.accounts` (token, grant and revoke endpoints),
:mod:`~zcrm_notebook.simulator.crm` (status and schedule endpoints, fault injection),
:mod:`~zcrm_notebook.simulator.leads` (lead records, their conversions, Get Records and the
single convert),
:mod:`~zcrm_notebook.simulator.server` (loopback HTTP server, error envelopes) and
:mod:`~zcrm_notebook.simulator.stats` (request counters). A job's answer at simulated
time ``t`` is a pure function of ``t`` (only the scripted ``backwards`` fault looks at
earlier answers). The server binds only to loopback, never logs tokens, and uses the
standard library only.
"""

from __future__ import annotations

import csv
import os
import random
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..api.datacenters import DATA_CENTERS
from ..api.endpoints import (
    ACCOUNTS,
    API,
    CONVERT_RECORD,
    GET_RECORDS,
    MASS_CONVERT_SCHEDULE,
    MASS_CONVERT_STATUS,
    REVOKE,
    TOKEN,
    Endpoint,
)
from .accounts import AccessRecord, AccountsMixin, GrantRecord, RefreshRecord
from .crm import DOCUMENTED_WORDS, CrmMixin
from .leads import LeadsMixin, Timeline
from .scenario import (
    Faults,
    SimClock,
    SimJob,
    SimLead,
    SimOrg,
    build_default_leads,
    build_default_scenario,
)
from .server import MAX_IDS, Answer, Server, ServingMixin, error_answer, loopback_host
from .stats import SimStats

__all__ = ["Simulator", "default_scenario", "SERVED", "CONFIG_HEADER"]

#: First line of every config :meth:`Simulator.write_config` writes.
CONFIG_HEADER = "# Zoho simulator orgs (fake credentials; loopback only)"


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


class Simulator(ServingMixin, AccountsMixin, CrmMixin, LeadsMixin):
    """Zoho Accounts + CRM mass convert on loopback, for demos, tests and benchmarks.

    Holds the orgs, leads, jobs and token tables and routes requests; the endpoints come
    from :class:`~zcrm_notebook.simulator.accounts.AccountsMixin` (with
    :meth:`issue_grant_token`), :class:`~zcrm_notebook.simulator.crm.CrmMixin` and
    :class:`~zcrm_notebook.simulator.leads.LeadsMixin` (with :meth:`add_leads`,
    :meth:`lead_state`, :meth:`write_leads_csv`), serving (:meth:`start`, :meth:`stop`,
    :attr:`base_url`) from :class:`~zcrm_notebook.simulator.server.ServingMixin`.

    Parameters
    ----------
    orgs : iterable of SimOrg
        At least one; names and refresh tokens unique.
    jobs : iterable of SimJob
        Jobs known from the start (``created_at=None`` becomes :attr:`started_at`).
    leads : iterable of SimLead, optional
        Lead records of the orgs (ids unique). The POST checks its ids against the leads of
        an org that has some; an org without lead records takes any ids of digits and
        simulates the job by its count only (as :meth:`schedule` does).
    clock : SimClock, optional
        Simulated time; default ``SimClock(speed=60.0)`` (one real second is one simulated
        minute). Tests pass a manual ``SimClock()``.
    faults : Faults, optional
        Fault injection; default none.
    token_lifetime_s : float, default 3600.0
        Simulated seconds an access token lives.
    expires_in_style : {"seconds", "ms"}
        ``"seconds"``: ``{"expires_in": 3600}``; ``"ms"``: ``{"expires_in": 3600000,
        "expires_in_sec": 3600}`` (``docs/zoho-api.md``).
    token_throttle : tuple of (int, float), default (10, 600.0)
        At most this many new access tokens per refresh token per window of simulated
        seconds; more answer ``"Access Denied"`` (Zoho: 10 per 10 minutes).
    max_active_access_tokens : int, default 15
        Active access tokens per refresh token; a new one beyond invalidates the oldest
        (401 ``INVALID_TOKEN`` on use).
    max_refresh_tokens : int, default 20
        Refresh tokens per user (org); a new one beyond (a grant exchange) invalidates the
        first (``invalid_code`` on refresh).
    host : str, default "127.0.0.1"
        Loopback address to bind (``localhost`` means 127.0.0.1).
    port : int, default 0
        TCP port; 0 picks a free one.
    post_timing : tuple of (float, float), optional
        ``(queue_delay_s, leads_per_s)`` of every job the POST creates; default drawn per
        job from the faults' seed: queue 0-10 s, 1-5 leads/s.

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
    post_held : threading.Event
        Set when a POST's answer is being held (fault ``post_hang_after_create``).

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
        leads: Iterable[SimLead] = (),
        clock: SimClock | None = None,
        faults: Faults | None = None,
        token_lifetime_s: float = 3600.0,
        expires_in_style: str = "seconds",
        token_throttle: tuple[int, float] = (10, 600.0),
        max_active_access_tokens: int = 15,
        max_refresh_tokens: int = 20,
        host: str = "127.0.0.1",
        port: int = 0,
        post_timing: tuple[float, float] | None = None,
    ) -> None:
        self._host, self._port = loopback_host(host), int(port)
        if post_timing is not None and not (post_timing[0] >= 0 and post_timing[1] > 0):
            raise ValueError("post_timing must be (queue_delay_s >= 0, leads_per_s > 0)")
        self.post_timing = post_timing
        if expires_in_style not in ("seconds", "ms"):
            raise ValueError(f"expires_in_style must be 'seconds' or 'ms': {expires_in_style!r}")
        limits = (token_throttle[0], max_active_access_tokens, max_refresh_tokens)
        if not token_lifetime_s > 0 or min(limits) < 1 or not token_throttle[1] > 0:
            raise ValueError("token_lifetime_s, token_throttle and the token caps must be > 0")
        self.clock = clock if clock is not None else SimClock(speed=60.0)
        self.faults = faults if faults is not None else Faults()
        self.faults.validate()
        self.token_lifetime_s = float(token_lifetime_s)
        self.expires_in_style = expires_in_style
        self.token_throttle = (int(token_throttle[0]), float(token_throttle[1]))
        self.max_active_access_tokens = int(max_active_access_tokens)
        self.max_refresh_tokens = int(max_refresh_tokens)
        self.started_at = self.clock.time()
        self.stats = SimStats()
        self.unknown_job_id: str | None = None
        self._lock = threading.RLock()
        self._init_orgs(list(orgs))
        self._jobs: dict[str, SimJob] = {}
        self._unknown: list[tuple[str, str]] = []
        for job in jobs:
            self._add_job(job)
        self._access: dict[str, AccessRecord] = {}
        self._grants: dict[str, GrantRecord] = {}
        self._in_flight: Counter = Counter()
        self._credits: dict[str, int] = {}
        self._script_pos: Counter = Counter()
        self._last_processed: dict[str, int] = {}
        self._rng = random.Random(self.faults.seed)
        self._id_rng = random.Random(f"{self.faults.seed}:job-ids")
        self._post_rng = random.Random(f"{self.faults.seed}:post-jobs")
        self._post_pos = 0
        self._release = threading.Event()
        self.post_held = threading.Event()
        self._leads: dict[str, SimLead] = {}
        self._singles: dict[str, tuple[float, bool]] = {}
        self._deleted: dict[str, float] = {}
        self._timeline_cache: Timeline | None = None
        self.add_leads(leads)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def _init_orgs(self, orgs: list[SimOrg]) -> None:
        if not orgs:
            raise ValueError("the simulator needs at least one org")
        self._orgs = {o.name: o for o in orgs}
        self._refresh = {o.refresh_token: RefreshRecord(o.name, o.scopes) for o in orgs}
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
            self._timeline_cache = None
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
        lines = [CONFIG_HEADER, ""]
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

        The status word in Zoho's documented case (``"COMPLETED"``; lower case with
        ``Faults(status_casing="lower")``), no faults. ``None`` for an unknown id or a job
        not yet created.
        """
        job = self._jobs.get(str(job_id).strip())
        truth = None if job is None else self._truth(job, self.clock.time() if t is None else t)
        if truth is None:
            return None
        word = truth.status if self.faults.status_casing == "lower" else None
        return self._data_item(truth, word or DOCUMENTED_WORDS[truth.status])

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
            ``stall_s``, ``outcome``, ``created_at`` -- default now; ``lead_ids``: the job
            converts those leads, as a POST's would).

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

    def release_held_posts(self) -> None:
        """Let every POST answer held by ``post_hang_after_create`` go (and later ones)."""
        self._release.set()

    def stop(self) -> None:
        """Stop serving (held answers are released first); no-op when stopped."""
        self._release.set()
        super().stop()

    def _post_timing(self) -> tuple[float, float]:
        if self.post_timing is not None:
            return self.post_timing
        with self._lock:
            return self._post_rng.uniform(0, 10), self._post_rng.uniform(1, 5)

    def _new_job_id(self) -> str:
        with self._lock:
            while True:
                jid = str(self._id_rng.randrange(10**18, 10**19))
                if jid not in self._jobs and all(jid != j for j, _ in self._unknown):
                    return jid

    # -- server lifecycle: start(), stop(), `with`, base_url (server.ServingMixin) ----------

    def __repr__(self) -> str:
        where = "stopped" if self._server is None else self.base_url
        unknown = len(self._unknown)
        extra = (
            f" (+{unknown} unknown id{'s' if unknown > 1 else ''} in job_ids/jobs.csv)"
            if unknown
            else ""
        )
        return f"<Simulator orgs={len(self._orgs)} jobs={len(self._jobs)}{extra} {where}>"

    # -- request handling (called from the server's threads) -----------------------------

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[Answer, Any]:
        """Route one request; returns ``(answer, done)``, ``done`` run after writing."""
        parts = urlsplit(target)
        segs = parts.path.strip("/").split("/") + ["", ""]
        dc, area, rest = segs[0], segs[1], [s for s in segs[2:] if s]
        query = parse_qs(parts.query, keep_blank_values=True)
        if dc not in DATA_CENTERS or area not in (ACCOUNTS, API):
            return error_answer("INVALID_URL_PATTERN"), None
        endpoint, path_known = _route(area, method, "/" + "/".join(rest))
        if endpoint is TOKEN:
            return self._token_endpoint(dc, query, headers, body), None
        if endpoint is REVOKE:
            return self._revoke_endpoint(query, headers, body), None
        if area == ACCOUNTS:
            return error_answer("INVALID_URL_PATTERN"), None
        answer, done = error_answer("INVALID_URL_PATTERN"), None
        fields = {} if endpoint is None else (endpoint.match("/" + "/".join(rest)) or {})
        if endpoint is MASS_CONVERT_STATUS:
            answer, done = self._status_endpoint(dc, query, headers)
        elif endpoint is MASS_CONVERT_SCHEDULE:
            answer, done = self._schedule_endpoint(dc, fields["version"], headers, body)
        elif endpoint is GET_RECORDS:
            answer, done = self._records_endpoint(dc, query, headers)
        elif endpoint is CONVERT_RECORD:
            answer, done = self._convert_endpoint(dc, fields["record_id"], headers, body)
        elif path_known:
            answer = error_answer("INVALID_REQUEST_METHOD")
        answer.delay_s += self.faults.latency_s
        answer.date = self.clock.time()  # Zoho's Date: when the answer was made
        if answer.status == 429 and self.faults.retry_after_s is not None:
            answer.headers["Retry-After"] = f"{self.faults.retry_after_s:g}"
        return answer, done


#: The endpoints the simulator serves (descriptors of :mod:`zcrm_notebook.api.endpoints`).
SERVED = (TOKEN, REVOKE, MASS_CONVERT_STATUS, MASS_CONVERT_SCHEDULE, GET_RECORDS, CONVERT_RECORD)


def _route(area: str, method: str, path: str) -> tuple[Endpoint | None, bool]:
    """The served endpoint of a request, and whether its path is served (for any method).

    A path matches an endpoint when it fits its template with the endpoint's CRM module
    (``Leads``); the endpoint serves it in the API versions Zoho documents the call for
    (``Endpoint.versions``). A call Zoho does not document in that version is an unknown
    URL (404 ``INVALID_URL_PATTERN``: the status GET on v4), a served path asked with
    another method a wrong method (``INVALID_REQUEST_METHOD``).
    """
    path_known = False
    for endpoint in SERVED:
        fields = endpoint.match(path) if endpoint.host == area else None
        if fields is None or fields.get("module", endpoint.module) != endpoint.module:
            continue
        served = not endpoint.versions or fields.get("version") in endpoint.versions
        if endpoint.method == method:
            return (endpoint, True) if served else (None, False)
        path_known = path_known or served
    return None, path_known


def default_scenario(
    *,
    n_jobs: int = 36,
    n_leads: int = 60,
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
    n_leads : int, default 60
        Lead records per org, for ``convert`` (:func:`~.scenario.build_default_leads`:
        about one in ten cannot be converted).
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
    leads = build_default_leads(orgs, n_leads=n_leads, seed=seed)
    sim = Simulator(orgs, jobs, leads=leads, clock=clock, **sim_kwargs)
    sim.add_unknown_job(unknown_org, unknown_id)
    return sim
