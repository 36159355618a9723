"""The simulator's Zoho Accounts side: OAuth token, grant and revoke endpoints.

:class:`AccountsMixin`, inherited by :class:`~zcrm_notebook.simulator.Simulator`, answers
``POST .../oauth/v2/token`` (refresh and authorization-code grants; failures are HTTP 200
with an ``error`` key) and ``POST .../oauth/v2/token/revoke`` (``{"status": "success"}``;
HTTP 400 for a token it does not know, Zoho Accounts revoke-refresh-token.html), and
issues grant tokens (:meth:`issue_grant_token`). Zoho's token limits (CRM v8
token-validity.html; ``docs/zoho-api.md``, "OAuth") are modelled:

- at most 10 new access tokens per refresh token in 10 minutes (``token_throttle``):
  more answer ``Access Denied``;
- at most 15 active access tokens per refresh token (``max_active_access_tokens``): the
  16th invalidates the oldest, which then answers 401 ``INVALID_TOKEN``;
- at most 20 refresh tokens per user (``max_refresh_tokens``; one user per simulated
  org): the 21st invalidates the first, which then answers ``invalid_code``.

UNDOCUMENTED and labelled so: a JSON body (instead of form fields) is read as no fields,
so it answers ``invalid_client`` (what Zoho answers is not documented); an
``unsupported_grant_type`` answer (OAuth 2.0's word, no Zoho page found). The token
records :class:`RefreshRecord`, :class:`AccessRecord` and :class:`GrantRecord` live here;
the CRM side (:mod:`zcrm_notebook.simulator.crm`) checks access tokens against them.
Standard library only; tokens are never logged.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .scenario import SimClock, SimOrg
from .server import Answer, json_answer
from .stats import UNKNOWN_ORG, SimStats

_THROTTLED = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. "
    "Please try again after some time.",
}


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


@dataclass
class RefreshRecord:
    org: str
    scopes: tuple[str, ...]
    revoked: bool = False
    issued: list[float] = field(default_factory=list)  # sim times access tokens were issued
    active: list[str] = field(default_factory=list)  # its access tokens, oldest first


@dataclass
class AccessRecord:
    org: str
    dc: str
    scopes: tuple[str, ...]
    expires_at: float
    refresh: str
    revoked: bool = False


@dataclass
class GrantRecord:
    org: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


class AccountsMixin:
    """Zoho Accounts endpoints of :class:`~zcrm_notebook.simulator.Simulator`.

    Uses the simulator's clock, stats, lock, orgs, token tables and token options (set up
    by ``Simulator.__init__``); answers are built for ``Simulator.handle`` to route.
    """

    clock: SimClock
    stats: SimStats
    token_lifetime_s: float
    expires_in_style: str
    token_throttle: tuple[int, float]
    max_active_access_tokens: int
    max_refresh_tokens: int
    _lock: threading.RLock
    _orgs: dict[str, SimOrg]
    _refresh: dict[str, RefreshRecord]
    _access: dict[str, AccessRecord]
    _grants: dict[str, GrantRecord]

    if TYPE_CHECKING:

        def _org(self, org: str) -> SimOrg: ...

        def api_domain(self, dc: str) -> str: ...

    def issue_grant_token(
        self, org: str, scopes: Iterable[str] | None = None, lifetime_s: float = 180.0
    ) -> str:
        """A single-use grant token (authorization code) for ``grant_type=authorization_code``.

        Parameters
        ----------
        org : str
            Org whose client may exchange it.
        scopes : iterable of str, optional
            Scopes of the refresh token it yields; default the org's scopes.
        lifetime_s : float, default 180.0
            Simulated seconds it stays valid (Zoho self client: 3 minutes).
        """
        o = self._org(org)
        code = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        granted = tuple(o.scopes if scopes is None else scopes)
        with self._lock:
            self._grants[code] = GrantRecord(org, granted, self.clock.time() + lifetime_s)
        return code

    @staticmethod
    def _form(query: dict, headers: Any, body: bytes) -> dict[str, str]:
        """Query + form fields (first values); empty for a JSON body (UNDOCUMENTED: the
        token endpoint then answers ``invalid_client``, as no client id was read)."""
        content_type = (headers.get("Content-Type") or "").lower()
        if "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
            return {}
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in {**query, **fields}.items()}

    def _token_endpoint(self, dc: str, query: dict, headers: Any, body: bytes) -> Answer:
        now = self.clock.time()
        form = self._form(query, headers, body)
        org, answer = self._token_answer(dc, form, now)
        self.stats.record(now, "token", org, None, 200, grant=form.get("grant_type", ""))
        return json_answer(200, answer)

    def _token_answer(self, dc: str, form: dict[str, str], now: float) -> tuple[str, dict]:
        clients = [o for o in self._orgs.values() if o.client_id == form.get("client_id")]
        here = [o for o in clients if o.dc == dc]
        if not here:  # unknown client, or a client of another data center
            return (clients[0].name if clients else UNKNOWN_ORG), {"error": "invalid_client"}
        names = {o.name for o in here if o.client_secret == form.get("client_secret")}
        if not names:
            return here[0].name, {"error": "invalid_client_secret"}
        grant = form.get("grant_type")
        if grant == "refresh_token":
            return self._refresh_grant(dc, names, form.get("refresh_token", ""), now)
        if grant == "authorization_code":
            return self._code_grant(dc, names, form.get("code", ""), now)
        return min(names), {"error": "unsupported_grant_type"}

    def _refresh_grant(self, dc: str, names: set, token: str, now: float) -> tuple[str, dict]:
        with self._lock:
            rec = self._refresh.get(token)
            if rec is None or rec.revoked or rec.org not in names:
                return min(names), {"error": "invalid_code"}
            limit, window_s = self.token_throttle
            rec.issued = [t for t in rec.issued if t > now - window_s]
            if len(rec.issued) >= limit:
                return rec.org, dict(_THROTTLED)
            access = self._issue_access(rec, token, dc, now)
        return rec.org, self._token_json(access, dc)

    def _code_grant(self, dc: str, names: set, code: str, now: float) -> tuple[str, dict]:
        with self._lock:
            grant = self._grants.get(code)
            if grant is None or grant.used or now >= grant.expires_at or grant.org not in names:
                return min(names), {"error": "invalid_code"}
            grant.used = True
            refresh = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
            rec = self._refresh[refresh] = RefreshRecord(grant.org, grant.scopes)
            self._cap_refresh_tokens(grant.org)
            access = self._issue_access(rec, refresh, dc, now)
        extra = {"refresh_token": refresh, "scope": " ".join(grant.scopes)}
        return grant.org, self._token_json(access, dc, extra)

    def _issue_access(self, rec: RefreshRecord, refresh: str, dc: str, now: float) -> str:
        """A new access token of ``refresh``; the oldest active one beyond Zoho's 15 is
        invalidated (call with the lock held)."""
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        expires_at = now + self.token_lifetime_s
        self._access[token] = AccessRecord(rec.org, dc, rec.scopes, expires_at, refresh)
        rec.issued.append(now)
        live = [t for t in rec.active if self._live(t, now)] + [token]
        for old in live[: -self.max_active_access_tokens]:
            self._access[old].revoked = True
        rec.active = live[-self.max_active_access_tokens :]
        return token

    def _live(self, token: str, now: float) -> bool:
        acc = self._access[token]
        return not acc.revoked and now < acc.expires_at

    def _cap_refresh_tokens(self, org: str) -> None:
        """Beyond Zoho's 20 refresh tokens per user, invalidate the first (lock held)."""
        live = [t for t, r in self._refresh.items() if r.org == org and not r.revoked]
        for old in live[: -self.max_refresh_tokens]:
            self._revoke_refresh(old)

    def _revoke_refresh(self, token: str) -> None:
        """Revoke a refresh token and the access tokens made from it (lock held)."""
        self._refresh[token].revoked = True
        for acc in self._access.values():
            acc.revoked = acc.revoked or acc.refresh == token

    def _token_json(self, access: str, dc: str, extra: dict | None = None) -> dict:
        answer: dict[str, Any] = {"access_token": access, **(extra or {})}
        answer.update(api_domain=self.api_domain(dc), token_type="Bearer")
        if self.expires_in_style == "ms":
            answer["expires_in"] = _number(self.token_lifetime_s * 1000)
            answer["expires_in_sec"] = _number(self.token_lifetime_s)
        else:
            answer["expires_in"] = _number(self.token_lifetime_s)
        return answer

    def _revoke_endpoint(self, query: dict, headers: Any, body: bytes) -> Answer:
        """``{"status": "success"}``, or 400 with no body for a token that is unknown or
        revoked already (Zoho documents the 400, not its body)."""
        now = self.clock.time()
        token = self._form(query, headers, body).get("token", "")
        org, known = UNKNOWN_ORG, False
        with self._lock:
            if token in self._refresh and not self._refresh[token].revoked:
                org, known = self._refresh[token].org, True
                self._revoke_refresh(token)
            if token in self._access and not self._access[token].revoked:
                org, known = self._access[token].org, True
                self._access[token].revoked = True
        answer = json_answer(200, {"status": "success"}) if known else Answer(400)
        self.stats.record(now, "revoke", org, None, answer.status)
        return answer
