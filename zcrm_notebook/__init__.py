"""zcrm_notebook: watch Zoho CRM mass-convert-lead jobs from Jupyter.

Poll a batch of job ids (several orgs and data centers) within Zoho's API limits, keep
every poll as a row of a pandas DataFrame, draw progress and failure rates, export CSVs.
Heavy modules (matplotlib, ipywidgets, the simulator) load only when used.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> module that defines it (imported on first use: keeps `import` fast)
_EXPORTS = {
    "poll_jobs": "poll",
    "Poller": "poll",
    "PollPolicy": "policy",
    "OrgCredentials": "auth",
    "load_orgs": "config",
    "clean_jobs": "config",
    "Job": "config",
    "ZohoClient": "client",
    "JobState": "status",
    "JobStatus": "status",
    "Snapshot": "status",
    "parse_status": "status",
    "get_dc": "dc",
    "DATA_CENTERS": "dc",
    "to_frame": "frame",
    "SNAPSHOT_COLUMNS": "frame",
    "SNAPSHOT_DTYPES": "frame",
    "write_snapshots_csv": "export",
    "read_snapshots": "export",
    "SnapshotStore": "store",
    "read_store": "store",
    "summarize_jobs": "summary",
    "summarize_dcs": "summary",
    "summarize_orgs": "summary",
    "progress_over_time": "summary",
    "wilson_interval": "summary",
    "plot_progress": "plots",
    "plot_outcomes": "plots",
    "plot_failure_rate": "plots",
    "plot_status_timeline": "plots",
    "make_report": "report",
    "export_report": "report",
    "ZcrmError": "errors",
    "watch": "watch",
    "Watch": "watch",
    "MemoryStore": "watch",
    "Dashboard": "widgets",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zcrm_notebook' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
