"""``zcrm-notebook auth``: get, show and revoke the OAuth tokens of the token store.

What the grant allows is chosen with ``--scopes``: ``watch`` (the default: poll job
statuses, ``ZohoCRM.mass_convert.leads.READ``), ``convert`` (also schedule mass
conversions and read leads back: ``ZohoCRM.mass_convert.leads.CREATE`` and
``ZohoCRM.modules.leads.READ``) or ``diagnose`` (also the single-lead convert of
``convert --diagnose``: ``ZohoCRM.modules.leads.CREATE``). The web flow asks Zoho for those
scopes; a Self Client's scopes are typed in the API console when the code is generated
(the command prints them, and checks the scopes Zoho says it granted).

Self client (Zoho API console > Self Client > Generate Code, with the scopes of
``zcrm-notebook auth --scopes convert --print-scopes``)::

    export ZOHO_CLIENT_SECRET=...        # or be prompted for it
    zcrm-notebook auth --org acme-eu --dc eu --client-id 1000.XXXX --grant-token 1000.abc...

Web flow (a server-based client with a registered redirect URI)::

    zcrm-notebook auth --org acme --dc us --client-id 1000.XXXX --auth-url \\
        --redirect-uri https://example.com/callback       # open the printed URL, approve
    zcrm-notebook auth --org acme --client-id 1000.XXXX --redirect-uri https://... \\
        --redirect-url 'https://example.com/callback?code=...&location=eu&accounts-server=...'

``--status`` (the default) lists the stored orgs with secrets masked; ``--revoke`` revokes
the org's refresh token at Zoho and deletes it. Client id, secret and data center come
from the flags, else the org's ``[orgs.NAME]`` table of ``--config``, else its stored
entry, else ``ZOHO_CLIENT_ID`` / ``ZOHO_CLIENT_SECRET`` / ``ZOHO_DC``, else a prompt (secret).
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from datetime import datetime, timezone

from ..api.datacenters import dc_codes, get_dc
from ..api.endpoints import SCOPE_SETS, missing_scopes, scopes_for
from ..auth.credentials import check_org_endpoints, check_org_label
from ..auth.grant import OAuthClient, exchange_grant_token, revoke
from ..auth.tokenstore import ENV_VAR, StoredToken, TokenStore
from ..auth.webflow import authorization_url, complete_authorization
from ..errors import ConfigError
from ..inputs.orgs import client_settings
from ..redact import mask, register_secret
from .common import check_out_folder

__all__ = ["add_parser", "run", "status_rows"]


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the ``auth`` command to ``subparsers`` (from ``add_subparsers``); returns it.

    ``parents`` holds the options every command takes (``-v`` after the command).
    """
    p = subparsers.add_parser(
        "auth",
        parents=parents,
        help="get, show or revoke Zoho OAuth tokens (token store)",
        description="Get, show and revoke the OAuth tokens of the token store.",
    )
    act = p.add_mutually_exclusive_group()
    act.add_argument(
        "--grant-token",
        metavar="CODE",
        help="exchange a Self Client grant token (once) and store the result",
    )
    act.add_argument(
        "--auth-url",
        action="store_true",
        help="web flow step 1: print the URL to open in a browser",
    )
    act.add_argument(
        "--redirect-url",
        metavar="URL",
        help="web flow step 2: the address Zoho redirected to (quote it)",
    )
    act.add_argument(
        "--revoke", action="store_true", help="revoke the org's refresh token at Zoho and delete it"
    )
    act.add_argument(
        "--status", action="store_true", help="list stored tokens, secrets masked (the default)"
    )
    act.add_argument(
        "--print-scopes",
        action="store_true",
        help="print the scopes of --scopes (to type in the API console's Generate Code)",
    )
    p.add_argument("--org", help="org label the token is stored under")
    p.add_argument("--dc", help=f"data center: {dc_codes()}")
    p.add_argument("--client-id", help="client id from the Zoho API console")
    p.add_argument("--config", help="TOML of orgs: take client id/secret/dc from [orgs.ORG]")
    p.add_argument("--store", help=f"token store file (default: ${ENV_VAR} or user config dir)")
    p.add_argument("--redirect-uri", help="web flow: the redirect URI registered for the client")
    p.add_argument("--state", help="web flow: the state printed by --auth-url (checked)")
    p.add_argument(
        "--scopes",
        choices=list(SCOPE_SETS),
        default="watch",
        help="what the grant is for: watch jobs (default), convert leads (schedule and read "
        "them back), diagnose (also the single-lead convert of `convert --diagnose`)",
    )
    p.add_argument(
        "--registered-dc",
        metavar="DC",
        help="web flow: data center of the API console where the client was registered "
        "(default us: Zoho's multi-DC guide starts every flow at accounts.zoho.com; cn for China)",
    )
    p.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="web flow: extra scope (repeatable); the read scope is always asked",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="timeout of the token request (30 s)",
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``zcrm-notebook auth``; returns the exit code (errors raise ``ZcrmError``)."""
    register_secret(args.grant_token)  # masked from here on, whatever echoes it
    if args.print_scopes:
        print(",".join(scopes_for(args.scopes)))
        return 0
    if args.store:
        check_out_folder(args.store, "--store")
    store = TokenStore(args.store)
    _check_dc_first(args, store)
    if args.revoke:
        entry = revoke(_need_org(args), store=store, timeout_s=args.timeout)
        print(
            f"the refresh token of org {entry.org!r} is revoked at {entry.accounts_url} "
            f"and deleted from {store.path}"
        )
        return 0
    if not (args.grant_token or args.auth_url or args.redirect_url):
        _no_setup_without_a_step(args)
        return _print_status(store, args.org)
    client = _client(args, store)
    if args.auth_url:
        return _print_auth_url(client, args)
    if args.grant_token:
        creds = exchange_grant_token(client, args.grant_token, store=store, timeout_s=args.timeout)
    else:
        creds = complete_authorization(
            client,
            args.redirect_url,
            redirect_uri=_need(args.redirect_uri, "--redirect-uri"),
            state=args.state,
            store=store,
            timeout_s=args.timeout,
        )
    print(
        f"stored a refresh token for org {creds.org!r} (data center {creds.dc}, "
        f"api_domain {creds.api_domain}) in {store.path}"
    )
    _warn_missing_scopes(store, creds.org, args.scopes)
    return 0


def _warn_missing_scopes(store: TokenStore, org: str, use: str) -> None:
    """Warn when Zoho said which scopes it granted and some of ``use`` are not among them."""
    entry = store.get(org)
    granted = entry.scopes if entry is not None else ()
    missing = missing_scopes(granted, use) if granted else []
    if missing:
        print(
            f"warning: the grant lacks {', '.join(missing)}: `{use}` calls will be refused "
            f"(OAUTH_SCOPE_MISMATCH); generate a new grant with "
            f"{','.join(scopes_for(use))}",
            file=sys.stderr,
        )


#: Options that only a token request uses: given without a step, the command is no status.
_SETUP = {"dc": "--dc", "client_id": "--client-id", "redirect_uri": "--redirect-uri"}


def _no_setup_without_a_step(args: argparse.Namespace) -> None:
    """Refuse setup options given without --grant-token, --auth-url or --redirect-url (a
    status check would ignore them)."""
    given = [flag for name, flag in _SETUP.items() if getattr(args, name, None)]
    if given:
        raise ConfigError(
            f"{' and '.join(given)} given but no --grant-token CODE: add the Self Client's "
            "grant token (or --auth-url / --redirect-url for the web flow); without them "
            "`auth` shows the stored tokens"
        )


def _check_dc_first(args: argparse.Namespace, store: TokenStore) -> None:
    """An unknown ``--dc`` is the first thing said (before a missing --org, grant token or
    client id), unless --config or the org's stored token may declare it a custom code."""
    if not args.dc or args.config or (args.org and store.get(args.org) is not None):
        return
    get_dc(args.dc)  # DataCenterError: the code as typed and the valid codes


