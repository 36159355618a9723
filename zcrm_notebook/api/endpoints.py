"""One descriptor per Zoho endpoint this package calls (or the simulator serves).

An :class:`Endpoint` says where a call goes (``accounts`` server or ``api`` domain, path
template, HTTP method), what it needs (OAuth scopes, CRM permission, parameters) and what
its answer holds. The client builds its URLs from them, the grant and web flows take
their scope lists from them, the OAuth hooks their token paths, and the simulator routes
its requests with them, so a new endpoint (Get Records on Leads, the inventory
conversions) is a descriptor here plus its parser, not a change across the tree. Zoho's
pages for each are linked in ``docs/zoho-api.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Endpoint",
    "ACCOUNTS",
    "API",
    "API_VERSIONS",
    "MASS_CONVERT_STATUS",
    "MASS_CONVERT_SCHEDULE",
    "TOKEN",
    "REVOKE",
    "AUTHORIZE",
    "ENDPOINTS",
    "MASS_CONVERT_READ_SCOPE",
    "MASS_CONVERT_CREATE_SCOPE",
]

ACCOUNTS, API = "accounts", "api"
#: CRM API versions an org may use (``{version}`` of a path): those of the mass-convert
#: calls. Zoho documents the POST from v4 and the status call from v5
#: (``docs/zoho-api.md``, "Mass convert status GET"): v4 is accepted, with a warning.
API_VERSIONS = ("v4", "v5", "v6", "v7", "v8")


@dataclass(frozen=True)
class Endpoint:
    """A Zoho endpoint: where it is, what it needs, what it answers.

    Attributes
    ----------
    name : str
        Short name (``mass_convert_status``).
    method : str
        HTTP method (``GET``, ``POST``).
    host : {"accounts", "api"}
        Base URL the path is appended to: the org's accounts server or its API domain.
    path : str
        Path template; ``{version}`` is the CRM API version, ``{module}`` the CRM module.
    module : str
        Default ``{module}`` of the path (``Leads``); "" for paths without one.
    scopes : tuple of str
        OAuth scopes the call needs (a grant must include them).
    permission : str
        The CRM profile permission the call needs ("" for Accounts endpoints).
    params : tuple of str
        Query (GET) or form / JSON body (POST) fields of the request.
    answer : str
        What a successful answer holds.
    parser : str
        The function that reads a successful answer (dotted path in this package).
    doc : str
        Zoho's page for the endpoint.
    versions : tuple of str
        CRM API versions Zoho documents the call for (empty for Accounts endpoints).
    """

    name: str
    method: str
    host: str
    path: str
    module: str = ""
    scopes: tuple[str, ...] = ()
    permission: str = ""
    params: tuple[str, ...] = ()
    answer: str = ""
    parser: str = ""
    doc: str = ""
    versions: tuple[str, ...] = ()

    def path_for(self, version: str = "", module: str = "") -> str:
        """The path with ``{version}`` and ``{module}`` filled in (module: the default)."""
        return self.path.format(version=version, module=module or self.module)

    def url(self, base: str, version: str = "", module: str = "") -> str:
        """``base`` (accounts server or API domain) joined with :meth:`path_for`."""
        return base.rstrip("/") + self.path_for(version, module)

    def match(self, path: str) -> dict[str, str] | None:
        """The template's fields if ``path`` is this endpoint's path, else None.

        ``/crm/v5/Leads/actions/mass_convert`` matches ``MASS_CONVERT_STATUS`` with
        ``{"version": "v5", "module": "Leads"}``; used by the simulator to route.
        """
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        found = re.fullmatch(pattern, path.rstrip("/") or "/")
        return None if found is None else found.groupdict()


_CRM = "https://www.zoho.com/crm/developer/docs/api/v8"
_ACCOUNTS_DOC = "https://www.zoho.com/accounts/protocol/oauth"

MASS_CONVERT_STATUS = Endpoint(
    name="mass_convert_status",
    method="GET",
    host=API,
    path="/crm/{version}/{module}/actions/mass_convert",
    module="Leads",
    scopes=("ZohoCRM.mass_convert.leads.READ",),
    permission="the mass-convert (Convert Leads) permission",
    params=("job_id",),
    answer='{"data": [{"Status", "Total_Count", "Converted_Count", "Not_Converted_Count", '
    '"Failed_Count"}]}: the status and lead counts of one job',
    parser="api.status.parse_status",
    doc=f"{_CRM}/mass-convert-status.html",
    versions=("v5", "v6", "v7", "v8"),  # no v4 status page was found (UNVERIFIED)
)
MASS_CONVERT_SCHEDULE = Endpoint(
    name="mass_convert_schedule",
    method="POST",
    host=API,
    path="/crm/{version}/{module}/actions/mass_convert",
    module="Leads",
    scopes=("ZohoCRM.mass_convert.leads.CREATE",),
    permission="the mass-convert (Convert Leads) permission",
    params=(
        "ids",
        "Deals",
        "assign_to",
        "portal_user_type",
        "related_modules",
        "carry_over_tags",
        "move_attachments_to",
        "apply_assignment_threshold",
    ),
    answer='200 (202 per the sibling inventory call) {"code": "SCHEDULED", "details": '
    '{"job_id"}, "message": "Mass Convert scheduled successfully"}: the new job\'s id',
    doc=f"{_CRM}/mass-convert-lead.html",
    versions=API_VERSIONS,  # pages v4 to v8
)
TOKEN = Endpoint(
    name="token",
    method="POST",
    host=ACCOUNTS,
    path="/oauth/v2/token",
    params=("grant_type", "client_id", "client_secret", "refresh_token", "code", "redirect_uri"),
    answer="access_token, expires_in (seconds, or ms with expires_in_sec), api_domain, "
    "token_type, refresh_token (grant exchange only); failures are HTTP 200 with 'error'",
    parser="auth.hooks.zoho_token_response",
    doc=f"{_CRM}/refresh.html",
)
REVOKE = Endpoint(
    name="revoke",
    method="POST",
    host=ACCOUNTS,
    path="/oauth/v2/token/revoke",
    params=("token",),
    answer='{"status": "success"}; HTTP 400 for a token that is invalid already',
    doc=f"{_ACCOUNTS_DOC}/revoke-refresh-token.html",
)
AUTHORIZE = Endpoint(
    name="authorize",
    method="GET",
    host=ACCOUNTS,
    path="/oauth/v2/auth",
    scopes=MASS_CONVERT_STATUS.scopes,
    params=("response_type", "client_id", "scope", "redirect_uri", "access_type", "prompt"),
    answer="a browser page; the redirect carries code, location, accounts-server",
    doc=f"{_ACCOUNTS_DOC}/web-apps/authorization.html",
)

#: Every endpoint, by name.
ENDPOINTS: dict[str, Endpoint] = {
    e.name: e for e in (MASS_CONVERT_STATUS, MASS_CONVERT_SCHEDULE, TOKEN, REVOKE, AUTHORIZE)
}

#: Scope of the status call (what a grant for this package must include).
MASS_CONVERT_READ_SCOPE = MASS_CONVERT_STATUS.scopes[0]
#: Scope of scheduling a mass convert.
MASS_CONVERT_CREATE_SCOPE = MASS_CONVERT_SCHEDULE.scopes[0]
