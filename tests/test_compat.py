"""Old module paths keep working, and no public name is shadowed by a module."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import zcrm_notebook as zn
from zcrm_notebook._compat import OLD_PATHS


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_old_path_gives_the_same_objects(old):
    module = importlib.import_module(f"zcrm_notebook.{old}")
    targets = [importlib.import_module(f"zcrm_notebook.{t}") for t in OLD_PATHS[old]]
    if len(targets) == 1:
        assert module is targets[0]
        assert module.__spec__.name == f"zcrm_notebook.{OLD_PATHS[old][0]}"
    for target in reversed(targets):
        for name in target.__all__:
            owner = next(t for t in targets if name in t.__all__)
            assert getattr(module, name) is getattr(owner, name), (old, name)


def test_names_the_readme_and_notebooks_used_still_import():
    from zcrm_notebook.frame import SNAPSHOT_COLUMNS, to_frame
    from zcrm_notebook.grant import OAuthClient, exchange_grant_token
    from zcrm_notebook.status import JobState, Snapshot, quality_problems
    from zcrm_notebook.tokenstore import TokenStore, orgs_from_store
    from zcrm_notebook.webflow import authorization_url, complete_authorization
    from zcrm_notebook.widgets import Dashboard

    from zcrm_notebook import plots

    assert plots.plot_progress is zn.plot_progress and Dashboard is zn.Dashboard
    assert Snapshot is zn.Snapshot and JobState is zn.JobState and to_frame is zn.to_frame
    assert SNAPSHOT_COLUMNS is zn.SNAPSHOT_COLUMNS and callable(quality_problems)
    assert all(
        callable(f)
        for f in (exchange_grant_token, authorization_url, complete_authorization, orgs_from_store)
    )
    assert OAuthClient.__name__ == "OAuthClient" and TokenStore.__name__ == "TokenStore"


def _submodule_names() -> set[str]:
    return {m.name for m in pkgutil.iter_modules(zn.__path__)} | set(OLD_PATHS)


def test_no_public_name_is_the_name_of_a_module():
    assert not set(zn.__all__) & _submodule_names()


def test_watch_is_the_function_after_importing_every_module():
    for info in pkgutil.walk_packages(zn.__path__, "zcrm_notebook."):
        if info.name != "zcrm_notebook.__main__":
            importlib.import_module(info.name)
    for old in OLD_PATHS:
        importlib.import_module(f"zcrm_notebook.{old}")
    assert callable(zn.watch) and zn.watch.__module__ == "zcrm_notebook.poll.background"
    assert "zcrm_notebook.watch" not in sys.modules


def test_the_old_watch_module_is_not_an_alias():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("zcrm_notebook.watch")


def test_old_paths_work_in_a_fresh_interpreter():
    code = (
        "import zcrm_notebook.plots as p, zcrm_notebook.widgets as w, zcrm_notebook as zn;"
        "assert p.plot_progress is zn.plot_progress and w.Dashboard is zn.Dashboard;"
        "assert callable(zn.watch)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_public_name_resolves():
    assert [name for name in zn.__all__ if getattr(zn, name, None) is None] == []
