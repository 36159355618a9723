"""The simulator's Zoho CRM side: mass-convert status and schedule endpoints, with faults.

:class:`CrmMixin`, inherited by :class:`~zcrm_notebook.simulator.Simulator`, answers
``GET .../Leads/actions/mass_convert?job_id=...`` (Zoho CRM "Get Status of Mass Convert
Lead", mass-convert-status.html) and ``POST`` on the same path ("Mass Convert Lead",
mass-convert-lead.html) in Zoho's documented words and shapes (``docs/zoho-api.md``; errors
from :mod:`zcrm_notebook.simulator.zoho_errors`): it checks the ``Authorization`` header
(missing or garbled: 401 ``AUTHENTICATION_FAILURE``) and the access token issued by
:mod:`zcrm_notebook.simulator.accounts` (unknown, expired, revoked, invalidated or of
another data center: 401 ``INVALID_TOKEN``), scope and permission, the org's concurrency
cap and API credits (:meth:`CrmMixin._crm_call`, which the lead endpoints of
:mod:`zcrm_notebook.simulator.leads` go through too), then applies the
:class:`~zcrm_notebook.simulator.scenario.Faults` (scripted faults per job, random 5xx/429,
status casing; the POST's script: no job, or a job whose answer is lost) to the job's true
state. Every answer a fault shaped carries the fault's name (``Answer.fault``). Standard
library only.
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
_HTML_503 = b"<html><head><title>503 Service Unavailable</title></head><body></body></html>"
_JOB_ID = {"param_name": "job_id"}
_SCRIPTED_ERRORS: dict[str, tuple[str, dict | None]] = {
    "429": ("TOO_MANY_REQUESTS", None),
    "500": ("INTERNAL_ERROR", None),
    "404": ("INVALID_URL_PATTERN", None),
    "invalid_token": ("INVALID_TOKEN", None),
    "auth_failure": ("AUTHENTICATION_FAILURE", None),
    "scope_mismatch": ("OAUTH_SCOPE_MISMATCH", None),
    "no_permission": ("NO_PERMISSION", None),
    "invalid_data": ("INVALID_DATA", _JOB_ID),
    "required_param_missing": ("REQUIRED_PARAM_MISSING", {**_JOB_ID, "param": "job_id"}),
}
SCHEDULED_MESSAGE = "Mass Convert scheduled successfully"
"""The POST's success message (mass-convert-lead.html v7 sample)."""
#: Status words in the documented case of Zoho's sample answer (``"COMPLETED"``), keyed by
#: the simulator's canonical lower-case word (the case of the page's list).
DOCUMENTED_WORDS = {w: w.upper() for w in ("scheduled", "in progress", "completed", "failed")}
_WILD = {  # casings seen on sibling endpoints or in other clients, UNDOCUMENTED here
    "scheduled": ("Scheduled",),
    "in progress": ("In Progress", "IN_PROGRESS", "RUNNING"),
    "completed": ("Completed",),
    "failed": ("Failed",),
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

    def _authenticate(self, dc: str, headers: Any, now: float) -> tuple[AccessRecord | str, str]:
        """The live access token of the request, or the code of the 401 to answer, and the
        org label.

        No header, another scheme than ``Zoho-oauthtoken`` or no token: Zoho's
        ``AUTHENTICATION_FAILURE`` ("pass the access token in the request header"); a
        token that is unknown, expired, revoked, invalidated or of another data center:
        ``INVALID_TOKEN``.
        """
        scheme, _, token = (headers.get("Authorization") or "").strip().partition(" ")
        if scheme != "Zoho-oauthtoken" or not token.strip():
            return "AUTHENTICATION_FAILURE", UNKNOWN_ORG
        with self._lock:
            acc = self._access.get(token.strip())
        if acc is None:
            return "INVALID_TOKEN", UNKNOWN_ORG
        live = not acc.revoked and acc.dc == dc and now < acc.expires_at
        return (acc if live else "INVALID_TOKEN"), acc.org

    def _guard(self, acc: AccessRecord | str, scope: str) -> Answer | None:
        if isinstance(acc, str):
            return error_answer(acc)
        if not scope_covers(acc.scopes, scope):
            return error_answer("OAUTH_SCOPE_MISMATCH")
        if self._orgs[acc.org].no_permission:
            return error_answer("NO_PERMISSION")
        return None

    def _spend_credit(self, org: str, credits: int = 1) -> tuple[bool, dict[str, str]]:
        """(enough credits left for this call, headers to add); always True when unmetered.

        The ``X-API-CREDITS-REMAINING`` header only with ``Faults.credits_header``
        (UNDOCUMENTED)."""
        if self.faults.credits_remaining is None:
            return True, {}
        with self._lock:
            left = self._credits.setdefault(org, self.faults.credits_remaining)
            paid = left >= credits
            if paid:
                left = self._credits[org] = left - credits
        header = {"X-API-CREDITS-REMAINING": str(left)} if self.faults.credits_header else {}
        return paid, header

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
        credits, then ``work(org, now)``; recorded in :attr:`stats` as ``kind`` (with
        ``answer.subject``, else ``subject``).

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
            return error_answer("TOO_MANY_REQUESTS")  # the concurrency limit
        paid, headers = self._spend_credit(org, credits)
        answer = work() if paid else error_answer("TOO_MANY_REQUESTS")  # the 24-hour credits
        answer.headers.update(headers)
        return answer

    def _leave(self, org: str) -> None:
        with self._lock:
            self._in_flight[org] -= 1

    def _status_endpoint(self, dc: str, query: dict, headers: Any) -> tuple[Answer, Any]:
        job_id = query.get("job_id", [""])[0].strip()

        def work(org: str, now: float) -> Answer:
            if not job_id:
                return error_answer("REQUIRED_PARAM_MISSING", {**_JOB_ID, "param": "job_id"})
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
        answer = self._scripted_answer(fault) if fault else None
        if answer is None and fault is None:
            answer = self._random_fault()
        if answer is None:
            answer = self._job_answer(org, job_id, now, fault)
        if fault and fault != "ok" and not answer.fault:  # a wild casing drawn stays named
            answer.fault = fault
        return answer

    @staticmethod
    def _scripted_answer(fault: str) -> Answer | None:
        """The answer of a scripted fault that replaces the job's answer (None: it shapes it)."""
        if fault in _SCRIPTED_ERRORS:
            return error_answer(*_SCRIPTED_ERRORS[fault])
        if fault == "503":
            return Answer(503, _HTML_503, "text/html;charset=UTF-8")
        if fault == "reset":
            return Answer(0, reset=True)
        if fault == "html":
            return Answer(200, _HTML, "text/html;charset=UTF-8")
        if fault == "204":
            return Answer(204, content_type="")
        if fault == "missing_data":
            return json_answer(200, {"info": {}})
        return None

    def _random_fault(self) -> Answer | None:
        """500 or 429 at the rates of :class:`Faults` (None when neither is drawn)."""
        if not (self.faults.rate_5xx or self.faults.rate_429):
            return None
        with self._lock:
            r = self._rng.random()
        for name, code, upto in (
            ("rate_5xx", "INTERNAL_ERROR", self.faults.rate_5xx),
            ("rate_429", "TOO_MANY_REQUESTS", self.faults.rate_5xx + self.faults.rate_429),
        ):
            if r < upto:
                answer = error_answer(code)
                answer.fault = name
                return answer
        return None

    def _job_answer(self, org: str, job_id: str, now: float, fault: str | None) -> Answer:
        job = self._jobs.get(job_id)
        truth = self._truth(job, now) if job is not None and job.org == org else None
        if job is None or truth is None:  # unknown, another org's, or not created yet
            return error_answer("INVALID_DATA", _JOB_ID)
        with self._lock:
            if fault == "backwards":
                truth = job.counts("in progress", self._last_processed.get(job_id, 0) // 2)
            else:
                self._last_processed[job_id] = truth.processed
            word = self._word(truth.status) if fault != "unknown_status" else "PAUSED"
        answer = json_answer(200, {"data": [self._data_item(truth, word)]})
        if word not in (truth.status, DOCUMENTED_WORDS[truth.status], "PAUSED"):
            answer.fault = "status_casing"  # a wild casing was drawn
        if fault == "truncated":
            answer.body = answer.body[: len(answer.body) // 2]
        if fault == "slow":
            answer.delay_s += self.faults.slow_s
        return answer

    def _word(self, status: str) -> str:
        """``status`` (canonical lower case) in the case of :attr:`Faults.status_casing`."""
        casing = self.faults.status_casing
        if casing is True or casing == "wild":
            with self._lock:
                return self._rng.choice((status, DOCUMENTED_WORDS[status], *_WILD[status]))
        return status if casing == "lower" else DOCUMENTED_WORDS[status]

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
        """The POST's answer after :attr:`Faults.post_script`: no job, or a job whose
        answer is lost (500, held past the client's timeout, held until released)."""
        fault = self._next_post_fault()
        if fault in ("429", "500", "reset"):
            answer = (
                Answer(0, reset=True)
                if fault == "reset"
                else error_answer(_SCRIPTED_ERRORS[fault][0])
            )
            answer.fault = fault
            return answer, None
        answer, job_id = self._schedule_checked(org, version, body, now)
        if job_id is None or fault in (None, "ok"):
            return answer, job_id
        if fault == "post_500_after_create":
            answer = error_answer("INTERNAL_ERROR")
        elif fault == "post_timeout_after_create":
            answer.delay_s += self.faults.post_hold_s
        else:  # post_hang_after_create
            answer.hold = self._release
            self.post_held.set()
        answer.fault = fault
        return answer, job_id

    def _schedule_checked(
        self, org: str, version: str, body: bytes, now: float
    ) -> tuple[Answer, str | None]:
        """Zoho's answer to a mass-convert POST body (mass-convert-lead.html v7, OAS
        ``mass_convert.json``; the checks are :mod:`~zcrm_notebook.simulator.leads`'); the
        ``json_path`` index form ``$.ids[0]`` is UNVERIFIED."""
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:  # includes UnicodeDecodeError
            missing = error_answer("MANDATORY_NOT_FOUND", {"api_name": "ids", "json_path": "$.ids"})
            missing.fault = "body_not_json"  # UNDOCUMENTED: what Zoho answers is not known
            return missing, None
        refused = self._check_mass_convert(org, payload, version)
        if refused is not None:
            return refused, None
        ids = [str(x) for x in payload["ids"]]
        job_id = self._add_lead_job(org, ids, bool(payload.get("Deals")), now)
        return json_answer(
            self.faults.schedule_status,
            {
                "code": "SCHEDULED",
                "details": {"job_id": job_id},
                "message": SCHEDULED_MESSAGE,
                "status": "success",
            },
        ), job_id
