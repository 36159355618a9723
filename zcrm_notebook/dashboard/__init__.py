"""The live ipywidgets dashboard of a poll running in the background.

It may import :mod:`zcrm_notebook.viz`, :mod:`~zcrm_notebook.analysis`,
:mod:`~zcrm_notebook.poll`, :mod:`~zcrm_notebook.snapshots`,
:mod:`~zcrm_notebook.inputs` and ``errors``. ipywidgets is optional (the ``notebook``
extra): :class:`Dashboard` is loaded on first use.
"""

from __future__ import annotations

from .._compat import lazy_names

#: public name -> module defining it (loaded on first use: ipywidgets is optional)
_EXPORTS = {"Dashboard": "widget", "attention_jobs": "view"}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
