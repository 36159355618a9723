"""What a mass conversion does besides converting: the deal, the new owner, the other options.

:class:`ConvertOptions` holds the optional keys of the mass-convert POST body (Zoho CRM API
"Mass Convert Lead", https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-lead.html;
``docs/zoho-api.md`` "Mass convert POST") and builds that flat JSON body for a chunk of lead
ids, and the single convert's ``{"data": [...]}`` body for the diagnosis. Options are
checked when made (one line naming the bad value), compared and stored by :meth:`key` (a
canonical JSON text), and varied per lead by the override columns of a leads table
(:meth:`with_row`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..api.conversion import MAX_IDS_PER_POST
from ..api.endpoints import API_VERSIONS
from ..errors import ConfigError
from ..inputs.ids import id_problem

__all__ = ["ConvertOptions", "DEAL_REQUIRED", "ROW_KEYS"]

#: Keys a deal must have (Zoho: "mandatory when you want to create a deal"; ``Pipeline``
#: too when the org uses pipelines, which only Zoho knows).
DEAL_REQUIRED = ("Deal_Name", "Stage", "Closing_Date")
#: Override column of a leads table -> the ``Deals`` key it sets (``assign_to`` apart).
ROW_KEYS = {
    "deal_name": "Deal_Name",
    "deal_stage": "Stage",
    "closing_date": "Closing_Date",
    "pipeline": "Pipeline",
}


def _frozen(value: Any) -> Any:
    """A JSON-like value with its mappings and sequences copied (never the caller's)."""
    return json.loads(json.dumps(value))


@dataclass(frozen=True, eq=False)
class ConvertOptions:
    """The optional keys of a mass conversion (all off by default: contacts and accounts
    only, owned as the leads were).

    Parameters
    ----------
    deal : mapping, optional
        ``Deals``: create a deal per lead, e.g. ``{"Deal_Name": "Renewal", "Stage":
        "Qualification", "Closing_Date": "2026-03-31", "Pipeline": "Standard"}``; needs
        ``Deal_Name``, ``Stage`` and ``Closing_Date`` (YYYY-MM-DD), plus ``Pipeline`` in orgs
        with pipelines (Zoho refuses the POST otherwise).
    assign_to : str, optional
        User id the converted records go to (``assign_to: {id}``).
    portal_user_type : mapping, optional
        ``{id, api_name}`` of the portal for the new contacts.
    related_modules : sequence of mapping
        ``[{api_name, id}]``: Tasks / Events / Calls of the lead whose owner becomes
        ``assign_to``.
    carry_over_tags : sequence of mapping
        ``[{id, api_name}]`` of tags carried to the new records.
    move_attachments_to : mapping, optional
        ``{api_name, id}``: the module (Contacts, Deals or Accounts) the attachments go to.
    apply_assignment_threshold : bool, optional
        v8 only (refused by :meth:`check_version` on v5-v7).

    Raises
    ------
    ConfigError
        A deal missing a required key, a ``Closing_Date`` that is not YYYY-MM-DD, an
        ``assign_to`` that is not a user id, a threshold that is not a boolean, a value
        that cannot be sent as JSON.
    """

    deal: Mapping[str, Any] | None = None
    assign_to: str | None = None
    portal_user_type: Mapping[str, Any] | None = None
    related_modules: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    carry_over_tags: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    move_attachments_to: Mapping[str, Any] | None = None
    apply_assignment_threshold: bool | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        try:
            for name in ("deal", "portal_user_type", "move_attachments_to"):
                value = getattr(self, name)
                set_(self, name, None if value is None else _frozen(dict(value)))
            for name in ("related_modules", "carry_over_tags"):
                set_(self, name, tuple(_frozen([dict(v) for v in getattr(self, name)])))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"conversion options cannot be sent as JSON: {exc}") from None
        if self.assign_to is not None:
            clean, why = id_problem(self.assign_to)
            if clean is None:
                raise ConfigError(f"assign_to {self.assign_to!r} is not a user id: {why}")
            set_(self, "assign_to", clean)
        if self.deal is not None:
            _check_deal(self.deal)
        threshold = self.apply_assignment_threshold
        if threshold is not None and not isinstance(threshold, bool):
            raise ConfigError(f"apply_assignment_threshold must be True or False: {threshold!r}")

    def to_dict(self) -> dict[str, Any]:
        """The options as plain JSON values (what :meth:`from_dict` takes back)."""
        return {
            "deal": self.deal,
            "assign_to": self.assign_to,
            "portal_user_type": self.portal_user_type,
            "related_modules": list(self.related_modules),
            "carry_over_tags": list(self.carry_over_tags),
            "move_attachments_to": self.move_attachments_to,
            "apply_assignment_threshold": self.apply_assignment_threshold,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ConvertOptions:
        """Options from :meth:`to_dict` (or its JSON text, :meth:`key`)."""
        return cls(**dict(values))

    def key(self) -> str:
        """Canonical JSON of the options: equal options, equal keys (sorted, compact)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConvertOptions) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.to_dict().items() if v not in (None, [])}
        return f"ConvertOptions({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def body(self, lead_ids: Sequence[str]) -> dict[str, Any]:
        """The flat JSON body of ``POST .../Leads/actions/mass_convert`` for ``lead_ids``.

        Raises
        ------
        ConfigError
            Not 1 to 50 lead ids.
        """
        ids = [str(i) for i in lead_ids]
        if not 1 <= len(ids) <= MAX_IDS_PER_POST:
            raise ConfigError(f"a mass convert takes 1-{MAX_IDS_PER_POST} lead ids, not {len(ids)}")
        body: dict[str, Any] = {"ids": ids}
        if self.deal is not None:
            body["Deals"] = self.deal
        if self.assign_to is not None:
            body["assign_to"] = {"id": self.assign_to}
        for name in ("portal_user_type", "move_attachments_to", "apply_assignment_threshold"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        for name in ("related_modules", "carry_over_tags"):
            if getattr(self, name):
                body[name] = list(getattr(self, name))
        return body

    def single_body(self) -> dict[str, Any]:
        """The body of the single convert (``{"data": [{...}]}``) with the same deal, owner
        and attachments (Zoho CRM API "Convert Lead")."""
        item: dict[str, Any] = {}
        if self.deal is not None:
            item["Deals"] = self.deal
        if self.assign_to is not None:
            item["assign_to"] = {"id": self.assign_to}
        if self.move_attachments_to is not None:
            item["move_attachments_to"] = self.move_attachments_to
        return {"data": [item]}

    def check_version(self, api_version: str, org: str) -> None:
        """Refuse options the org's API version does not have.

        Raises
        ------
        ConfigError
            ``apply_assignment_threshold`` with an org on v5-v7 (v8 only).
        """
        if self.apply_assignment_threshold is not None and api_version != API_VERSIONS[-1]:
            raise ConfigError(
                f"org {org!r} uses API {api_version}: apply_assignment_threshold needs "
                f'{API_VERSIONS[-1]} (set api_version = "{API_VERSIONS[-1]}" for the org)'
            )

    def with_row(self, row: Mapping[str, Any]) -> ConvertOptions:
        """These options with a lead's override columns (``assign_to``, ``deal_name``,
        ``deal_stage``, ``closing_date``, ``pipeline``; missing or None: unchanged).

        Raises
        ------
        ConfigError
            The deal that results misses a required key (names it).
        """
        given = {k: v for k, v in row.items() if v is not None and k in (*ROW_KEYS, "assign_to")}
        if not given:
            return self
        values = self.to_dict()
        if "assign_to" in given:
            values["assign_to"] = given["assign_to"]
        deal = {**(self.deal or {}), **{ROW_KEYS[k]: v for k, v in given.items() if k in ROW_KEYS}}
        values["deal"] = deal or None
        return ConvertOptions.from_dict(values)


def _check_deal(deal: Mapping[str, Any]) -> None:
    missing = [k for k in DEAL_REQUIRED if deal.get(k) in (None, "")]
    if missing:
        raise ConfigError(
            f"a deal needs {', '.join(DEAL_REQUIRED)}; missing {', '.join(missing)} "
            "(command line: --deal-name, --deal-stage, --closing-date)"
        )
    closing = deal["Closing_Date"]
    try:
        date.fromisoformat(str(closing))
    except ValueError:
        raise ConfigError(f"Closing_Date {closing!r} is not a date YYYY-MM-DD") from None
