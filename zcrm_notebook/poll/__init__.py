"""The polling engine: policy, loop, per-org state, poller, background watch.

Polls many job ids across orgs and data centers within Zoho's limits and records each
answer as a snapshot. It may import :mod:`zcrm_notebook.snapshots`,
:mod:`~zcrm_notebook.inputs`, :mod:`~zcrm_notebook.client`, :mod:`~zcrm_notebook.auth`,
:mod:`~zcrm_notebook.api` and ``errors``, never matplotlib or ipywidgets (the dashboard
reads a poll, the poll never draws).
"""

from .poller import OrgStats, Poller, PollPolicy, poll_jobs

__all__ = ["Poller", "OrgStats", "poll_jobs", "PollPolicy"]
