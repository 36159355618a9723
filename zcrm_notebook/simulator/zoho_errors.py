"""Zoho CRM's error answers in Zoho's documented words: one table for every simulated endpoint.

Each row of :data:`ERRORS` is one Zoho code: the HTTP status Zoho documents for it, its
message (Zoho's own wording where a Zoho page or OpenAPI file prints one; otherwise a
composed text, marked ``message_documented=False``), the ``details`` shapes Zoho documents
(the keys a body may carry; the simulator refuses any other), and the source. The rows are
those of ``docs/zoho-api.md``, "Error table" (``tests/test_zoho_errors.py`` keeps them
equal); the conversion endpoints add their codes here. :func:`error_body` builds the
envelope ``{"code", "details", "message", "status": "error"}``. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ZohoError", "ERRORS", "UNVERIFIED_PERMISSION", "error_body"]

UNVERIFIED_PERMISSION = "Crm_Implied_Mass_Convert_Leads"
"""Permission named by ``NO_PERMISSION`` on the mass-convert calls. **UNVERIFIED**: no
Zoho source prints the name of this permission (``docs/zoho-api.md``, "Unverified facts");
it follows the ``Crm_Implied_*`` pattern of Zoho's other permission names."""

_NONE: tuple[frozenset[str], ...] = (frozenset(),)


def _shapes(*keys: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(k.split()) for k in keys)


@dataclass(frozen=True)
class ZohoError:
    """One Zoho error code as the simulator answers it.

    Attributes
    ----------
    http_status : int
        The HTTP status Zoho documents for the code.
    message : str
        Zoho's message where documented (``message_documented``), else a composed one.
    message_documented : bool
        False when no Zoho source prints a message for the code: the text is ours.
    shapes : tuple of frozenset of str
        The documented key sets of ``details`` (``frozenset()``: empty details).
    source : str
        Where the code, status and message come from.
    """

    http_status: int
    message: str
    message_documented: bool
    shapes: tuple[frozenset[str], ...]
    source: str


ERRORS: dict[str, ZohoError] = {
    "INVALID_TOKEN": ZohoError(
        401, "invalid oauth token", True, _NONE, "v7 CRM pages; OAS record.json API_Exception"
    ),
    "AUTHENTICATION_FAILURE": ZohoError(
        401, "Authentication failed", True, _NONE, "v7 CRM pages (rich text fields, picklists)"
    ),
    "OAUTH_SCOPE_MISMATCH": ZohoError(
        401, "Unauthorized", False, _NONE, "v7 convert-lead.html ('Unauthorized' describes it)"
    ),
    "NO_PERMISSION": ZohoError(
        403,
        "permission denied",
        True,
        _shapes("permissions"),
        "mass-convert-lead.html v7; OAS common.json PermissionError; message record.json",
    ),
    "INVALID_URL_PATTERN": ZohoError(
        404,
        "Please check if the URL trying to access is a correct one",
        True,
        _NONE,
        "v7 convert-lead.html; OAS record.json",
    ),
    "INVALID_REQUEST_METHOD": ZohoError(
        400,
        "The http request method type is not a valid one",
        True,
        _NONE,
        "v7 mass-convert-lead.html, convert-lead.html",
    ),
    "TOO_MANY_REQUESTS": ZohoError(
        429,
        "too many requests",
        False,
        _NONE,
        "v8 status-codes.html (HTTP 429); code in OAS bulk_read.json; body undocumented",
    ),
    "INTERNAL_ERROR": ZohoError(
        500,
        "Internal server error occurred.",
        True,
        _NONE,
        "v7 mass-convert-lead.html; message OAS record.json",
    ),
    "INVALID_DATA": ZohoError(
        400,
        "invalid data",
        True,
        _shapes(
            "param_name",
            "param",
            "api_name json_path",
            "expected_data_type api_name json_path",
            "resource_path_index",
            "maximum_length api_name json_path",
        ),
        "mass-convert-status.html v5-v8, mass-convert-lead.html v7; OAS mass_convert.json; "
        "message inventory_mass_convert.json, convert_lead.json",
    ),
    "REQUIRED_PARAM_MISSING": ZohoError(
        400,
        "One of the expected parameter is missing",
        True,
        _shapes("param_name param", "param_name"),
        "mass-convert-status.html v5-v8; OAS common.json ParamDetails; message record.json",
    ),
    "MANDATORY_NOT_FOUND": ZohoError(
        400,
        "required field not found",
        True,
        _shapes("api_name json_path", "expected_fields"),
        "mass-convert-lead.html v7; OAS mass_convert.json MandatoryError",
    ),
    "EXPECTED_FIELD_MISSING": ZohoError(
        400,
        "Specify atleast one field",
        True,
        _shapes("expected_fields"),
        "OAS mass_convert.json MandatoryError; message inventory_mass_convert.json",
    ),
    "LIMIT_EXCEEDED": ZohoError(
        400,
        "limit exceeded",
        False,
        (*_shapes("limit limit_due_to"), frozenset()),
        "mass-convert-lead.html v7; details OAS inventory_mass_convert.json (UNVERIFIED for "
        "Leads); Get Records documents no details",
    ),
    "AMBIGUITY_DURING_PROCESSING": ZohoError(
        400,
        "ambiguity during processing",
        False,
        _shapes("ambiguity_due_to"),
        "mass-convert-lead.html v7; OAS common.json AmbiguityError",
    ),
    "ID_ALREADY_CONVERTED": ZohoError(
        400,
        "id already converted",
        True,
        _shapes("resource_path_index"),
        "v7 convert-lead.html; OAS convert_lead.json ID_Already_Converted_API_Exception",
    ),
    "DUPLICATE_DATA": ZohoError(
        400,
        "duplicate data",
        True,
        _shapes("duplicate_record api_name json_path"),
        "v7 convert-lead.html; details and message OAS record.json",
    ),
    "RECORD_LOCKED": ZohoError(
        400,
        "cannot convert record that is not approved yet",
        True,
        _NONE,
        "v7 convert-lead.html",
    ),
    "NOT_APPROVED": ZohoError(
        400,
        "cannot convert record that is not approved yet",
        True,
        _NONE,
        "v7 convert-lead.html",
    ),
    "API_NOT_SUPPORTED": ZohoError(
        400,
        "the api is not supported in this version",
        False,
        _shapes("supported_version"),
        "OAS common.json UnsupportedVersionError (HTTP status and message undocumented)",
    ),
}


def error_body(
    code: str, details: dict[str, Any] | None = None, *, message: str | None = None
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, envelope) of Zoho's error ``code``.

    Parameters
    ----------
    code : str
        A key of :data:`ERRORS`.
    details : dict, optional
        Default ``{}`` (or ``{"permissions": [UNVERIFIED_PERMISSION]}`` for
        ``NO_PERMISSION``); its keys must be one of the code's documented shapes.
    message : str, optional
        An endpoint's own documented message for the code (e.g. Get Records'
        ``LIMIT_EXCEEDED``: "Max field limit exceeded"); default the table's.

    Raises
    ------
    KeyError
        An unknown code. ValueError: ``details`` of a shape Zoho does not document.
    """
    row = ERRORS[code]
    if details is None:
        details = {"permissions": [UNVERIFIED_PERMISSION]} if code == "NO_PERMISSION" else {}
    if frozenset(details) not in row.shapes:
        shapes = " or ".join("{" + ", ".join(sorted(s)) + "}" for s in row.shapes)
        raise ValueError(f"{code}: details {sorted(details)} is not a documented shape ({shapes})")
    body = {"code": code, "details": dict(details), "message": message or row.message}
    return row.http_status, {**body, "status": "error"}
