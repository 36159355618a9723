"""The simulator's leads: records per org, who converts them when, and their endpoints.

:class:`Timeline` replays the conversions in time order: every job scheduled by the
mass-convert POST converts its leads one by one (:meth:`SimJob.processed_at`), each
single convert at the moment it was asked. A lead converts once: a job that reaches a lead
converted already, deleted, or with a problem (:data:`LEAD_PROBLEMS`) fails it, and the
job's counts follow (``Converted_Count`` is the number of leads it converted). The
timeline is a pure function of the jobs, single converts and deletions, rebuilt when one
of them changes, so every answer at simulated time ``t`` is a function of ``t``.

:class:`LeadsMixin`, inherited by :class:`~zcrm_notebook.simulator.Simulator`, holds the
leads and serves, with Zoho's wire format (``docs/zoho-api.md``):

- the checks of ``POST .../Leads/actions/mass_convert`` ("Mass Convert Lead"): ids
  present, at most 50, digits, leads of this org; ``Deals`` with ``Deal_Name``, ``Stage``,
  ``Closing_Date`` (and ``Pipeline`` when the org has pipelines); ``assign_to``,
  ``related_modules``; ``apply_assignment_threshold`` only on v8;
- ``GET .../Leads?ids=..&fields=..&converted=..`` ("Get Records"): ``converted`` false by
  default (converted leads hidden), ``true``, ``both``; ``fields`` required; 204 when
  nothing matches; conversion fields and lookups ``{name, id}`` (the deal null when none
  was made);
- ``POST .../Leads/{id}/actions/convert`` ("Convert Lead", 5 credits): the lead's error,
  or it converts the lead now.

Standard library only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from ..api.endpoints import API_VERSIONS, CONVERT_RECORD, GET_RECORDS
from .scenario import JobTruth, SimClock, SimJob, SimLead, SimOrg
from .server import MAX_IDS, Answer, error_answer, json_answer

__all__ = ["Conversion", "Timeline", "LeadsMixin", "DEAL_KEYS", "MAX_READ_IDS"]

#: Keys a ``Deals`` object must have (``Pipeline`` too when the org has pipelines).
DEAL_KEYS = ("Deal_Name", "Stage", "Closing_Date")
#: Most ids one Get Records call takes here (Zoho documents none: ``docs/zoho-api.md``).
MAX_READ_IDS = 100
#: The mandatory Deals field a lead with problem MANDATORY_NOT_FOUND cannot fill.
_LEAD_DEAL_FIELD = "Amount"
_RELATED = ("Tasks", "Events", "Calls")
#: UTC offset of the times each data center's sample org writes (Zoho writes local times).
_OFFSETS = {"us": -7.0, "eu": 1.0, "in": 5.5, "au": 10.0, "jp": 9.0, "cn": 8.0, "ca": -5.0}
READ_LEADS_SCOPE = GET_RECORDS.scopes[0]
CONVERT_LEADS_SCOPE = CONVERT_RECORD.scopes[0]


class Conversion(NamedTuple):
    """How a lead was converted: when, by which job (or ``"single"``), with a deal or not."""

    at: float
    by: str
    deal: bool


class Timeline:
    """Every conversion of the simulated leads, replayed in time order (pure).

    Parameters
    ----------
    leads : mapping lead id -> SimLead
    jobs : iterable of SimJob
        Jobs with ``lead_ids`` (others are ignored).
    singles : mapping lead id -> (time, deal)
        Successful single converts.
    deleted : mapping lead id -> time
        When leads were deleted.

    Attributes
    ----------
    converted : dict of str to Conversion
        Per lead, its conversion (possibly in the future of the clock).
    failed : dict of str to list of bool
        Per job id, per lead position: True when the job fails that lead.
    reprocessed : Counter
        Lead id -> times a job reached it after it had been converted (a lead sent again
        while its first conversion was still to come or done: what a careful client never
        causes).
    """

    def __init__(
        self,
        leads: Mapping[str, SimLead],
        jobs: Iterable[SimJob],
        singles: Mapping[str, tuple[float, bool]],
        deleted: Mapping[str, float],
    ) -> None:
        self.converted: dict[str, Conversion] = {
            lead: Conversion(t, "single", deal) for lead, (t, deal) in singles.items()
        }
        self.failed: dict[str, list[bool]] = {}
        self.reprocessed: Counter = Counter()
        events = []
        for job in jobs:
            if not job.lead_ids:
                continue
            self.failed[job.job_id] = [True] * job.total
            for i, lead in enumerate(job.lead_ids):
                at = job.processed_at(i)
                if at is not None:
                    events.append((at, job.created_at or 0.0, job.job_id, i, lead, job.deal))
        for at, _, job_id, i, lead, deal in sorted(events):
            done = self.converted.get(lead)
            if done is not None and done.at <= at:
                self.reprocessed[lead] += 1
            elif lead in deleted and deleted[lead] <= at:
                continue
            elif leads[lead].blocked(deal) is None:
                self.failed[job_id][i] = False
                self.converted[lead] = Conversion(at, job_id, deal)

    def converted_at(self, lead_id: str, t: float) -> Conversion | None:
        """The lead's conversion if it happened by simulated time ``t``."""
        done = self.converted.get(lead_id)
        return done if done is not None and done.at <= t else None

    def job_truth(self, job: SimJob, t: float) -> JobTruth | None:
        """The counts of a lead job at ``t``: processed leads in order, failures by lead."""
        truth = job.truth(t)
        if truth is None or not job.lead_ids:
            return truth
        times = [job.processed_at(i) for i in range(job.total)]
        done = [i for i, at in enumerate(times) if at is not None and at <= t]
        if truth.status == "failed":  # the leads never reached count as failed
            done = list(range(job.total))
        failed = sum(self.failed[job.job_id][i] for i in done)
        return JobTruth(truth.status, job.total, len(done) - failed, job.total - len(done), failed)


