"""One descriptor per Zoho endpoint: URLs, scopes and the simulator's routes follow from it."""

from zcrm_notebook.api import endpoints as ep
from zcrm_notebook.auth.grant import DEFAULT_SCOPES
from zcrm_notebook.auth.hooks import REVOKE_PATH, TOKEN_PATH
from zcrm_notebook.simulator import app


def test_urls_are_built_from_the_path_template():
    status = ep.MASS_CONVERT_STATUS
    assert status.url("https://www.zohoapis.eu/", "v8") == (
        "https://www.zohoapis.eu/crm/v8/Leads/actions/mass_convert"
    )
    assert status.path_for("v5", module="Contacts") == "/crm/v5/Contacts/actions/mass_convert"
    assert ep.TOKEN.url("https://accounts.zoho.eu") == "https://accounts.zoho.eu/oauth/v2/token"
    assert (ep.TOKEN.path, ep.REVOKE.path) == (TOKEN_PATH, REVOKE_PATH)


def test_a_path_matches_its_template_only():
    status = ep.MASS_CONVERT_STATUS
    assert status.match("/crm/v5/Leads/actions/mass_convert") == {
        "version": "v5",
        "module": "Leads",
    }
    assert status.match("/crm/v5/Leads/actions/mass_convert/x") is None
    assert ep.REVOKE.match("/oauth/v2/token/revoke") == {} and ep.TOKEN.match("/oauth/v2/x") is None


def test_scopes_come_from_the_descriptors():
    assert ep.MASS_CONVERT_READ_SCOPE == "ZohoCRM.mass_convert.leads.READ"
    assert ep.MASS_CONVERT_CREATE_SCOPE == "ZohoCRM.mass_convert.leads.CREATE"
    assert DEFAULT_SCOPES == ep.MASS_CONVERT_STATUS.scopes == ep.AUTHORIZE.scopes
    assert set(ep.ENDPOINTS) == {e.name for e in ep.ENDPOINTS.values()}
    assert all(e.doc.startswith("https://www.zoho.com/") for e in ep.ENDPOINTS.values())


def test_the_simulator_routes_with_the_descriptors():
    route = app._route
    path = ep.MASS_CONVERT_STATUS.path_for("v7")
    assert route("api", "GET", path) == (ep.MASS_CONVERT_STATUS, True)
    assert route("api", "POST", path) == (ep.MASS_CONVERT_SCHEDULE, True)
    assert route("api", "PUT", path) == (None, True)  # INVALID_REQUEST_METHOD
    assert route("api", "GET", ep.MASS_CONVERT_STATUS.path_for("v4")) == (None, False)
    assert route("api", "GET", ep.MASS_CONVERT_STATUS.path_for("v5", "Deals")) == (None, False)
    assert route("accounts", "POST", "/oauth/v2/token") == (ep.TOKEN, True)
    assert route("api", "POST", "/oauth/v2/token") == (None, False)
