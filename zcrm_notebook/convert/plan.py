"""Planning a conversion: clean leads split into mass-convert jobs, and what they will cost.

:func:`plan_conversions` takes the leads (list, ``{org: [ids]}``, CSV or DataFrame; checked
by :func:`zcrm_notebook.inputs.leads.clean_leads`), the options and, when given, the ledger
of earlier runs, and returns a :class:`ConversionPlan`: chunks of at most 50 leads of one
org with the same options (balanced: 120 leads make 3 jobs of 40, which finish together),
the leads left out and why, and an :class:`Estimate` of the calls and API credits. Nothing
is sent: the plan is what a dry run prints. Zoho's limits are in ``docs/zoho-api.md``
("Mass convert POST", "API limits and credits").
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from ..api.conversion import MAX_IDS_PER_POST, MAX_IDS_PER_READ
from ..auth.credentials import OrgCredentials
from ..errors import ConfigError, LeadInputError
from ..inputs.ids import bad_rows_message
from ..inputs.leads import OVERRIDE_COLUMNS, clean_leads
from ..inputs.orgs import load_orgs
from .options import ConvertOptions

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = [
    "PlannedLead",
    "PlannedChunk",
    "Estimate",
    "ConversionPlan",
    "plan_conversions",
    "chunk_leads",
    "fingerprint",
    "CREDITS",
    "POLLS_PER_JOB",
    "NOT_CONVERTED_EARLIER",
    "left_out_text",
]

#: API credits of one call of each kind. Zoho documents 5 for the single convert and 1 for
#: a call "unless listed"; the mass-convert POST and status GET are not listed, so 1 each is
#: the project's assumption (UNVERIFIED, ``docs/zoho-api.md`` "API limits and credits").
CREDITS = {"post": 1, "status": 1, "records": 1, "convert": 5}
#: Status calls per job the default poll policy makes, on average: measured by
#: ``benchmarks/bench_convert.py`` on the simulator's jobs (quick ones; a long job costs
#: more, up to one call per ``max_interval_s``).
POLLS_PER_JOB = 6
#: The ``why`` of a lead left out because its earlier outcome is a final ``not_converted``.
NOT_CONVERTED_EARLIER = "not converted earlier"


class PlannedLead(NamedTuple):
    """One lead of a chunk: its id, its attempt (1, 2...) and the chunk it was last in."""

    lead_id: str
    attempt: int = 1
    parent_chunk: int | None = None


@dataclass(frozen=True)
class PlannedChunk:
    """One future mass-convert job: 1-50 leads of one org, with one set of options."""

    org: str
    dc: str
    leads: tuple[PlannedLead, ...]
    options: ConvertOptions

    @property
    def lead_ids(self) -> tuple[str, ...]:
        return tuple(lead.lead_id for lead in self.leads)

    @property
    def attempt(self) -> int:
        """The highest attempt among its leads."""
        return max(lead.attempt for lead in self.leads)


@dataclass(frozen=True)
class Estimate:
    """Calls and API credits a plan will cost, per kind of call.

    Attributes
    ----------
    jobs, leads : int
        Mass-convert jobs (POSTs) and leads in them.
    calls, credits : dict of str to int
        Per kind: ``post``, ``status`` (:data:`POLLS_PER_JOB` per job), ``records``
        (reading the leads back: 100 per call, per org) and ``convert`` (the diagnosis:
        at most its budget; 5 credits a call, :data:`CREDITS`).
    """

    jobs: int
    leads: int
    calls: dict[str, int]
    credits: dict[str, int]

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def total_credits(self) -> int:
        return sum(self.credits.values())

    def __add__(self, other: Estimate) -> Estimate:
        kinds = dict.fromkeys([*self.calls, *other.calls])
        return Estimate(
            self.jobs + other.jobs,
            self.leads + other.leads,
            {k: self.calls.get(k, 0) + other.calls.get(k, 0) for k in kinds},
            {k: self.credits.get(k, 0) + other.credits.get(k, 0) for k in kinds},
        )

    def text(self) -> str:
        """``"24 calls, 24 credits (post 4, status 24, records 3)"``-like summary."""
        parts = ", ".join(f"{k} {v:,}" for k, v in self.credits.items() if v)
        return f"{self.total_calls:,} calls, {self.total_credits:,} credits ({parts or 'none'})"


def estimate(
    chunks: Sequence[PlannedChunk],
    *,
    diagnose_credits: int = 0,
    polls_per_job: int = POLLS_PER_JOB,
) -> Estimate:
    """The :class:`Estimate` of scheduling, watching and reading back ``chunks``."""
    per_org: dict[str, int] = {}
    for c in chunks:
        per_org[c.org] = per_org.get(c.org, 0) + len(c.leads)
    n = sum(per_org.values())
    calls = {
        "post": len(chunks),
        "status": polls_per_job * len(chunks),
        "records": sum(math.ceil(k / MAX_IDS_PER_READ) for k in per_org.values()),
        "convert": min(n, max(0, diagnose_credits) // CREDITS["convert"]),
    }
    return Estimate(len(chunks), n, calls, {k: v * CREDITS[k] for k, v in calls.items()})


def chunk_leads(
    items: Iterable[tuple[str, str, PlannedLead, ConvertOptions]],
) -> list[PlannedChunk]:
    """Split ``(org, dc, lead, options)`` items into chunks of at most 50 leads.

    Items of one org with equal options go together in input order, into the fewest chunks
    (``ceil(n / 50)``) of sizes that differ by at most one.
    """
    groups: dict[tuple[str, str, str], list[PlannedLead]] = {}
    options: dict[str, ConvertOptions] = {}
    for org, dc, lead, opts in items:
        key = opts.key()
        options.setdefault(key, opts)
        groups.setdefault((org, dc, key), []).append(lead)
    chunks = []
    for (org, dc, key), leads in groups.items():
        k = math.ceil(len(leads) / MAX_IDS_PER_POST)
        size, extra = divmod(len(leads), k)
        start = 0
        for i in range(k):
            end = start + size + (i < extra)
            chunks.append(PlannedChunk(org, dc, tuple(leads[start:end]), options[key]))
            start = end
    return chunks


def fingerprint(items: Iterable[tuple[str, str, ConvertOptions]]) -> str:
    """SHA-256 of the sorted ``(org, lead id, options)`` of an input: the same leads with
    the same options, in any order, give the same fingerprint."""
    lines = sorted(f"{org}\t{lead}\t{opts.key()}" for org, lead, opts in items)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass
class ConversionPlan:
    """What converting a set of leads will do (see :func:`plan_conversions`).

    Attributes
    ----------
    leads : pandas.DataFrame
        The clean input (:func:`~zcrm_notebook.inputs.leads.clean_leads`): ``org``, ``dc``,
        ``lead_id``, ``row`` and the override columns given.
    chunks : list of PlannedChunk
        The jobs to schedule (empty when resuming or when nothing is left to do).
    skipped : pandas.DataFrame
        Leads not planned: ``org``, ``lead_id``, ``row``, ``why`` (converted already, deleted
        in Zoho) and ``chunk_id`` (where the ledger says so).
    options : ConvertOptions
        The options given (per-lead overrides are in the chunks).
    fingerprint : str
        Of the input (:func:`fingerprint`): a rerun with the same one resumes.
    resumed_batch : int or None
        The ledger's batch of this input when it exists: nothing new is planned.
    estimate : Estimate
        Of the whole run; a dry run's includes its retry round and diagnosis.
    retry : ConversionPlan or None
        A dry run's: the retry round the run would schedule (its ``retry_round``).
    then : list of str
        A dry run's: what the run would do beyond the plan (resume, retry, diagnose).
    """

    leads: pd.DataFrame
    chunks: list[PlannedChunk]
    skipped: pd.DataFrame
    options: ConvertOptions
    fingerprint: str
    resumed_batch: int | None = None
    estimate: Estimate = field(default_factory=lambda: Estimate(0, 0, {}, {}))
    retry: ConversionPlan | None = None
    retry_round: int = 0
    then: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """One row per planned job: ``org``, ``dc``, ``leads`` (count), ``attempt``,
        ``first_lead``, ``deal`` (bool), ``assign_to``."""
        rows = [
            {
                "org": c.org,
                "dc": c.dc,
                "leads": len(c.leads),
                "attempt": c.attempt,
                "first_lead": c.lead_ids[0],
                "deal": c.options.deal is not None,
                "assign_to": c.options.assign_to,
            }
            for c in self.chunks
        ]
        cols = ["org", "dc", "leads", "attempt", "first_lead", "deal", "assign_to"]
        return pd.DataFrame(rows, columns=cols).astype(
            {"org": "string", "dc": "string", "first_lead": "string", "assign_to": "string"}
        )

    def describe(self) -> str:
        """The dry run's text: jobs per org, leads per job, calls and credits, left out."""
        n = len(self.leads)
        if self.resumed_batch is not None:
            head = (
                f"{_n(n, 'lead')}: the ledger already has this input (batch "
                f"{self.resumed_batch}); running it again resumes it"
            )
            if self.retry is None and not self.then:
                return head + " and schedules nothing new"
            lines = [head]
        else:
            lines = [f"{_n(n, 'lead')} -> {jobs_text(self.chunks)}"]
            lines += self._per_org()
        if self.retry is not None:
            lines.append(
                f"retry round {self.retry_round}: {_n(len(self.retry.leads), 'lead')} not "
                f"converted -> {jobs_text(self.retry.chunks)} (attempt "
                f"{max(c.attempt for c in self.retry.chunks)})"
            )
        lines += self.then
        lines.append(f"estimated: {self.estimate.text()}")
        return "\n".join(lines)

    def _per_org(self) -> list[str]:
        lines = []
        for org, group in self.frame().groupby("org", sort=True):
            lines.append(
                f"  {org}: {_n(len(group), 'job')}, {_n(int(group['leads'].sum()), 'lead')}"
            )
        if len(self.skipped):
            lines.append(f"  left out: {left_out_text(self.skipped)}")
        return lines

    def __repr__(self) -> str:
        return (
            f"<ConversionPlan {len(self.leads)} leads, {len(self.chunks)} jobs, "
            f"{self.estimate.total_credits} credits estimated>"
        )


