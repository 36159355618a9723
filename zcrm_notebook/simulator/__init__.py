"""An offline Zoho (Accounts OAuth and CRM mass convert) served on loopback.

The demo, the notebooks, the tests and the benchmarks run against it through the same
client code path as real Zoho. Independent of the product: it imports only
:mod:`zcrm_notebook.api` (data centers, endpoint descriptors) and ``errors``, and the
product never imports it (the ``demo`` and ``simulate`` commands load it when they run).
"""

from .app import Simulator, default_scenario
from .scenario import (
    FAULT_NAMES,
    FAULTS,
    LEAD_PROBLEMS,
    POST_FAULT_NAMES,
    POST_FAULTS,
    STATUS_CASINGS,
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
    "SimJob",
    "Faults",
    "SimStats",
    "Simulator",
    "default_scenario",
    "FAULT_NAMES",
    "FAULTS",
    "STATUS_CASINGS",
    "POST_FAULTS",
    "POST_FAULT_NAMES",
    "UNKNOWN_ORG",
]
