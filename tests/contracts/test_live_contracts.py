"""The contracts of ``tests/contracts`` against a real Zoho org, with read-only calls.

Run against your org (nothing is created or changed; one access token is made)::

    ZOHO_CLIENT_ID=... ZOHO_CLIENT_SECRET=... ZOHO_REFRESH_TOKEN=... ZOHO_DC=eu \\
    ZOHO_TEST_LEAD_ID=...  python -m pytest -m live tests/contracts/test_live_contracts.py

The ``live`` cases run only when the ``ZOHO_*`` credentials are set *and* ``-m live`` is
given (a plain ``pytest`` never leaves loopback); ``ZOHO_TEST_LEAD_ID`` (a lead of the org)
enables the Get Records check, which needs the scope ``ZohoCRM.modules.leads.READ``. The
same checks run on every test run against the simulator, so what is checked against Zoho
is what the simulator is held to:

- the status of a made-up job id: 400 ``INVALID_DATA``, valid against
  ``status_error.json``, classified ``give_up_job``;
- a path Zoho does not have: 404 ``INVALID_URL_PATTERN``, classified ``end_org``;
- no ``Authorization`` header: 401 ``AUTHENTICATION_FAILURE``;
- Get Records with ``converted=both`` on ``ZOHO_TEST_LEAD_ID``: valid against
  ``records_success.json``, the lead in ``data``.
"""

from __future__ import annotations

import os

import pytest
import requests
from conftest import _loopback_only_connect, sim_orgs
from contract_schemas import validator

from zcrm_notebook.api.answers import interpret_answer
from zcrm_notebook.api.endpoints import MASS_CONVERT_STATUS
from zcrm_notebook.api.error_codes import rule_for
from zcrm_notebook.api.transport import new_session
from zcrm_notebook.auth.tokens import get_token_cache
from zcrm_notebook.errors import ZcrmError
from zcrm_notebook.inputs.orgs import orgs_from_env

MADE_UP_JOB = "1000000000000000007"
CREDENTIALS = ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN")
pytestmark = pytest.mark.usefixtures("fresh_token_caches")


@pytest.fixture
def _no_network(request, monkeypatch):
    """The suite's loopback-only guard (``tests/conftest.py``), lifted for live cases only."""
    if request.node.get_closest_marker("live") is None:
        monkeypatch.setattr("socket.socket.connect", _loopback_only_connect)


@pytest.fixture(params=["simulator", pytest.param("live", marks=pytest.mark.live)])
def org(request):
    """(credentials, where): the simulator's us-org, or the org of the ZOHO_* variables."""
    if request.param == "simulator":
        from zcrm_notebook.simulator import SimClock, default_scenario

        with default_scenario(n_jobs=1, clock=SimClock()) as sim:
            yield sim_orgs(sim)["us-org"], "simulator"
        return
    if not all(os.environ.get(name) for name in CREDENTIALS):
        pytest.skip(f"set {', '.join(CREDENTIALS)} (and ZOHO_DC) to check a real org")
    if "live" not in (request.config.getoption("-m") or ""):
        pytest.skip("real Zoho is called only with `-m live`")
    (creds,) = orgs_from_env().values()
    yield creds, "live"


def send(creds, path: str, params=None, auth=True) -> requests.Response:
    """One read-only GET of ``path`` on the org's API domain, with its access token."""
    token = get_token_cache(creds).get()
    headers = {"Authorization": f"Zoho-oauthtoken {token.access_token}"} if auth else {}
    with new_session() as s:
        return s.get(token.api_domain + path, params=params, headers=headers, timeout=30)


def classify(r: requests.Response) -> tuple[str, str]:
    """(Zoho's code, the package's action) of an error answer."""
    try:
        interpret_answer(MADE_UP_JOB, r)
    except ZcrmError as exc:
        return exc.code, rule_for(exc.code, r.status_code).action
    raise AssertionError(f"HTTP {r.status_code} was not an error")


def status_path(creds) -> str:
    return MASS_CONVERT_STATUS.path_for(creds.api_version)


def test_status_of_a_made_up_job_is_invalid_data_and_gives_the_job_up(org):
    creds, _ = org
    r = send(creds, status_path(creds), {"job_id": MADE_UP_JOB})
    errors = [e.message for e in validator("status_error.json").iter_errors(r.json())]
    assert (r.status_code, errors) == (400, [])
    assert classify(r) == ("INVALID_DATA", "give_up_job")


def test_a_path_zoho_does_not_have_is_invalid_url_pattern_and_ends_the_org(org):
    creds, _ = org
    r = send(creds, status_path(creds) + "_no_such_call", {"job_id": MADE_UP_JOB})
    assert r.status_code == 404 and validator("zoho_error.json").is_valid(r.json())
    assert classify(r) == ("INVALID_URL_PATTERN", "end_org")


def test_no_authorization_header_is_authentication_failure(org):
    creds, _ = org
    r = send(creds, status_path(creds), {"job_id": MADE_UP_JOB}, auth=False)
    assert r.status_code == 401 and validator("zoho_error.json").is_valid(r.json())
    assert classify(r) == ("AUTHENTICATION_FAILURE", "refresh_and_retry_once")


def test_get_records_of_a_lead_with_converted_both_fits_the_schema(org):
    creds, where = org
    lead = os.environ.get("ZOHO_TEST_LEAD_ID", "")
    if where == "simulator" or not lead:
        pytest.skip(
            "needs ZOHO_TEST_LEAD_ID and a real org (test_sim_leads.py checks the simulator's)"
        )
    fields = "Converted__s,Converted_Date_Time,Converted_Contact,Converted_Account,Converted_Deal"
    params = {"ids": lead, "fields": fields, "converted": "both"}
    r = send(creds, f"/crm/{creds.api_version}/Leads", params)
    if r.status_code == 401:
        pytest.skip(f"the grant lacks ZohoCRM.modules.leads.READ ({r.json().get('code')})")
    errors = [e.message for e in validator("records_success.json").iter_errors(r.json())]
    assert (r.status_code, errors) == (200, [])
    assert lead in [record["id"] for record in r.json()["data"]]
