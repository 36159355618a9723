"""Request counters of the simulator: what it was asked and what it answered.

:class:`SimStats` is thread-safe and hands out copies only; the endpoints of
:mod:`zcrm_notebook.simulator.accounts` and :mod:`~zcrm_notebook.simulator.crm` record
into it. Standard library only; tokens and secrets are never recorded.
"""

from __future__ import annotations

import threading
from collections import Counter

UNKNOWN_ORG = "(unknown)"
"""Org label in :class:`SimStats` for a request that cannot be tied to an org."""


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
    schedule_requests, records_requests, convert_requests : Counter
        ``org -> mass-convert POSTs / Get Records calls / single converts`` (any answer).
    max_in_flight : Counter
        ``org -> most authenticated CRM calls in flight at once`` (those answered 429
        because of the cap included).
    answers : Counter
        ``(org, http_status) -> CRM answers`` (every CRM call; status ``None`` for a reset
        connection). Token answers are not counted here.
    log : list of tuple
        ``(sim_time, kind, org, subject, http_status)`` per request, kind in ``token``,
        ``status``, ``schedule``, ``records``, ``convert``, ``revoke``; the subject is the
        job id (status, schedule) or the lead id (convert), else None.
    """

    _NAMES = (
        "token_requests",
        "token_requests_by_grant",
        "status_requests",
        "requests_by_job",
        "schedule_requests",
        "records_requests",
        "convert_requests",
        "max_in_flight",
        "answers",
    )
    _CRM_KINDS = ("status", "schedule", "records", "convert")

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
    schedule_requests = property(lambda self: self._get("schedule_requests"))
    records_requests = property(lambda self: self._get("records_requests"))
    convert_requests = property(lambda self: self._get("convert_requests"))
    max_in_flight = property(lambda self: self._get("max_in_flight"))
    answers = property(lambda self: self._get("answers"))

    @property
    def log(self) -> list[tuple[float, str, str, str | None, int | None]]:
        """Copy of the request log (see the class docstring)."""
        with self._lock:
            return list(self._log)

    def record(
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
            elif kind in self._CRM_KINDS:
                self._c[f"{kind}_requests"][org] += 1
            if kind in self._CRM_KINDS:
                self._c["answers"][(org, status)] += 1

    def saw_in_flight(self, org: str, n: int) -> None:
        with self._lock:
            self._c["max_in_flight"][org] = max(self._c["max_in_flight"][org], n)
