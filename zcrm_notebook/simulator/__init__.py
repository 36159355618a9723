"""An offline Zoho (Accounts OAuth and CRM mass convert) served on loopback.

The demo, the notebooks, the tests and the benchmarks run against it through the same
client code path as real Zoho. Independent of the product: it imports only
:mod:`zcrm_notebook.api` (data centers, endpoint descriptors) and ``errors``, and the
product never imports it (the ``demo`` and ``simulate`` commands load it when they run).
"""

from .app import Simulator, default_scenario
from .scenario import (
    FAULT_NAMES,
    LEAD_PROBLEMS,
    POST_FAULT_NAMES,
    Faults,
    SimClock,
    SimJob,
    SimLead,
    SimOrg,
)
from .stats import UNKNOWN_ORG, SimStats

__all__ = [
    "SimClock",
    "SimOrg",
    "SimLead",
    "LEAD_PROBLEMS",
    "POST_FAULT_NAMES",
    "SimJob",
    "Faults",
    "SimStats",
    "Simulator",
    "default_scenario",
    "FAULT_NAMES",
    "UNKNOWN_ORG",
]
