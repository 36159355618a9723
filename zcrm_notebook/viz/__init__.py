"""Figures of the snapshot frame: axes-level plots, their style, the report bundle.

matplotlib only (never pyplot's global state); it may import
:mod:`zcrm_notebook.analysis`, :mod:`~zcrm_notebook.snapshots` and ``errors``. The plot
functions are importable from here (loaded on first use).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

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
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