def _need(value: str | None, flag: str) -> str:
    if not value:
        raise ConfigError(f"{flag} is required here")
    return value


def _need_org(args: argparse.Namespace) -> str:
    return _need(args.org, "--org NAME")


def _client(args: argparse.Namespace, store: TokenStore) -> OAuthClient:
    """The OAuth client of ``--org`` from flags, config, store entry, environment, prompt."""
    org = _need_org(args)
    found = client_settings(org, config=args.config or None, store=store)
    flags = {"dc": args.dc, "client_id": args.client_id}
    found.update({k: v.strip() for k, v in flags.items() if v})
    if not found.get("dc"):
        raise ConfigError(
            f"which data center is org {org!r} in? pass --dc (one of "
            f"{dc_codes()}); the API console's address shows it"
        )
    if not found.get("client_id"):
        raise ConfigError("no client id: pass --client-id (from the Zoho API console)")
    _check_local(org, found)  # before asking for the secret
    if not found.get("client_secret"):
        found["client_secret"] = _prompt_secret(org)
    return OAuthClient(org=org, **found)


def _check_local(org: str, found: dict) -> None:
    """The org label, data center and URLs of ``found``, checked as the client will be."""
    check_org_label(org)
    check_org_endpoints(
        org,
        str(found["dc"]).strip().lower(),
        found.get("accounts_url") or "",
        found.get("api_domain") or "",
        custom_dc=bool(found.get("custom_dc", False)),
    )


