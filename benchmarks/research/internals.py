"""The one place where the research benchmarks import zcrm_notebook internals.

The package is being reorganised into subpackages (``policy`` -> ``poll.policy``,
``schedule`` -> ``poll.loop``, ``status`` -> ``api.status`` ...): the fallbacks below keep
the benchmarks working on both layouts; edit only this file when a module moves.
"""

from __future__ import annotations

from importlib import import_module


def _first(name: str, *modules: str):
    """``name`` from the first of ``modules`` (dotted, under zcrm_notebook) that has it."""
    for mod in modules:
        try:
            return getattr(import_module(f"zcrm_notebook.{mod}"), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"zcrm_notebook has no {name} in any of {modules}")


# polling policy and per-job schedule (pure)
PollPolicy = _first("PollPolicy", "policy", "poll.policy")
JobTrack = _first("JobTrack", "policy", "poll.policy")
# answers
JobState = _first("JobState", "status", "api.status")
JobStatus = _first("JobStatus", "status", "api.status")
Snapshot = _first("Snapshot", "status", "api.status")
parse_status = _first("parse_status", "status", "api.status")
# the simulator (what it simulates, and the server)
SimClock = _first("SimClock", "simulator", "sim_scenario", "sim.scenario")
SimJob = _first("SimJob", "simulator", "sim_scenario", "sim.scenario")
SimOrg = _first("SimOrg", "simulator", "sim_scenario", "sim.scenario")
Faults = _first("Faults", "simulator", "sim_scenario", "sim.scenario")
Simulator = _first("Simulator", "simulator", "sim.simulator")
build_default_scenario = _first("build_default_scenario", "sim_scenario", "sim.scenario")
# the poll run, client and auth
Poller = _first("Poller", "poll", "poll.run", "poll.poller")
OrgCredentials = _first("OrgCredentials", "auth", "api.auth")
ZohoClient = _first("ZohoClient", "client", "api.client")
interpret_answer = _first("interpret_answer", "client", "api.client")
get_token_cache = _first("get_token_cache", "auth", "api.auth")
DataQualityWarning = _first("DataQualityWarning", "errors")
clean_jobs = _first("clean_jobs", "config")
SnapshotStore = _first("SnapshotStore", "store")


def status_answer(job, t: float):
    """What the simulator would answer for ``job`` (a SimJob) at sim time ``t``, parsed.

    The simulator's own answer item (no faults, canonical status word) through the same
    :func:`parse_status` as the client, minus HTTP and JSON. ``None`` before creation.
    """
    truth = job.truth(t)
    if truth is None:
        return None
    return parse_status(job.job_id, {"data": [_data_item(truth, truth.status)]})


_data_item = Simulator._data_item  # staticmethod of the simulator's CRM endpoints


# -- the poll loop's HTTP client, swappable for the CPU benchmarks ----------------------------

StatusAnswer = _first("StatusAnswer", "client", "api.client")
TransportError = _first("TransportError", "errors")
check_token_destination = _first("check_token_destination", "dc", "api.dc")
OrgState = _first("OrgState", "orgs", "poll.orgs")


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


# -- frames, summaries, plots (the scale benchmark) --------------------------------------------

to_frame = _first("to_frame", "frame", "data.frame")
SNAPSHOT_DTYPES = _first("SNAPSHOT_DTYPES", "frame", "data.frame")
STATUS_DTYPE = _first("STATUS_DTYPE", "frame", "data.frame")


def __getattr__(name: str):
    """``summary`` and ``plots`` modules, imported on first use (matplotlib is heavy)."""
    if name in ("summary", "plots"):
        return import_module(f"zcrm_notebook.{name}")
    raise AttributeError(name)
