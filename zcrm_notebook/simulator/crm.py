"""The simulator's Zoho CRM side: mass-convert status and schedule endpoints, with faults.

:class:`CrmMixin`, inherited by :class:`~zcrm_notebook.simulator.Simulator`, answers
``GET .../Leads/actions/mass_convert?job_id=...`` ("Get Status of Mass Convert Lead") and
``POST`` on the same path ("Mass Convert Lead"). Every CRM request (these and the lead
endpoints of :mod:`zcrm_notebook.simulator.leads`) goes through :meth:`CrmMixin._crm_call`:
the access token (issued by :mod:`zcrm_notebook.simulator.accounts`), scope and permission,
the org's concurrency cap and API credits. Then the
:class:`~zcrm_notebook.simulator.scenario.Faults` apply: scripted faults per job, random
5xx/429, status casing for the status call; the POST script (no job, or a job whose answer
is lost) for the POST. Standard library only.
"""

from __future__ import annotations

import functools
import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..api.endpoints import scope_covers
from .accounts import AccessRecord
from .scenario import CREATE_SCOPE, READ_SCOPE, Faults, JobTruth, SimClock, SimJob, SimOrg
from .server import Answer, error_answer, json_answer
from .stats import UNKNOWN_ORG, SimStats

_HTML = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
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