def left_out_text(skipped: pd.DataFrame) -> str:
    """``"9 converted already, 1 not converted earlier (--retry-not-converted sends it
    again)"``: the leads of ``skipped`` (a plan's) per ``why``, most first."""
    parts = []
    for why, count in skipped["why"].value_counts().items():
        text = f"{count:,} {why}"
        if why == NOT_CONVERTED_EARLIER:
            text += f" (--retry-not-converted sends {'it' if count == 1 else 'them'} again)"
        parts.append(text)
    return ", ".join(parts)


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def jobs_text(chunks: Sequence[PlannedChunk]) -> str:
    """``"8 mass-convert jobs of 30 leads each"`` (or ``"of 20-50 leads"``)."""
    sizes = [len(c.leads) for c in chunks]
    text = _n(len(chunks), "mass-convert job")
    if sizes and min(sizes) == max(sizes):
        return f"{text} of {_n(sizes[0], 'lead')}" + (" each" if len(sizes) > 1 else "")
    return f"{text} of {min(sizes)}-{max(sizes)} leads" if sizes else text


def _lead_options(
    clean: pd.DataFrame, base: ConvertOptions
) -> tuple[list[ConvertOptions], list[tuple[int, object, str]]]:
    """Per lead, the options with its override columns; and the rows they make invalid."""
    columns = [c for c in OVERRIDE_COLUMNS if c in clean.columns]
    if not columns:
        return [base] * len(clean), []
    out, bad = [], []
    for row in clean[["row", "lead_id", *columns]].itertuples(index=False):
        given = {c: (None if pd.isna(getattr(row, c)) else getattr(row, c)) for c in columns}
        try:
            out.append(base.with_row(given))
        except ConfigError as exc:
            out.append(base)
            bad.append((int(row.row), row.lead_id, str(exc)))
    return out, bad