def derived_id(kind: str, lead_id: str) -> str:
    """A stable 19-digit id for the contact / account / deal made from ``lead_id``."""
    digest = int(hashlib.sha256(f"{kind}:{lead_id}".encode()).hexdigest(), 16)
    return str(10**18 + digest % (9 * 10**18))


def _zoho_time(t: float, dc: str) -> str:
    """``2026-01-01T05:30:00+05:30``: Zoho's date-time, in the DC's sample offset."""
    tz = timezone(timedelta(hours=_OFFSETS.get(dc, 0.0)))
    return datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


def _invalid(path: str, api_name: str, **extra: Any) -> Answer:
    return error_answer("INVALID_DATA", {"api_name": api_name, "json_path": path, **extra})


def _missing(api_name: str, path: str) -> Answer:
    return error_answer("MANDATORY_NOT_FOUND", {"api_name": api_name, "json_path": path})


def _expected(fields: list[tuple[str, str]]) -> Answer:
    details = {"expected_fields": [{"api_name": a, "json_path": p} for a, p in fields]}
    return error_answer("EXPECTED_FIELD_MISSING", details)


def _is_digits(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, str) and value.isascii() and value.isdigit()) or (
        isinstance(value, int) and value > 0
    )


class LeadsMixin:
    """Leads of :class:`~zcrm_notebook.simulator.Simulator` and their endpoints.

    Uses the simulator's clock, lock, orgs and jobs (set up by ``Simulator.__init__``).
    """

    clock: SimClock
    _lock: threading.RLock
    _orgs: dict[str, SimOrg]
    _jobs: dict[str, SimJob]
    _leads: dict[str, SimLead]
    _singles: dict[str, tuple[float, bool]]
    _deleted: dict[str, float]
    _timeline_cache: Timeline | None

    if TYPE_CHECKING:

        def _org(self, org: str) -> SimOrg: ...

        def _new_job_id(self) -> str: ...

        def _add_job(self, job: SimJob) -> SimJob: ...

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
        ) -> tuple[Answer, Any]: ...

    # -- public -----------------------------------------------------------------------

    def add_leads(self, leads: Iterable[SimLead]) -> None:
        """Add lead records (ids unique across orgs).

        Raises
        ------
        ValueError
            A lead of an unknown org or an id already held.
        """
        with self._lock:
            for lead in leads:
                if lead.org not in self._orgs:
                    raise ValueError(f"lead {lead.lead_id}: unknown org {lead.org!r}")
                if lead.lead_id in self._leads:
                    raise ValueError(f"duplicate lead id {lead.lead_id}")
                self._leads[lead.lead_id] = lead
            self._timeline_cache = None

    @property
    def leads(self) -> dict[str, SimLead]:
        """Copy of ``lead_id -> SimLead`` for every lead held (deleted ones included)."""
        with self._lock:
            return dict(self._leads)

    def lead_ids(self, org: str | None = None) -> list[str]:
        """Ids of the leads not deleted, in the order added, optionally of one org.

        Raises
        ------
        KeyError
            For an unknown org.
        """
        if org is not None:
            self._org(org)
        with self._lock:
            return [
                i
                for i, lead in self._leads.items()
                if i not in self._deleted and (org is None or lead.org == org)
            ]

    def write_leads_csv(self, path: str | os.PathLike) -> None:
        """Write the leads not deleted as CSV with header ``lead_id,org`` (for ``convert``)."""
        with self._lock:
            rows = [(i, self._leads[i].org) for i in self.lead_ids()]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["lead_id", "org"])
            writer.writerows(rows)

    def delete_lead(self, lead_id: str) -> None:
        """Delete a lead now: Get Records no longer has it, a POST naming it is refused.

        Raises
        ------
        KeyError
            For a lead the simulator does not hold.
        """
        with self._lock:
            if lead_id not in self._leads:
                raise KeyError(f"unknown lead {lead_id!r}")
            self._deleted.setdefault(lead_id, self.clock.time())
            self._timeline_cache = None

    def lead_state(self, lead_id: str, t: float | None = None) -> dict[str, Any]:
        """The truth about one lead at simulated time ``t`` (default now).

        Returns
        -------
        dict
            ``converted`` (bool), ``converted_at`` (float or None), ``by`` (job id,
            ``"single"`` or None), ``contact_id``, ``account_id``, ``deal_id`` (str or None),
            ``deleted`` (bool), ``jobs`` (ids of every job that holds the lead).
        """
        now = self.clock.time() if t is None else t
        with self._lock:
            lead = self._leads[lead_id]
            done = self._timeline().converted_at(lead_id, now)
            jobs = [j.job_id for j in self._jobs.values() if lead_id in j.lead_ids]
            deleted = lead_id in self._deleted and self._deleted[lead_id] <= now
        ids = self._made_ids(lead, done)
        return {
            "converted": done is not None,
            "converted_at": None if done is None else done.at,
            "by": None if done is None else done.by,
            **{f"{k}_id": (v or {}).get("id") for k, v in ids.items()},
            "deleted": deleted,
            "jobs": jobs,
        }

    def reprocessed_leads(self) -> Counter:
        """Lead id -> times a job reached the lead after it was converted (all time)."""
        with self._lock:
            return Counter(self._timeline().reprocessed)

    # -- the timeline -----------------------------------------------------------------

    def _timeline(self) -> Timeline:
        with self._lock:
            if self._timeline_cache is None:
                self._timeline_cache = Timeline(
                    self._leads, self._jobs.values(), self._singles, self._deleted
                )
            return self._timeline_cache

    def _truth(self, job: SimJob, t: float) -> JobTruth | None:
        """The job's status and counts at ``t`` (a lead job's counts follow its leads)."""
        if not job.lead_ids:
            return job.truth(t)
        return self._timeline().job_truth(job, t)

    def _add_lead_job(self, org: str, ids: list[str], deal: bool, now: float) -> str:
        """A job converting ``ids`` (of ``org``), created now, timed by ``post_timing``
        (by count only when the org holds no lead records)."""
        with self._lock:
            queue_s, rate = self._post_timing()
            held = any(lead.org == org for lead in self._leads.values())
            job = SimJob(
                self._new_job_id(),
                org,
                len(ids),
                queue_delay_s=queue_s,
                leads_per_s=rate,
                created_at=now,
                lead_ids=tuple(ids) if held else (),  # an org without leads: by count
                deal=deal,
            )
            self._add_job(job)
            self._timeline_cache = None
        return job.job_id

    def _post_timing(self) -> tuple[float, float]:  # pragma: no cover - Simulator defines it
        raise NotImplementedError

    def _made_ids(self, lead: SimLead, done: Conversion | None) -> dict[str, dict | None]:
        """The ``{name, id}`` lookups of what converting ``lead`` made (None before)."""
        if done is None:
            return {"contact": None, "account": None, "deal": None}
        return {
            "contact": {"name": lead.name, "id": derived_id("contact", lead.lead_id)},
            "account": (
                {"name": f"{lead.name} Inc", "id": derived_id("account", lead.lead_id)}
                if lead.company
                else None
            ),
            "deal": (
                {"name": f"Deal of {lead.name}", "id": derived_id("deal", lead.lead_id)}
                if done.deal
                else None
            ),
        }

    # -- mass-convert POST checks -----------------------------------------------------

    def _check_mass_convert(self, org: str, payload: Any, version: str) -> Answer | None:
        """Zoho's refusal of a mass-convert body, or None when it may be scheduled."""
        if not isinstance(payload, dict):
            return _invalid("$", "ids", expected_data_type="jsonobject")
        return (
            self._check_ids(org, payload.get("ids"))
            or self._check_deals(org, payload)
            or self._check_assign_to(org, payload)
            or self._check_related(payload.get("related_modules"))
            or self._check_threshold(payload, version)
        )

    def _check_ids(self, org: str, ids: object) -> Answer | None:
        if ids in (None, [], ""):
            return _missing("ids", "$.ids")
        if not isinstance(ids, list):
            return _invalid("$.ids", "ids", expected_data_type="jsonarray")
        if len(ids) > MAX_IDS:
            due = [{"api_name": "ids", "json_path": "$.ids"}]
            return error_answer("LIMIT_EXCEEDED", {"limit": MAX_IDS, "limit_due_to": due})
        for i, value in enumerate(ids):
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                return _invalid(f"$.ids[{i}]", "ids", expected_data_type="long")
            if not _is_digits(value):
                return _invalid(f"$.ids[{i}]", "ids")
        with self._lock:
            if not any(lead.org == org for lead in self._leads.values()):
                return None  # an org without lead records: jobs by count only
            for i, value in enumerate(ids):
                lead = self._leads.get(str(value))
                if lead is None or lead.org != org or str(value) in self._deleted:
                    return _invalid(f"$.ids[{i}]", "ids")
        return None

    def _check_deals(self, org: str, payload: dict) -> Answer | None:
        if "Deals" not in payload:
            return None
        deals = payload["Deals"]
        if not isinstance(deals, dict):
            return _invalid("$.Deals", "Deals", expected_data_type="jsonobject")
        keys = DEAL_KEYS + (("Pipeline",) if self._orgs[org].pipelines else ())
        for key in keys:
            if deals.get(key) in (None, ""):
                return _missing(key, f"$.Deals.{key}")
        return None

    def _check_assign_to(self, org: str, payload: dict) -> Answer | None:
        if "assign_to" not in payload:
            return None
        user = payload["assign_to"]
        if not isinstance(user, dict) or "id" not in user:
            return _expected([("id", "$.assign_to.id")])
        users = self._orgs[org].users
        if not _is_digits(user["id"]) or (users and str(user["id"]) not in users):
            return _invalid("$.assign_to.id", "id")
        return None

    @staticmethod
    def _check_related(related: object) -> Answer | None:
        if related is None:
            return None
        if not isinstance(related, list):
            return _invalid("$.related_modules", "related_modules", expected_data_type="jsonarray")
        for i, item in enumerate(related):
            where = f"$.related_modules[{i}]"
            if not isinstance(item, dict) or not {"api_name", "id"} <= set(item):
                return _expected([("id", f"{where}.id"), ("api_name", f"{where}.api_name")])
            if item["api_name"] not in _RELATED or not _is_digits(item["id"]):
                due = [
                    {"api_name": "id", "json_path": f"{where}.id"},
                    {"api_name": "api_name", "json_path": f"{where}.api_name"},
                ]
                return error_answer("AMBIGUITY_DURING_PROCESSING", {"ambiguity_due_to": due})
        return None

    @staticmethod
    def _check_threshold(payload: dict, version: str) -> Answer | None:
        if "apply_assignment_threshold" not in payload:
            return None
        path = "$.apply_assignment_threshold"
        if version != API_VERSIONS[-1]:  # v8 only (OAS Body_Wrapper, SDK)
            return _invalid(path, "apply_assignment_threshold")
        if not isinstance(payload["apply_assignment_threshold"], bool):
            return _invalid(path, "apply_assignment_threshold", expected_data_type="boolean")
        return None

    # -- Get Records ------------------------------------------------------------------

    def _records_endpoint(self, dc: str, query: dict, headers: Any) -> tuple[Answer, Any]:
        def work(org: str, now: float) -> Answer:
            return self._records(org, query, now)

        return self._crm_call("records", dc, headers, READ_LEADS_SCOPE, work)

    def _records(self, org: str, query: dict, now: float) -> Answer:
        fields = [f for f in query.get("fields", [""])[0].split(",") if f.strip()]
        if not fields:
            return error_answer("REQUIRED_PARAM_MISSING", {"param_name": "fields"})
        if len(fields) > 50:
            return error_answer("LIMIT_EXCEEDED", {}, message="Max field limit exceeded")
        converted = query.get("converted", ["false"])[0].strip().lower()
        if converted not in ("false", "true", "both"):
            return error_answer("INVALID_DATA", {"param_name": "converted"})
        ids = [i.strip() for i in query.get("ids", [""])[0].split(",") if i.strip()]
        if len(ids) > MAX_READ_IDS:  # Zoho documents no limit: the project's 100 (UNVERIFIED)
            return error_answer("LIMIT_EXCEEDED", {})
        with self._lock:
            found = [self._leads[i] for i in ids or self._leads if i in self._leads]
            found = [
                lead for lead in found if lead.org == org and lead.lead_id not in self._deleted
            ]
            timeline = self._timeline()
        records = []
        for lead in found:
            done = timeline.converted_at(lead.lead_id, now)
            if converted == "both" or (converted == "true") == (done is not None):
                records.append(self._record(lead, done, fields))
        if not records:
            return Answer(204, content_type="")
        info = {"per_page": 200, "count": len(records), "page": 1, "more_records": False}
        return json_answer(200, {"data": records, "info": info})

    def _record(self, lead: SimLead, done: Conversion | None, fields: list[str]) -> dict:
        made = self._made_ids(lead, done)
        dc = self._orgs[lead.org].dc
        values = {
            "Last_Name": lead.name,
            "Full_Name": lead.name,
            "Converted__s": done is not None,
            "Converted_Date_Time": None if done is None else _zoho_time(done.at, dc),
            "Converted_Contact": made["contact"],
            "Converted_Account": made["account"],
            "Converted_Deal": made["deal"],
        }
        return {"id": lead.lead_id, **{f: values[f] for f in fields if f in values}}

    # -- the single convert -----------------------------------------------------------

    def _convert_endpoint(
        self, dc: str, record_id: str, headers: Any, body: bytes
    ) -> tuple[Answer, Any]:
        def work(org: str, now: float) -> Answer:
            return self._convert(org, record_id, body, now)

        return self._crm_call(
            "convert", dc, headers, CONVERT_LEADS_SCOPE, work, credits=5, subject=record_id
        )

    def _convert(self, org: str, lead_id: str, body: bytes, now: float) -> Answer:
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else {}
        except ValueError:
            return _invalid("$", "data", expected_data_type="jsonobject")
        items = payload.get("data") if isinstance(payload, dict) else None
        first = items[0] if isinstance(items, list) and items else None
        deals = first.get("Deals") if isinstance(first, dict) else None
        with self._lock:
            lead = self._leads.get(lead_id)
            if lead is None or lead.org != org or lead_id in self._deleted:
                return error_answer("INVALID_DATA", {"resource_path_index": 1})  # the URL's id
            if isinstance(deals, dict):
                for key in DEAL_KEYS:
                    if deals.get(key) in (None, ""):
                        return _in_data(_missing(key, f"$.data[0].Deals.{key}"))
            if self._timeline().converted_at(lead_id, now) is not None:
                return error_answer("ID_ALREADY_CONVERTED", {"resource_path_index": 1})
            problem = lead.blocked(bool(deals))
            if problem == "MANDATORY_NOT_FOUND":
                field = _LEAD_DEAL_FIELD
                return _in_data(_missing(field, f"$.data[0].Deals.{field}"))
            if problem == "DUPLICATE_DATA":
                duplicate = {"id": derived_id("duplicate", lead_id)}
                where = {"api_name": "Email", "json_path": "$.Email"}
                return error_answer(problem, {**where, "duplicate_record": duplicate})
            if problem is not None:
                return error_answer(problem)
            self._singles[lead_id] = (now, bool(deals))
            self._timeline_cache = None
            made = self._made_ids(lead, Conversion(now, "single", bool(deals)))
        details = {"Contacts": made["contact"], "Accounts": made["account"], "Deals": made["deal"]}
        success = {
            "code": "SUCCESS",
            "details": details,
            "message": "The record has been converted successfully",
            "status": "success",
        }
        return json_answer(200, {"data": [success]})


def _in_data(answer: Answer) -> Answer:
    """The same error answer with its envelope inside ``{"data": [...]}`` (OAS form)."""
    answer.body = json.dumps({"data": [json.loads(answer.body)]}).encode()
    return answer
