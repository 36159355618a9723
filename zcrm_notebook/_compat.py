"""Imports that stay cheap and paths that stay valid: lazy public names, old module paths.

:func:`lazy_names` gives a package public names that are imported on first use (the
package ``zcrm_notebook`` itself, ``viz`` and ``dashboard``: ``import zcrm_notebook``
loads neither pandas, matplotlib nor ipywidgets).

Old import paths: ``zcrm_notebook.plots``, ``.widgets``, ``.status`` ... keep working.
Until version 0.1 every module sat at the top of the package; they now live in
subpackages (``docs/architecture.md``). :class:`OldPathFinder`, installed on
``sys.meta_path`` by ``zcrm_notebook/__init__.py``, answers an import of an old module
name with the new module that holds its names: the module object itself (no copy, no
warning), so ``zcrm_notebook.plots.plot_progress is zcrm_notebook.viz.plot_progress``.
An old module whose names were split over several new modules (``status``, ``dc``,
``tokenstore``) is answered with a module assembled from their ``__all__`` names, the
same objects again. ``zcrm_notebook.watch`` is deliberately not an old path: that
module shadowed the public function :func:`zcrm_notebook.watch`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Callable
from importlib import import_module
from typing import Any

#: Old module (under ``zcrm_notebook.``) -> the new module(s) holding its public names.
OLD_PATHS: dict[str, tuple[str, ...]] = {
    "dc": ("api.datacenters", "api.destinations"),
    "status": ("api.status", "snapshots.schema", "poll.quality"),
    "oauth_hooks": ("auth.hooks",),
    "grant": ("auth.grant",),
    "webflow": ("auth.webflow",),
    "tokenstore": ("auth.tokenstore", "inputs.orgs"),
    "config": ("inputs",),
    "frame": ("snapshots.frame",),
    "export": ("snapshots.csvfile",),
    "store": ("snapshots.store",),
    "policy": ("poll.policy",),
    "summary": ("analysis.summary",),
    "timeseries": ("analysis.timeseries",),
    "plots": ("viz",),
    "report": ("viz.report",),
    "widgets": ("dashboard.widget",),
}


def lazy_names(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` of a package whose public names load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict of str to str
        Public name -> the module (relative to ``package``) that defines it.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{exports[name]}", package), name)
        vars(sys.modules[package])[name] = value  # the next access is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__


def _new_module(name: str) -> types.ModuleType:
    return import_module(f"{__package__}.{name}")


class _OldPathLoader(importlib.abc.Loader):
    """Loads an old path as the module (or an assembly of the modules) that replaced it."""

    def __init__(self, targets: tuple[str, ...]) -> None:
        self.targets = targets
        self.spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        modules = [_new_module(t) for t in self.targets]
        if len(modules) == 1:
            self.spec = modules[0].__spec__  # importlib overwrites it: given back below
            return modules[0]
        assembly = types.ModuleType(spec.name, f"Old path of {', '.join(self.targets)}.")
        for module in reversed(modules):  # the first module wins a name clash
            vars(assembly).update({n: getattr(module, n) for n in module.__all__})
        names = sorted({n for m in modules for n in m.__all__})
        vars(assembly)["__all__"] = names
        return assembly

    def exec_module(self, module: types.ModuleType) -> None:
        if self.spec is not None:
            module.__spec__ = self.spec


class OldPathFinder(importlib.abc.MetaPathFinder):
    """Finds ``zcrm_notebook.<old name>`` for the names of :data:`OLD_PATHS`."""

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        package, _, name = fullname.rpartition(".")
        if package != __package__ or name not in OLD_PATHS:
            return None
        return importlib.machinery.ModuleSpec(fullname, _OldPathLoader(OLD_PATHS[name]))


def install() -> None:
    """Put :class:`OldPathFinder` on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, OldPathFinder) for f in sys.meta_path):
        sys.meta_path.append(OldPathFinder())