def plan_conversions(
    leads: object,
    orgs: Mapping[str, OrgCredentials] | None = None,
    *,
    config: str | None = None,
    org: str | None = None,
    options: ConvertOptions | None = None,
    ledger: Ledger | None = None,
    force: bool = False,
    max_credits: int | None = None,
    diagnose_credits: int = 0,
    retry_not_converted: bool = False,
) -> ConversionPlan:
    """Plan the mass conversions of ``leads``; nothing is sent.

    Parameters
    ----------
    leads : list, dict {org: [ids]}, DataFrame or CSV path
        See :func:`~zcrm_notebook.inputs.leads.clean_leads` (a table may carry per-lead
        ``assign_to``, ``deal_name``, ``deal_stage``, ``closing_date``, ``pipeline``).
    orgs : mapping org -> OrgCredentials, optional
        Default: :func:`~zcrm_notebook.inputs.orgs.load_orgs` of ``config``.
    config, org : optional
        The TOML config of orgs; the org of a plain list of ids.
    options : ConvertOptions, optional
        Deal, owner and other options of every lead (overrides per lead win).
    ledger : Ledger, optional
        Earlier runs: the same input resumes its batch (nothing new is planned); leads
        converted (or deleted) already are left out with a note, and so are leads whose
        last outcome is a final ``not_converted`` unless ``retry_not_converted``; leads
        whose last outcome is ``not_scheduled`` or ``unknown`` are planned as their next
        attempt; a lead in an open job is refused unless ``force``.
    force : bool, default False
        Plan leads that are in an open job of the ledger anyway.
    max_credits : int, optional
        Refuse a plan whose estimated credits exceed it.
    diagnose_credits : int, default 0
        Credits the diagnosis may spend (in the estimate).
    retry_not_converted : bool, default False
        Plan the leads the ledger has as ``not_converted`` (their job ended) as their next
        attempt; otherwise they are left out, like the converted ones (each POST costs
        credits).

    Returns
    -------
    ConversionPlan

    Raises
    ------
    LeadInputError
        One message naming the rows: bad lead ids or per-lead options, unknown orgs or data
        centers, leads in an open job of the ledger (with the job).
    ConfigError
        Options the org's API version lacks; an estimate above ``max_credits``; no org
        configured; an unreadable CSV.
    """
    orgs = dict(orgs) if orgs is not None else load_orgs(config)
    base = options or ConvertOptions()
    clean = clean_leads(leads, orgs, org=org)
    for name in sorted(set(clean["org"])):
        base.check_version(orgs[name].api_version, name)
    per_lead, bad = _lead_options(clean, base)
    if bad:
        raise LeadInputError(bad_rows_message(bad, "lead", "per-lead options"), bad)
    keys = list(zip(clean["org"], clean["dc"], clean["lead_id"], clean["row"]))
    print_key = fingerprint((o, lead, opts) for (o, _, lead, _), opts in zip(keys, per_lead))
    resumed = ledger.batch_for(print_key) if ledger is not None else None
    planned, skipped = _decide(keys, per_lead, ledger, (force, retry_not_converted), resumed)
    chunks = chunk_leads(planned)
    plan = ConversionPlan(
        clean,
        chunks,
        _skipped_frame(skipped),
        base,
        print_key,
        resumed,
        estimate(chunks, diagnose_credits=diagnose_credits),
    )
    if max_credits is not None and plan.estimate.total_credits > max_credits:
        raise ConfigError(
            f"the plan's estimated {plan.estimate.text()} exceed max_credits "
            f"{max_credits:,}; convert fewer leads at a time or raise the limit "
            "(command line: --max-credits)"
        )
    return plan


