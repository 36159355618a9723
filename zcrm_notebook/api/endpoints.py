"""One descriptor per Zoho endpoint this package calls (or the simulator serves).

An :class:`Endpoint` says where a call goes (``accounts`` server or ``api`` domain, path
template, HTTP method), what it needs (OAuth scopes, CRM permission, parameters) and what
its answer holds. The client builds its URLs from them, the grant and web flows take
their scope lists from them, the OAuth hooks their token paths, and the simulator routes
its requests with them, so a new endpoint (Get Records on Leads, the inventory
conversions) is a descriptor here plus its parser, not a change across the tree. Zoho's
pages for each are linked in ``docs/zoho-api.md``. :data:`SCOPE_SETS` names the scopes a
grant needs for what the user means to do (watch jobs, convert leads, diagnose leads), from
the descriptors of the calls each one makes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = [
    "Endpoint",
    "ACCOUNTS",
    "API",
    "API_VERSIONS",
    "MASS_CONVERT_STATUS",
    "MASS_CONVERT_SCHEDULE",
    "GET_RECORDS",
    "CONVERT_RECORD",
    "TOKEN",
    "REVOKE",
    "AUTHORIZE",
    "ENDPOINTS",
    "MASS_CONVERT_READ_SCOPE",
    "MASS_CONVERT_CREATE_SCOPE",
    "SCOPE_SETS",
    "scopes_for",
    "scope_covers",
    "missing_scopes",
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
        Path template; ``{version}`` is the CRM API version, ``{module}`` the CRM module,
        ``{record_id}`` a record's id.
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

    def path_for(self, version: str = "", module: str = "", record_id: str = "") -> str:
        """The path with ``{version}``, ``{module}`` (default: the descriptor's) and
        ``{record_id}`` filled in."""
        return self.path.format(version=version, module=module or self.module, record_id=record_id)

    def url(self, base: str, version: str = "", module: str = "", record_id: str = "") -> str:
        """``base`` (accounts server or API domain) joined with :meth:`path_for`."""
        return base.rstrip("/") + self.path_for(version, module, record_id)

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
    parser="api.conversion.parse_schedule",
    doc=f"{_CRM}/mass-convert-lead.html",
    versions=API_VERSIONS,  # pages v4 to v8
)
GET_RECORDS = Endpoint(
    name="get_records",
    method="GET",
    host=API,
    path="/crm/{version}/{module}",
    module="Leads",
    scopes=("ZohoCRM.modules.leads.READ",),
    permission="read access to Leads",
    params=("ids", "fields", "converted"),
    answer='{"data": [records], "info": {...}}; 204 with no body when nothing matches',
    parser="api.conversion.parse_records",
    doc=f"{_CRM}/get-records.html",
    versions=API_VERSIONS,
)
CONVERT_RECORD = Endpoint(
    name="convert_record",
    method="POST",
    host=API,
    path="/crm/{version}/{module}/{record_id}/actions/convert",
    module="Leads",
    scopes=("ZohoCRM.modules.leads.CREATE",),
    permission="the Convert Leads permission and creating Contacts, Accounts and Deals",
    params=(
        "overwrite",
        "notify_lead_owner",
        "notify_new_entity_owner",
        "move_attachments_to",
        "Accounts",
        "Contacts",
        "assign_to",
        "Deals",
        "carry_over_tags",
    ),
    answer='{"data": [{"code": "SUCCESS", "details": {"Contacts", "Accounts", "Deals"}}]}; '
    "errors at the top level or in data[0] (5 credits)",
    parser="api.conversion.parse_convert",
    doc=f"{_CRM}/convert-lead.html",
    versions=API_VERSIONS,
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
    e.name: e
    for e in (
        MASS_CONVERT_STATUS,
        MASS_CONVERT_SCHEDULE,
        GET_RECORDS,
        CONVERT_RECORD,
        TOKEN,
        REVOKE,
        AUTHORIZE,
    )
}

#: Scope of the status call (what a grant for this package must include).
MASS_CONVERT_READ_SCOPE = MASS_CONVERT_STATUS.scopes[0]
#: Scope of scheduling a mass convert.
MASS_CONVERT_CREATE_SCOPE = MASS_CONVERT_SCHEDULE.scopes[0]

#: What the user means to do -> the endpoints it calls. ``watch``: poll job statuses;
#: ``convert``: also schedule mass conversions and read the leads back; ``diagnose``: also
#: the single-lead convert that tells why a lead was not converted (it converts the lead
#: when it can: a grant without it can never convert a lead one by one).
_USES: dict[str, tuple[Endpoint, ...]] = {
    "watch": (MASS_CONVERT_STATUS,),
    "convert": (MASS_CONVERT_STATUS, MASS_CONVERT_SCHEDULE, GET_RECORDS),
    "diagnose": (MASS_CONVERT_STATUS, MASS_CONVERT_SCHEDULE, GET_RECORDS, CONVERT_RECORD),
}
#: Use -> the OAuth scopes a grant needs for it (from the endpoint descriptors).
SCOPE_SETS: dict[str, tuple[str, ...]] = {
    use: tuple(dict.fromkeys(s for e in endpoints for s in e.scopes))
    for use, endpoints in _USES.items()
}


def scopes_for(use: str) -> tuple[str, ...]:
    """The scopes of :data:`SCOPE_SETS` for ``use`` (``watch``, ``convert``, ``diagnose``).

    Raises
    ------
    ConfigError
        For another word (the message lists the known ones).
    """
    try:
        return SCOPE_SETS[use]
    except KeyError:
        known = ", ".join(SCOPE_SETS)
        raise ConfigError(f"unknown scope set {use!r}; expected one of {known}") from None


def scope_covers(granted: Iterable[str], needed: str) -> bool:
    """True when one of the ``granted`` scopes allows ``needed``.

    Zoho's scopes read ``ZohoCRM.{group}.{resource}.{operation}``; ``...{resource}.ALL``
    and ``...{group}.ALL`` cover every operation below them (``ZohoCRM.modules.ALL`` covers
    ``ZohoCRM.modules.leads.READ``; the scope list of Zoho's OpenAPI ``common.json``
    ``iam-oauth2-schema``, ``docs/zoho-api.md`` "Scopes"). Case is ignored.
    """
    resource = needed.rsplit(".", 1)[0]  # ZohoCRM.modules.leads
    group = resource.rsplit(".", 1)[0]  # ZohoCRM.modules
    ok = {needed.lower(), f"{resource}.all".lower(), f"{group}.all".lower()}
    return any(str(g).strip().lower() in ok for g in granted)


def missing_scopes(granted: Iterable[str], use: str) -> list[str]:
    """The scopes of ``use`` (:func:`scopes_for`) that ``granted`` does not cover."""
    have = list(granted)
    return [s for s in scopes_for(use) if not scope_covers(have, s)]