def _prompt_secret(org: str) -> str:
    if not sys.stdin.isatty():
        raise ConfigError(
            "no client secret: set ZOHO_CLIENT_SECRET, give --config with the org's table, "
            "or run in a terminal to be prompted (it is never taken on the command line)"
        )
    return getpass.getpass(f"Zoho client secret for org {org!r} (input hidden): ")


def _print_auth_url(client: OAuthClient, args: argparse.Namespace) -> int:
    redirect_uri = _need(args.redirect_uri, "--redirect-uri")
    url, state = authorization_url(
        client,
        redirect_uri,
        scopes=[*scopes_for(args.scopes), *args.scope],
        state=args.state,
        registered_dc=args.registered_dc,
    )
    print("Open this URL in a browser, sign in and approve:\n")
    print(f"  {url}\n")
    print("Then paste the address you were redirected to (keep the quotes):\n")
    print(
        f"  zcrm-notebook auth --org {client.org} --client-id {client.client_id} "
        f"--redirect-uri {redirect_uri} --state {state} --redirect-url '<ADDRESS>'"
    )
    return 0


def _expiry(entry: StoredToken, now: float) -> str:
    if not entry.access_token or entry.access_expires_at is None:
        return "none"
    when = datetime.fromtimestamp(entry.access_expires_at, timezone.utc)
    left = entry.access_expires_at - now
    text = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"{text} (in {left / 60:.0f} min)" if left > 0 else f"{text} (expired)"


def status_rows(store: TokenStore, org: str | None = None) -> list[dict[str, str]]:
    """One row per stored org: org, dc, api_domain, client_id, masked secrets, expiry."""
    now = time.time()
    rows = []
    for name, e in sorted(store.read().items()):
        if org is not None and name != org:
            continue
        rows.append(
            {
                "org": name,
                "dc": e.dc,
                "api_domain": e.api_domain,
                "client_id": e.client_id,
                "client_secret": mask(e.client_secret),
                "refresh_token": mask(e.refresh_token),
                "access_token_expires": _expiry(e, now),
            }
        )
    return rows


def _print_status(store: TokenStore, org: str | None) -> int:
    rows = status_rows(store, org)
    print(f"token store: {store.path}{'' if store.path.exists() else ' (does not exist yet)'}")
    if not rows:
        which = f"org {org!r}" if org else "any org"
        how = "zcrm-notebook auth --org NAME --dc DC --client-id ID --grant-token CODE"
        print(f"no token stored for {which}; get one with `{how}`")
        return 1 if org else 0
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols).rstrip())
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in cols).rstrip())
    print("refresh tokens stay valid until revoked (`zcrm-notebook auth --org NAME --revoke`)")
    return 0