def _decide(
    keys: list[tuple[str, str, str, Any]],
    per_lead: list[ConvertOptions],
    ledger: Ledger | None,
    flags: tuple[bool, bool],
    resumed: int | None,
) -> tuple[list[tuple[str, str, PlannedLead, ConvertOptions]], list[tuple]]:
    """What to plan for each lead, given the ledger: (planned items, skipped rows);
    ``flags``: (force, retry_not_converted)."""
    force, retry = flags
    done = _DONE if not retry else {k: v for k, v in _DONE.items() if k != "not_converted"}
    if resumed is not None:
        return [], []
    if ledger is None:
        return [
            (o, dc, PlannedLead(lead), opts) for (o, dc, lead, _), opts in zip(keys, per_lead)
        ], []
    known = ledger.latest_by_lead([(o, lead) for o, _, lead, _ in keys])
    planned, skipped = [], []
    refused: list[tuple[int, object, str]] = []
    for (o, dc, lead, row), opts in zip(keys, per_lead):
        last = known.get((o, lead))
        if last is None:
            planned.append((o, dc, PlannedLead(lead), opts))
        elif last.open and not force:
            refused.append((int(row), lead, f"in an open job: {last.where()}"))
        elif last.outcome in done and not last.open:
            skipped.append((o, lead, int(row), done[last.outcome], last.chunk_id))
        else:
            planned.append((o, dc, PlannedLead(lead, last.attempt + 1, last.chunk_id), opts))
    if refused:
        rule = (
            "a lead in an open job of the ledger is not scheduled again; run the original "
            "input again to resume it, or force=True to schedule these anyway (command "
            "line: --force)"
        )
        raise LeadInputError(bad_rows_message(refused, "lead", rule), refused)
    return planned, skipped


#: The outcomes of a closed chunk a lead is not sent again after, and the words of its
#: ``skipped`` row: never again, except ``not_converted`` (the outcome the retry option
#: governs), sent again when ``retry_not_converted`` is given.
_DONE = {
    "converted": "converted already",
    "already_converted": "converted already",
    "deleted": "deleted already",
    "not_converted": NOT_CONVERTED_EARLIER,
}


def _skipped_frame(rows: list[tuple]) -> pd.DataFrame:
    cols = ["org", "lead_id", "row", "why", "chunk_id"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.astype(
        {"org": "string", "lead_id": "string", "row": "Int64", "why": "string", "chunk_id": "Int64"}
    )