class CrmMixin:
    """Zoho CRM mass-convert endpoints of :class:`~zcrm_notebook.simulator.Simulator`.

    Uses the simulator's clock, faults, stats, lock, orgs, jobs, access tokens and fault
    state (set up by ``Simulator.__init__``); answers are built for ``Simulator.handle``
    to route.
    """

    clock: SimClock
    faults: Faults
    stats: SimStats
    _lock: threading.RLock
    _orgs: dict[str, SimOrg]
    _jobs: dict[str, SimJob]
    _access: dict[str, AccessRecord]
    _in_flight: Counter
    _credits: dict[str, int]
    _script_pos: Counter
    _last_processed: dict[str, int]
    _rng: random.Random

    _post_pos: int
    _release: threading.Event
    post_held: threading.Event

    if TYPE_CHECKING:

        def _check_mass_convert(self, org: str, payload: Any, version: str) -> Answer | None: ...

        def _add_lead_job(self, org: str, ids: list[str], deal: bool, now: float) -> str: ...

        def _truth(self, job: SimJob, t: float) -> JobTruth | None: ...

    def _authenticate(self, dc: str, headers: Any, now: float) -> tuple[AccessRecord | None, str]:
        """The live access token of the request (None if not), and its org label."""
        scheme, _, token = (headers.get("Authorization") or "").strip().partition(" ")
        with self._lock:
            acc = self._access.get(token.strip())
        if acc is None:
            return None, UNKNOWN_ORG
        live = scheme == "Zoho-oauthtoken" and not acc.revoked and acc.dc == dc
        return (acc if live and now < acc.expires_at else None), acc.org

    def _guard(self, acc: AccessRecord | None, scope: str) -> Answer | None:
        if acc is None:
            return error_answer("INVALID_TOKEN")
        if not scope_covers(acc.scopes, scope):
            return error_answer("OAUTH_SCOPE_MISMATCH")
        if self._orgs[acc.org].no_permission:
            return error_answer("NO_PERMISSION")
        return None

    def _spend_credit(self, org: str, credits: int = 1) -> tuple[bool, dict[str, str]]:
        """(enough credits left for this call, headers to add); always True when unmetered."""
        if self.faults.credits_remaining is None:
            return True, {}
        with self._lock:
            left = self._credits.setdefault(org, self.faults.credits_remaining)
            if left >= credits:
                left = self._credits[org] = left - credits
                return True, {"X-API-CREDITS-REMAINING": str(left)}
        return False, {"X-API-CREDITS-REMAINING": str(left)}

    def _crm_call(
        self,
        kind: str,
        dc: str,
        headers: Any,
        scope: str,
        work: Callable[[str, float], Answer],
        *,
        credits: int = 1,
        subject: str | None = None,
    ) -> tuple[Answer, Any]:
        """One CRM request: token, scope and permission, the org's concurrency cap and
        credits, then ``work(org, now)``; recorded in :attr:`stats` as ``kind``.

        Returns ``(answer, done)``; ``done`` leaves the org's calls in flight after the
        answer was written.
        """
        now = self.clock.time()
        acc, org = self._authenticate(dc, headers, now)
        answer, done = self._guard(acc, scope), None
        if answer is None:
            with self._lock:
                self._in_flight[org] += 1
                n = self._in_flight[org]
            self.stats.saw_in_flight(org, n)
            done = functools.partial(self._leave, org)
            try:
                answer = self._paid(org, n, credits, lambda: work(org, now))
            except BaseException:
                done()
                raise
        code = None if answer.reset else answer.status
        self.stats.record(now, kind, org, answer.subject or subject, code)
        return answer, done

    def _paid(self, org: str, in_flight: int, credits: int, work: Callable[[], Answer]) -> Answer:
        """``work()`` within the org's concurrency cap and API credits (429 beyond)."""
        cap = self._orgs[org].concurrency_cap
        if cap is not None and in_flight > cap:
            return error_answer("TOO_MANY_REQUESTS", message="concurrency limit exceeded")
        paid, headers = self._spend_credit(org, credits)
        answer = (
            work() if paid else error_answer("TOO_MANY_REQUESTS", message="API credits exhausted")
        )
        answer.headers.update(headers)
        return answer

    def _leave(self, org: str) -> None:
        with self._lock:
            self._in_flight[org] -= 1

    def _status_endpoint(self, dc: str, query: dict, headers: Any) -> tuple[Answer, Any]:
        job_id = query.get("job_id", [""])[0].strip()

        def work(org: str, now: float) -> Answer:
            if not job_id:
                return error_answer("REQUIRED_PARAM_MISSING")
            return self._status_faulted(org, job_id, now)

        return self._crm_call("status", dc, headers, READ_SCOPE, work, subject=job_id or None)

    def _next_scripted(self, job_id: str) -> str | None:
        with self._lock:
            names = self.faults.script.get(job_id) or []
            i = self._script_pos[job_id]
            if i >= len(names):
                return None
            self._script_pos[job_id] = i + 1
            return names[i]

    def _status_faulted(self, org: str, job_id: str, now: float) -> Answer:
        fault = self._next_scripted(job_id)
        if fault in _SCRIPTED_ERRORS:
            return error_answer(_SCRIPTED_ERRORS[fault])
        if fault == "503":
            return error_answer("INTERNAL_ERROR", status=503, message="Service Unavailable")
        if fault == "reset":
            return Answer(0, reset=True)
        if fault == "html":
            return Answer(200, _HTML, "text/html;charset=UTF-8")
        if fault == "204":
            return Answer(204, content_type="")
        if fault == "missing_data":
            return json_answer(200, {"info": {}})
        if fault is None and (self.faults.rate_5xx or self.faults.rate_429):
            with self._lock:
                r = self._rng.random()
            if r < self.faults.rate_5xx:
                return error_answer("INTERNAL_ERROR")
            if r < self.faults.rate_5xx + self.faults.rate_429:
                return error_answer("TOO_MANY_REQUESTS")
        return self._job_answer(org, job_id, now, fault)

    def _job_answer(self, org: str, job_id: str, now: float, fault: str | None) -> Answer:
        job = self._jobs.get(job_id)
        truth = self._truth(job, now) if job is not None and job.org == org else None
        if job is None or truth is None:  # unknown, another org's, or not created yet
            return error_answer("INVALID_DATA")
        with self._lock:
            if fault == "backwards":
                truth = job.counts("in progress", self._last_processed.get(job_id, 0) // 2)
            else:
                self._last_processed[job_id] = truth.processed
            word = self._word(truth.status) if fault != "unknown_status" else "PAUSED"
        answer = json_answer(200, {"data": [self._data_item(truth, word)]})
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

    def _schedule_endpoint(
        self, dc: str, version: str, headers: Any, body: bytes
    ) -> tuple[Answer, Any]:
        def work(org: str, now: float) -> Answer:
            answer, job_id = self._schedule_faulted(org, version, body, now)
            answer.subject = job_id  # logged even when the answer is a fault
            return answer

        return self._crm_call("schedule", dc, headers, CREATE_SCOPE, work)

    def _next_post_fault(self) -> str | None:
        with self._lock:
            i = self._post_pos
            if i >= len(self.faults.post_script):
                return None
            self._post_pos = i + 1
            return self.faults.post_script[i]

    def _schedule_faulted(
        self, org: str, version: str, body: bytes, now: float
    ) -> tuple[Answer, str | None]:
        fault = self._next_post_fault()
        if fault in ("429", "500"):
            return error_answer(_SCRIPTED_ERRORS[fault]), None
        if fault == "reset":
            return Answer(0, reset=True), None
        answer, job_id = self._schedule_checked(org, version, body, now)
        if job_id is None or fault in (None, "ok"):
            return answer, job_id
        if fault == "post_500_after_create":
            return error_answer("INTERNAL_ERROR"), job_id
        if fault == "post_timeout_after_create":
            answer.delay_s += self.faults.post_hold_s
        else:  # post_hang_after_create
            answer.hold = self._release
            self.post_held.set()
        return answer, job_id

    def _schedule_checked(
        self, org: str, version: str, body: bytes, now: float
    ) -> tuple[Answer, str | None]:
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:  # includes UnicodeDecodeError
            not_json = "the body is not valid JSON"
            return error_answer("INVALID_DATA", message=not_json, details={}), None
        refused = self._check_mass_convert(org, payload, version)
        if refused is not None:
            return refused, None
        ids = [str(x) for x in payload["ids"]]
        job_id = self._add_lead_job(org, ids, bool(payload.get("Deals")), now)
        return json_answer(
            200,
            {
                "code": "SCHEDULED",
                "details": {"job_id": job_id},
                "message": "Mass Convert scheduled successfully",
                "status": "success",
            },
        ), job_id
