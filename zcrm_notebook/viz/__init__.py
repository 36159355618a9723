"""Figures of the snapshot frame: axes-level plots, their style, the report bundle.

matplotlib only (never pyplot's global state); it may import
:mod:`zcrm_notebook.analysis`, :mod:`~zcrm_notebook.snapshots` and ``errors``. The plot
functions are importable from here (loaded on first use).
"""

from __future__ import annotations

from .._compat import lazy_names

#: public name -> module defining it (loaded on first use: importing viz stays cheap)
_EXPORTS = {
    "STATUS_COLORS": "style",
    "OUTCOME_COLORS": "style",
    "DC_COLORS": "style",
    "dc_color": "style",
    "plot_progress": "progress",
    "plot_outcomes": "outcomes",
    "plot_failure_rate": "failure_rate",
    "plot_status_timeline": "timeline",
    "plot_lead_outcomes": "lead_outcomes",
    "LEAD_OUTCOME_COLORS": "style",
    "style_jobs": "jobtable",
}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
