"""zcrm_notebook: watch Zoho CRM mass-convert-lead jobs from Jupyter, and convert leads.

Poll a batch of job ids (several orgs and data centers) within Zoho's API limits, keep
every poll as a row of a pandas DataFrame, draw progress and failure rates, export CSVs;
convert leads end to end (``convert_leads``: plan, schedule, watch, read back, retry) with
a ledger that tells the fate of every lead.
Heavy modules (matplotlib, ipywidgets, the simulator) load only when used.
"""

from __future__ import annotations

import logging

from . import _compat

__version__ = "0.3.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
_compat.install()  # old module paths (zcrm_notebook.plots, .widgets ...) keep working

# public name -> module that defines it (imported on first use: keeps `import` fast)
_EXPORTS = {
    "poll_jobs": "poll.poller",
    "Poller": "poll.poller",
    "PollPolicy": "poll.policy",
    "OrgCredentials": "auth.credentials",
    "load_orgs": "inputs.orgs",
    "clean_jobs": "inputs.jobs",
    "clean_leads": "inputs.leads",
    "Job": "inputs.jobs",
    "ZohoClient": "client",
    "JobState": "api.status",
    "JobStatus": "api.status",
    "Snapshot": "snapshots.schema",
    "parse_status": "api.status",
    "get_dc": "api.datacenters",
    "DATA_CENTERS": "api.datacenters",
    "to_frame": "snapshots.frame",
    "SNAPSHOT_COLUMNS": "snapshots.schema",
    "SNAPSHOT_DTYPES": "snapshots.frame",
    "write_snapshots_csv": "snapshots.csvfile",
    "read_snapshots": "snapshots.csvfile",
    "SnapshotStore": "snapshots.store",
    "read_store": "snapshots.store",
    "summarize_jobs": "analysis.summary",
    "summarize_dcs": "analysis.summary",
    "summarize_orgs": "analysis.summary",
    "progress_over_time": "analysis.summary",
    "wilson_interval": "analysis.summary",
    "plot_progress": "viz.progress",
    "plot_outcomes": "viz.outcomes",
    "plot_failure_rate": "viz.failure_rate",
    "plot_status_timeline": "viz.timeline",
    "plot_lead_outcomes": "viz.lead_outcomes",
    "make_report": "viz.report",
    "style_jobs": "viz.jobtable",
    "export_report": "viz.report",
    "ZcrmError": "errors",
    "watch": "poll.background",
    "Watch": "poll.background",
    "MemoryStore": "snapshots.memory",
    "Dashboard": "dashboard.widget",
    "convert_leads": "convert.loop",
    "plan_conversions": "convert.plan",
    "schedule_conversions": "convert.send",
    "reconcile_conversions": "convert.reconcile",
    "diagnose_not_converted": "convert.diagnose",
    "retry_not_converted": "convert.retry",
    "ConvertOptions": "convert.options",
    "ConversionPlan": "convert.plan",
    "ConversionResult": "convert.loop",
    "LeadOutcome": "convert.outcomes",
    "LEAD_OUTCOME_COLUMNS": "convert.outcomes",
    "read_lead_outcomes": "convert.outcomes",
    "write_lead_outcomes_csv": "convert.outcomes",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, _ = _compat.lazy_names(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return __all__
