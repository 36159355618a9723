"""The one place where the research benchmarks import zcrm_notebook internals.

Written before the package was reorganised into subpackages; the names below now come from
their new homes (``poll.policy``, ``api.status``, ``simulator``, ...).
"""

from __future__ import annotations

from importlib import import_module

from zcrm_notebook.api.answers import interpret_answer
from zcrm_notebook.api.destinations import check_token_destination
from zcrm_notebook.api.status import JobState, JobStatus, parse_status
from zcrm_notebook.auth import OrgCredentials, get_token_cache
from zcrm_notebook.client import StatusAnswer, ZohoClient
from zcrm_notebook.errors import DataQualityWarning, TransportError
from zcrm_notebook.inputs.jobs import clean_jobs
from zcrm_notebook.poll.orgstate import OrgState
from zcrm_notebook.poll.poller import Poller
from zcrm_notebook.poll.policy import JobTrack, PollPolicy
from zcrm_notebook.simulator import Faults, SimClock, SimJob, SimOrg, Simulator
from zcrm_notebook.simulator.crm import CrmMixin
from zcrm_notebook.simulator.scenario import build_default_scenario
from zcrm_notebook.snapshots.frame import SNAPSHOT_DTYPES, STATUS_DTYPE, to_frame
from zcrm_notebook.snapshots.schema import Snapshot
from zcrm_notebook.snapshots.store import SnapshotStore

__all__ = [
    "interpret_answer", "check_token_destination", "JobState", "JobStatus", "parse_status",
    "OrgCredentials", "get_token_cache", "StatusAnswer", "ZohoClient", "DataQualityWarning",
    "TransportError", "clean_jobs", "OrgState", "Poller", "JobTrack", "PollPolicy", "Faults",
    "SimClock", "SimJob", "SimOrg", "Simulator", "build_default_scenario", "SNAPSHOT_DTYPES",
    "STATUS_DTYPE", "to_frame", "Snapshot", "SnapshotStore", "status_answer", "client_class",
]  # fmt: skip


def status_answer(job, t: float):
    """What the simulator would answer for ``job`` (a SimJob) at sim time ``t``, parsed.

    The simulator's own answer item (no faults, canonical status word) through the same
    :func:`parse_status` as the client, minus HTTP and JSON. ``None`` before creation.
    """
    truth = job.truth(t)
    if truth is None:
        return None
    return parse_status(job.job_id, {"data": [_data_item(truth, truth.status)]})


_data_item = CrmMixin._data_item  # staticmethod of the simulator's CRM endpoints


class client_class:
    """``with client_class(Cls):`` -- poll runs open their orgs with ``Cls`` instead of
    ZohoClient (patches the name in the module that defines OrgState)."""

    def __init__(self, cls) -> None:
        import sys

        self.module, self.cls = sys.modules[OrgState.__module__], cls

    def __enter__(self):
        self.saved = self.module.ZohoClient
        self.module.ZohoClient = self.cls
        return self

    def __exit__(self, *exc) -> None:
        self.module.ZohoClient = self.saved


def __getattr__(name: str):
    """``summary`` and ``plots`` modules, imported on first use (matplotlib is heavy)."""
    if name == "summary":
        return import_module("zcrm_notebook.analysis.summary")
    if name == "plots":
        return import_module("zcrm_notebook.viz")
    raise AttributeError(name)
