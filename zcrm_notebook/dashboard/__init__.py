"""The live ipywidgets dashboard of a poll running in the background.

It may import :mod:`zcrm_notebook.viz`, :mod:`~zcrm_notebook.analysis`,
:mod:`~zcrm_notebook.poll`, :mod:`~zcrm_notebook.snapshots`,
:mod:`~zcrm_notebook.inputs` and ``errors``. ipywidgets is optional (the ``notebook``
extra): :class:`Dashboard` is loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: public name -> module defining it (loaded on first use: ipywidgets is optional)
_EXPORTS = {"Dashboard": "widget", "attention_jobs": "view"}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
