"""Converting leads: plan, schedule, ledger, watch, reconcile, diagnose, retry.

From a list of lead ids to the fate of each lead: :func:`plan_conversions` splits the leads
into mass-convert jobs (at most 50 each, per org and options) and estimates their cost;
:func:`schedule_conversions` sends the POSTs within each org's limits, keeping every chunk
in the :class:`Ledger` (same SQLite file as the snapshots) *before* it is sent; the jobs are
watched by the poller of :mod:`zcrm_notebook.poll`; :func:`reconcile_conversions` reads the
leads back and builds the lead outcome table (:class:`LeadOutcome`);
:func:`diagnose_not_converted` asks the single-lead convert why a lead was not converted
(opt-in, within a credit budget); :func:`retry_not_converted` plans those leads again.
:func:`convert_leads` does it all.

It may import :mod:`zcrm_notebook.poll`, :mod:`~zcrm_notebook.snapshots`,
:mod:`~zcrm_notebook.inputs`, :mod:`~zcrm_notebook.client`, :mod:`~zcrm_notebook.auth`,
:mod:`~zcrm_notebook.api`, ``errors`` and pandas; never figures or widgets.
"""

from .diagnose import diagnose_not_converted
from .ledger import Chunk, Ledger
from .loop import ConversionResult, convert_leads
from .options import ConvertOptions
from .outcomes import (
    LEAD_OUTCOME_COLUMNS,
    OUTCOMES,
    LeadOutcome,
    outcomes_frame,
    read_lead_outcomes,
    write_lead_outcomes_csv,
)
from .plan import ConversionPlan, Estimate, PlannedChunk, plan_conversions
from .reconcile import reconcile_conversions
from .retry import retry_not_converted
from .send import schedule_conversions

__all__ = [
    "ConvertOptions",
    "ConversionPlan",
    "ConversionResult",
    "Estimate",
    "PlannedChunk",
    "plan_conversions",
    "schedule_conversions",
    "reconcile_conversions",
    "diagnose_not_converted",
    "retry_not_converted",
    "convert_leads",
    "Ledger",
    "Chunk",
    "LeadOutcome",
    "OUTCOMES",
    "LEAD_OUTCOME_COLUMNS",
    "outcomes_frame",
    "read_lead_outcomes",
    "write_lead_outcomes_csv",
]
