"""What the simulator simulates: clock, orgs, leads, jobs, faults, and the default scenario.

Value objects and pure functions only (stdlib, no I/O, no threads but the clock's lock);
:mod:`zcrm_notebook.simulator.app` serves them over HTTP. Job timelines follow Zoho's
status answers (``docs/zoho-api.md``): counts that need not add up are *not* produced
here: the simulator's counts always add up unless a fault says so. A job scheduled by the
mass-convert POST holds its lead ids and converts them one by one (:meth:`SimJob.processed_at`);
which of them fail is decided by :mod:`zcrm_notebook.simulator.leads`.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from ..api.datacenters import DATA_CENTERS
from ..api.endpoints import MASS_CONVERT_CREATE_SCOPE, MASS_CONVERT_READ_SCOPE, SCOPE_SETS

__all__ = [
    "SimClock",
    "SimOrg",
    "SimLead",
    "LEAD_PROBLEMS",
    "POST_FAULTS",
    "POST_FAULT_NAMES",
    "SimJob",
    "JobTruth",
    "Faults",
    "FAULTS",
    "FAULT_NAMES",
    "STATUS_CASINGS",
    "READ_SCOPE",
    "CREATE_SCOPE",
    "build_default_scenario",
    "build_default_leads",
]

READ_SCOPE = MASS_CONVERT_READ_SCOPE
CREATE_SCOPE = MASS_CONVERT_CREATE_SCOPE
JOB_OUTCOMES = ("completed", "failed")

DOCUMENTED, UNDOCUMENTED, TRANSPORT = "documented", "undocumented", "transport"

#: Scripted faults: name -> (label, what the status GET answers). ``documented``: an
#: answer Zoho documents for this call or for every CRM call (``docs/zoho-api.md``);
#: ``undocumented``: seen from proxies or other Zoho endpoints, or made up to test the
#: client, never documented for this call; ``transport``: no HTTP answer, or a late one.
FAULTS: dict[str, tuple[str, str]] = {
    "ok": (DOCUMENTED, "the normal answer (to place a fault after a few good ones)"),
    "429": (DOCUMENTED, "429 TOO_MANY_REQUESTS (body composed: Zoho prints none)"),
    "500": (DOCUMENTED, "500 INTERNAL_ERROR"),
    "404": (DOCUMENTED, "404 INVALID_URL_PATTERN (a wrong api_domain, version or path)"),
    "invalid_token": (DOCUMENTED, "401 INVALID_TOKEN"),
    "auth_failure": (DOCUMENTED, "401 AUTHENTICATION_FAILURE"),
    "scope_mismatch": (DOCUMENTED, "401 OAUTH_SCOPE_MISMATCH"),
    "no_permission": (DOCUMENTED, "403 NO_PERMISSION"),
    "invalid_data": (DOCUMENTED, "400 INVALID_DATA {param_name: job_id} (unknown job id)"),
    "required_param_missing": (DOCUMENTED, "400 REQUIRED_PARAM_MISSING {param_name, param}"),
    "503": (UNDOCUMENTED, "503 with a load balancer's HTML page (Zoho documents no 503)"),
    "html": (UNDOCUMENTED, "200 with an HTML page (a proxy or captive portal)"),
    "truncated": (UNDOCUMENTED, "200 with the JSON cut in half"),
    "204": (UNDOCUMENTED, "204 with no body (not documented for the status call)"),
    "missing_data": (UNDOCUMENTED, '200 {"info": {}}: no "data"'),
    "unknown_status": (UNDOCUMENTED, 'status word "PAUSED" (no source has it)'),
    "backwards": (UNDOCUMENTED, "counts below the previous answer's (valid JSON)"),
    "reset": (TRANSPORT, "the connection is reset, no answer"),
    "slow": (TRANSPORT, "the normal answer after Faults.slow_s real seconds"),
}
FAULT_NAMES = frozenset(FAULTS)
"""Fault names usable in :attr:`Faults.script` (each one produces one answer)."""

#: Casings of the status word (:attr:`Faults.status_casing`): ``documented`` is the case
#: of Zoho's only sample answer (``"COMPLETED"``, mass-convert-status.html v5-v8);
#: ``lower`` the page's list of words (documented too); ``wild`` mixes in casings no source
#: documents for this call (``Completed``, ``IN_PROGRESS``, ``RUNNING``: UNDOCUMENTED).
STATUS_CASINGS = ("documented", "lower", "wild")

#: Scripted faults of the mass-convert POST (:attr:`Faults.post_script`), labelled like
#: :data:`FAULTS`. ``429`` / ``500`` / ``reset`` make no job; the ``*_after_create`` ones make
#: the job, then lose its answer: a 500 (UNDOCUMENTED: Zoho does not say whether a 500 may
#: follow a created job), an answer held ``post_hold_s`` real seconds (longer than a
#: client's timeout), or held until :meth:`~zcrm_notebook.simulator.Simulator.release_held_posts`
#: (or the server stops: a client killed meanwhile never learns the job id).
POST_FAULTS: dict[str, tuple[str, str]] = {
    "ok": (DOCUMENTED, "the normal answer"),
    "429": (DOCUMENTED, "429 TOO_MANY_REQUESTS, no job"),
    "500": (DOCUMENTED, "500 INTERNAL_ERROR, no job"),
    "reset": (TRANSPORT, "the connection is reset before the job is made"),
    "post_500_after_create": (UNDOCUMENTED, "the job is made, then 500 INTERNAL_ERROR"),
    "post_timeout_after_create": (TRANSPORT, "the job is made, its answer comes too late"),
    "post_hang_after_create": (TRANSPORT, "the job is made, its answer held until released"),
}
POST_FAULT_NAMES = frozenset(POST_FAULTS)
"""Fault names usable in :attr:`Faults.post_script`."""

#: Why a simulated lead cannot be converted: Zoho's code of the single convert for it
#: (``docs/zoho-api.md``, "Single lead convert"). ``MANDATORY_NOT_FOUND`` only bites when a
#: deal is created (a mandatory Deals field the lead cannot fill); the others always.
LEAD_PROBLEMS = ("MANDATORY_NOT_FOUND", "DUPLICATE_DATA", "RECORD_LOCKED", "NOT_APPROVED")


class SimClock:
    """Simulated wall clock shared by the simulator and the code under test.

    Parameters
    ----------
    start : float, default 1_767_225_600.0 (2026-01-01T00:00:00Z)
        Simulated seconds since the Unix epoch at creation.
    speed : float or None, default None
        ``None``: a fully manual fake clock -- :meth:`time` returns the current value and
        :meth:`sleep` advances it at once by ``dt`` (never sleeps for real). A number:
        an accelerated real clock, ``time() = start + elapsed_real_s * speed`` and
        ``sleep(dt)`` sleeps ``dt / speed`` real seconds.

    Raises
    ------
    ValueError
        If ``speed`` is not positive.
    """

    def __init__(self, start: float = 1_767_225_600.0, speed: float | None = None) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be a positive number or None, not {speed!r}")
        self.speed = None if speed is None else float(speed)
        self._lock = threading.Lock()
        self._base = float(start)
        self._t0 = time.monotonic()

    @property
    def manual(self) -> bool:
        """True for the manual fake clock (``speed=None``)."""
        return self.speed is None

    def time(self) -> float:
        """Simulated seconds since the Unix epoch."""
        with self._lock:
            if self.speed is None:
                return self._base
            return self._base + (time.monotonic() - self._t0) * self.speed

    def sleep(self, dt: float) -> None:
        """Let ``dt`` simulated seconds pass (negative values count as 0).

        Manual clock: advances at once, thread-safe (concurrent sleeps add up).
        Accelerated clock: sleeps ``dt / speed`` real seconds.
        """
        dt = max(0.0, float(dt))
        if self.speed is None:
            self.advance(dt)
        else:
            time.sleep(dt / self.speed)

    def advance(self, dt: float) -> None:
        """Jump ``dt`` simulated seconds ahead at once (thread-safe).

        Meant for the manual clock; on an accelerated clock it shifts the clock forward.

        Raises
        ------
        ValueError
            If ``dt`` is negative (time never goes back).
        """
        if dt < 0:
            raise ValueError(f"cannot advance a clock by a negative amount ({dt!r})")
        with self._lock:
            self._base += float(dt)

    def paced_sleep(self, speed: float) -> Callable[[float], None]:
        """A ``sleep`` for a poller on a manual clock that moves only while it waits.

        ``sleep(dt)`` waits ``dt / speed`` real seconds, then advances the clock by ``dt``:
        simulated jobs run only while they are being polled (``speed`` times faster than
        real time) and stand still otherwise. The notebooks use it so that nothing happens
        before Start and a stopped run stays paused.

        Raises
        ------
        ValueError
            If ``speed`` is not a positive number.
        """
        if not (isinstance(speed, (int, float)) and speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number, got {speed!r}")

        def sleep(dt: float) -> None:
            time.sleep(dt / speed)
            self.advance(dt)

        return sleep

    def __repr__(self) -> str:
        mode = "manual" if self.speed is None else f"speed={self.speed:g}"
        return f"SimClock({mode}, t={self.time():.3f})"


@dataclass(frozen=True)
class SimOrg:
    """One simulated CRM org with its self-client credentials.

    Attributes
    ----------
    name : str
        Org label (``us-org``); key of the config table and of the jobs CSV.
    dc : str
        Data-center code from :data:`zcrm_notebook.api.datacenters.DATA_CENTERS`.
    client_id, client_secret, refresh_token : str
        Credentials; the refresh token is valid until revoked. The secret and the refresh
        token are kept out of the repr.
    scopes : tuple of str
        Scopes of ``refresh_token``. The status GET needs ``ZohoCRM.mass_convert.leads.READ``,
        scheduling ``ZohoCRM.mass_convert.leads.CREATE``; ``...leads.ALL`` covers both.
    no_permission : bool, default False
        The user's CRM profile lacks mass convert: CRM calls answer 403 ``NO_PERMISSION``.
    concurrency_cap : int or None, default None
        More CRM calls in flight than this for the org answer 429 ``TOO_MANY_REQUESTS``.
    pipelines : bool, default False
        Deals have pipelines: a ``Deals`` object must name its ``Pipeline`` too.
    users : tuple of str, default ()
        User ids an ``assign_to`` may name (empty: any id of digits).

    Raises
    ------
    ValueError
        For an unknown data-center code, an empty name or a cap below 1.
    """

    name: str
    dc: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    scopes: tuple[str, ...] = SCOPE_SETS["diagnose"]
    no_permission: bool = False
    concurrency_cap: int | None = None
    pipelines: bool = False
    users: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise ValueError("SimOrg.name must not be empty")
        if self.dc not in DATA_CENTERS:
            raise ValueError(f"unknown data center {self.dc!r}; valid: {', '.join(DATA_CENTERS)}")
        if self.concurrency_cap is not None and self.concurrency_cap < 1:
            raise ValueError("concurrency_cap must be >= 1 or None")
        object.__setattr__(self, "scopes", tuple(self.scopes))
        object.__setattr__(self, "users", tuple(self.users))


@dataclass(frozen=True)
class SimLead:
    """One lead record of a simulated org.

    Attributes
    ----------
    lead_id : str
        Digits (Zoho's are 19 digits).
    org : str
        Name of the :class:`SimOrg` holding it.
    name : str, default ""
        ``Last_Name`` of the lead.
    problem : str or None, default None
        Why it cannot be converted (one of :data:`LEAD_PROBLEMS`): a job fails it and the
        single convert answers this code; ``MANDATORY_NOT_FOUND`` only when a deal is made.
    company : bool, default True
        The lead names a company: converting it makes an account too.

    Raises
    ------
    ValueError
        For a non-digit id or an unknown problem.
    """

    lead_id: str
    org: str
    name: str = ""
    problem: str | None = None
    company: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.lead_id, str) or not self.lead_id.isdigit():
            raise ValueError(f"lead_id must be a string of digits, not {self.lead_id!r}")
        if self.problem is not None and self.problem not in LEAD_PROBLEMS:
            raise ValueError(f"problem must be one of {LEAD_PROBLEMS} or None: {self.problem!r}")

    def blocked(self, deal: bool) -> str | None:
        """The problem that stops a conversion (with a deal or not), or None."""
        if self.problem == "MANDATORY_NOT_FOUND" and not deal:
            return None
        return self.problem


class JobTruth(NamedTuple):
    """What Zoho would answer for a job at one instant (canonical lower-case word)."""

    status: str
    total: int
    converted: int
    not_converted: int
    failed: int

    @property
    def processed(self) -> int:
        """Leads done, converted or failed."""
        return self.converted + self.failed


@dataclass(frozen=True)
class SimJob:
    """One simulated mass-convert job; its answers are a pure function of sim time.

    Timeline: created at ``created_at``, ``scheduled`` for ``queue_delay_s``, then
    ``in progress`` converting ``leads_per_s`` leads per second with a pause of
    ``stall_s`` at half-way (``total / 2`` leads), then ``completed`` with
    ``Failed_Count = failed``. With ``outcome="failed"`` the job aborts at half-way
    instead (no stall): status ``failed``, the leads not converted by then count as failed.
    Failures are spread over the run: ``failed_part = round(failed * processed / total)``.

    Attributes
    ----------
    job_id : str
        Digits only (Zoho's are 19 digits).
    org : str
        Name of the :class:`SimOrg` that owns the job.
    total : int
        Leads in the job, 1 to 50.
    queue_delay_s : float, default 0.0
        Simulated seconds in ``scheduled`` after ``created_at``.
    leads_per_s : float, default 1.0
        Conversion rate while in progress (> 0).
    failed : int, default 0
        Leads that end up failed, 0 to ``total``.
    stall_s : float, default 0.0
        Simulated seconds without progress at half-way.
    outcome : {"completed", "failed"}
        Final status word.
    created_at : float or None, default None
        Simulated creation time; ``None`` means the simulator's start time.
    lead_ids : tuple of str, default ()
        The leads of a job scheduled by the POST, in processing order (``total`` is their
        number); their fate, not ``failed``, gives the counts.
    deal : bool, default False
        The POST asked for a deal per lead (a ``Deals`` object).

    Raises
    ------
    ValueError
        For a non-digit id or an out-of-range number.
    """

    job_id: str
    org: str
    total: int
    queue_delay_s: float = 0.0
    leads_per_s: float = 1.0
    failed: int = 0
    stall_s: float = 0.0
    outcome: str = "completed"
    created_at: float | None = None
    lead_ids: tuple[str, ...] = ()
    deal: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "lead_ids", tuple(self.lead_ids))
        if self.lead_ids and len(self.lead_ids) != self.total:
            raise ValueError(f"total ({self.total}) must be the number of lead_ids")
        if not isinstance(self.job_id, str) or not self.job_id.isdigit():
            raise ValueError(f"job_id must be a string of digits, not {self.job_id!r}")
        if not 1 <= self.total <= 50:
            raise ValueError(f"total must be 1..50 leads, not {self.total!r}")
        if not 0 <= self.failed <= self.total:
            raise ValueError(f"failed must be 0..total ({self.total}), not {self.failed!r}")
        if not self.leads_per_s > 0 or self.queue_delay_s < 0 or self.stall_s < 0:
            raise ValueError("leads_per_s must be > 0, queue_delay_s and stall_s >= 0")
        if self.outcome not in JOB_OUTCOMES:
            raise ValueError(f"outcome must be one of {JOB_OUTCOMES}, not {self.outcome!r}")

    def _born(self) -> float:
        if self.created_at is None:
            raise ValueError(f"job {self.job_id}: created_at is not set")
        return self.created_at

    def finish_at(self) -> float:
        """Simulated time the job reaches its final status (needs ``created_at``)."""
        start = self._born() + self.queue_delay_s
        half_s = self.total / 2 / self.leads_per_s
        if self.outcome == "failed":
            return start + half_s
        return start + 2 * half_s + self.stall_s

    def processed_at(self, index: int) -> float | None:
        """Simulated time the job is done with its lead number ``index`` (0-based); None
        when it never gets there (a whole job that fails half-way)."""
        start = self._born() + self.queue_delay_s
        if self.outcome == "failed":
            if index >= self.total // 2:
                return None
            return min(start + (index + 1) / self.leads_per_s, self.finish_at())
        if index >= self.total - 1:
            return self.finish_at()
        busy = (index + 1) / self.leads_per_s
        half_s = self.total / 2 / self.leads_per_s
        return start + (busy if busy <= half_s else busy + self.stall_s)

    def counts(self, status: str, processed: int) -> JobTruth:
        """A :class:`JobTruth` with ``processed`` leads done (failures spread evenly)."""
        failed = round(self.failed * processed / self.total)
        converted = processed - failed
        return JobTruth(status, self.total, converted, self.total - processed, failed)

    def truth(self, t: float) -> JobTruth | None:
        """The job's status and counts at simulated time ``t``; ``None`` before creation."""
        born = self._born()
        if t < born:
            return None
        if t >= self.finish_at():
            if self.outcome == "completed":
                return self.counts("completed", self.total)
            converted = self.counts("failed", self.total // 2).converted
            return JobTruth("failed", self.total, converted, 0, self.total - converted)
        elapsed = t - born - self.queue_delay_s
        if elapsed < 0:
            return self.counts("scheduled", 0)
        half_s = self.total / 2 / self.leads_per_s
        busy = elapsed if elapsed <= half_s else max(half_s, elapsed - self.stall_s)
        cap = self.total // 2 if self.outcome == "failed" else self.total - 1
        processed = min(cap, int(self.leads_per_s * busy))
        return self.counts("in progress", processed)


@dataclass
class Faults:
    """Fault injection for CRM answers (token answers are never faulted).

    By default the simulator answers as Zoho documents (``docs/simulator.md``); every
    attribute below that departs from it is labelled ``UNDOCUMENTED``.

    Attributes
    ----------
    seed : int, default 0
        Seed of the random draws (rates, status casing, new job ids).
    latency_s : float, default 0.0
        Real seconds every CRM answer is delayed (while counted in flight). Transport.
    rate_5xx, rate_429 : float, default 0.0
        Probability that a status GET answers 500 ``INTERNAL_ERROR`` / 429
        ``TOO_MANY_REQUESTS`` (both documented).
    retry_after_s : float or None, default None
        When set, every 429 carries ``Retry-After`` with this value (``%g``: may be
        fractional). UNDOCUMENTED: no Zoho page mentions the header.
    credits_remaining : int or None, default None
        When set, CRM calls are metered per org (one credit each); an org at 0 credits gets
        429 ``TOO_MANY_REQUESTS`` (documented: the 24-hour credit limit).
    credits_header : bool, default False
        Metered answers carry ``X-API-CREDITS-REMAINING``. UNDOCUMENTED: no Zoho page
        documents a credit header.
    status_casing : {"documented", "lower", "wild"}, default "documented"
        Case of the status word, see :data:`STATUS_CASINGS` (``"wild"`` is
        UNDOCUMENTED); ``True``/``False`` mean ``"wild"``/``"documented"``.
    schedule_status : {200, 202}, default 200
        HTTP status of a scheduled mass convert: 200 per Zoho's OpenAPI file for Leads, 202
        per the sibling inventory conversion's (both documented).
    script : dict of str to list of str
        ``job_id -> fault names``, consumed one per authenticated status GET of that job,
        in order; names and labels in :data:`FAULTS`. The simulator reads it, never
        modifies it (items appended later are used too).
    slow_s : float, default 1.0
        Real seconds the ``slow`` fault waits before answering normally.
    post_script : list of str
        Fault names of :data:`POST_FAULTS`, consumed one per authenticated mass-convert
        POST, in order (read, never modified).
    post_hold_s : float, default 2.0
        Real seconds ``post_timeout_after_create`` holds the answer.
    """

    seed: int = 0
    latency_s: float = 0.0
    rate_5xx: float = 0.0
    rate_429: float = 0.0
    retry_after_s: float | None = None
    credits_remaining: int | None = None
    credits_header: bool = False
    status_casing: str | bool = "documented"
    schedule_status: int = 200
    script: dict[str, list[str]] = field(default_factory=dict)
    slow_s: float = 1.0
    post_script: list[str] = field(default_factory=list)
    post_hold_s: float = 2.0

    def validate(self) -> None:
        """Check the rates, the status casing and the scripted fault names.

        Raises
        ------
        ValueError
            For a rate outside 0..1, rates summing above 1, an unknown casing, schedule
            status or fault name.
        """
        rates = (self.rate_5xx, self.rate_429)
        if any(not 0 <= r <= 1 for r in rates) or sum(rates) > 1:
            raise ValueError("rate_5xx and rate_429 must be in 0..1 and sum to at most 1")
        if isinstance(self.status_casing, bool):
            self.status_casing = "wild" if self.status_casing else "documented"
        if self.status_casing not in STATUS_CASINGS:
            raise ValueError(
                f"status_casing must be one of {STATUS_CASINGS}, not {self.status_casing!r}"
            )
        if self.schedule_status not in (200, 202):
            raise ValueError(f"schedule_status must be 200 or 202, not {self.schedule_status!r}")
        bad = {f for names in self.script.values() for f in names} - FAULT_NAMES
        if bad:
            raise ValueError(f"unknown fault(s) {sorted(bad)}; valid: {sorted(FAULT_NAMES)}")
        bad = set(self.post_script) - POST_FAULT_NAMES
        if bad:
            valid = sorted(POST_FAULT_NAMES)
            raise ValueError(f"unknown POST fault(s) {sorted(bad)}; valid: {valid}")


def _credentials(rng: random.Random) -> tuple[str, str, str]:
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    client_id = "1000." + "".join(rng.choice(alnum) for _ in range(30))
    secret = f"{rng.getrandbits(168):042x}"
    refresh = f"1000.{rng.getrandbits(128):032x}.{rng.getrandbits(128):032x}"
    return client_id, secret, refresh


def _job_timing(rng: random.Random, realistic: bool) -> dict:
    if realistic:
        stall = rng.uniform(30, 120) if rng.random() < 0.1 else 0.0
        return {
            "queue_delay_s": rng.uniform(0, 300),
            "leads_per_s": rng.uniform(0.2, 5),
            "stall_s": stall,
        }
    stall = rng.uniform(5, 20) if rng.random() < 0.1 else 0.0
    return {
        "queue_delay_s": rng.uniform(0, 20),
        "leads_per_s": rng.uniform(0.5, 5),
        "stall_s": stall,
    }


def build_default_scenario(
    *, n_jobs: int = 36, dcs=("us", "eu", "in", "au"), seed: int = 7, realistic: bool = False
) -> tuple[list[SimOrg], list[SimJob], tuple[str, str]]:
    """Orgs and jobs of the default scenario (see :func:`zcrm_notebook.simulator.default_scenario`).

    Parameters
    ----------
    n_jobs : int, default 36
        Jobs known to the simulator (at least 1).
    dcs : sequence of str
        Data-center codes, one org ``f"{dc}-org"`` each.
    seed : int, default 7
        Same seed, same credentials, ids and timelines.
    realistic : bool, default False
        Slow timelines (queue 0-300 s, 0.2-5 leads/s, ~10 % stall 30-120 s) instead of the
        quick ones (queue 0-20 s, 0.5-5 leads/s, finish within ~3 simulated minutes).

    Returns
    -------
    orgs : list of SimOrg
    jobs : list of SimJob
        ``created_at=None``. Guaranteed: two jobs with ``failed > 0`` (one when
        ``n_jobs == 1``), one with ``stall_s > 0`` and, when ``n_jobs >= 3``, one with
        ``outcome="failed"``; about 30 % of the others have failures too.
    unknown : tuple of (str, str)
        ``(job_id, org)`` of an id listed for the first org that the simulator does not know.

    Raises
    ------
    ValueError
        For ``n_jobs < 1``, no or duplicate data centers, or an unknown code.
    """
    dcs = [str(d).strip().lower() for d in dcs]
    if n_jobs < 1 or not dcs or len(set(dcs)) != len(dcs):
        raise ValueError("need n_jobs >= 1 and at least one data center, without duplicates")
    rng = random.Random(seed)
    orgs = [SimOrg(f"{dc}-org", dc, *_credentials(rng)) for dc in dcs]
    prefixes = {o.name: str(rng.randrange(1_000_000, 10_000_000)) for o in orgs}
    used: set[str] = set()

    def new_id(org: str) -> str:
        while True:
            jid = prefixes[org] + f"{rng.randrange(10**11, 10**12)}"
            if jid not in used:
                used.add(jid)
                return jid

    k = min(n_jobs, 4)
    special = rng.sample(range(n_jobs), k)
    with_failures = {special[0], special[-1]}
    whole_failed = special[1] if k >= 3 else None
    stalled = special[2] if k >= 3 else special[-1]
    jobs = []
    for i in range(n_jobs):
        org = orgs[i % len(orgs)].name
        total = rng.randint(1, 50)
        kw = _job_timing(rng, realistic)
        failed = rng.randint(1, max(1, total // 3)) if rng.random() < 0.3 else 0
        if i in with_failures:
            failed = max(failed, 1)
        if i == whole_failed:
            kw["outcome"] = "failed"
        if i == stalled and not kw["stall_s"]:
            kw["stall_s"] = rng.uniform(30, 120) if realistic else rng.uniform(5, 20)
        jobs.append(SimJob(new_id(org), org, total, failed=failed, **kw))
    return orgs, jobs, (new_id(orgs[0].name), orgs[0].name)


def build_default_leads(orgs: list[SimOrg], *, n_leads: int = 60, seed: int = 7) -> list[SimLead]:
    """Leads of the default scenario: ``n_leads`` per org, about one in ten unconvertible.

    Per org, lead number ``i`` has problem ``DUPLICATE_DATA`` when ``i % 20 == 7``,
    ``NOT_APPROVED`` when ``i % 20 == 13`` and ``MANDATORY_NOT_FOUND`` (only when a deal
    is asked) when ``i % 30 == 21``; the others convert; no company (so no account) when
    ``i % 11 == 4``. Ids are 19 digits, from ``seed`` (a stream apart from the jobs', so
    adding leads changes no job).

    Raises
    ------
    ValueError
        For ``n_leads < 0``.
    """
    if n_leads < 0:
        raise ValueError(f"n_leads must be >= 0, not {n_leads!r}")
    rng = random.Random(f"{seed}:leads")
    problems = {
        (20, 7): "DUPLICATE_DATA",
        (20, 13): "NOT_APPROVED",
        (30, 21): "MANDATORY_NOT_FOUND",
    }
    leads = []
    for o in orgs:
        prefix = str(rng.randrange(1_000_000, 10_000_000))
        ids = sorted({prefix + f"{rng.randrange(10**11, 10**12)}" for _ in range(n_leads)})
        while len(ids) < n_leads:  # a collision (rare): draw more
            ids = sorted({*ids, prefix + f"{rng.randrange(10**11, 10**12)}"})
        for i, lead_id in enumerate(ids):
            problem = next((p for (m, r), p in problems.items() if i % m == r), None)
            name = f"Lead {o.dc.upper()}-{i + 1:03d}"
            leads.append(SimLead(lead_id, o.name, name, problem, company=i % 11 != 4))
    return leads
