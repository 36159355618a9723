"""Org configuration at the boundary: TOML config, environment, token store.

Orgs come from environment variables (one org: ``ZOHO_CLIENT_ID``, ``ZOHO_CLIENT_SECRET``,
``ZOHO_REFRESH_TOKEN``, ``ZOHO_DC``, optional ``ZOHO_ORG``, ``ZOHO_API_VERSION``), from a
TOML file with one ``[orgs.<name>]`` table per org, or from the token store that
``zcrm-notebook auth`` fills. This is the only reader of org configuration: the ``auth``
command takes its client settings from :func:`client_settings`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..api.datacenters import get_dc
from ..api.endpoints import API_VERSIONS
from ..auth.credentials import OrgCredentials, check_org_label
from ..auth.tokenstore import TokenStore
from ..errors import ConfigError, ZcrmError
from ..redact import shown
from .files import MAX_CONFIG_BYTES, read_input_bytes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "load_orgs",
    "orgs_from_env",
    "orgs_from_toml",
    "orgs_from_store",
    "complete_from_store",
    "org_tables",
    "client_settings",
    "CLIENT_KEYS",
]

ORG_KEYS = {
    "dc",
    "client_id",
    "client_secret",
    "refresh_token",
    "api_version",
    "accounts_url",
    "api_domain",
    "custom_dc",
}


def orgs_from_env(env: Mapping[str, str] | None = None) -> dict[str, OrgCredentials]:
    """One org from ``ZOHO_*`` environment variables; ``{}`` when ``ZOHO_CLIENT_ID`` is unset.

    Raises
    ------
    ConfigError
        If some but not all of the credentials are set (blank counts as unset), or
        ``ZOHO_DC``, ``ZOHO_ORG`` or ``ZOHO_API_VERSION`` is bad (the message starts with
        the variable and its value).
    """
    env = os.environ if env is None else env
    names = ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN")
    present = [n for n in names if env.get(n, "").strip()]
    if not present:
        return {}
    if len(present) < len(names):
        missing = sorted(set(names) - set(present))
        raise ConfigError(f"environment sets {present} but not {missing}")
    dc = env.get("ZOHO_DC", "us")
    org = env.get("ZOHO_ORG") or dc.strip().lower()
    _check_env("ZOHO_DC", dc, get_dc)
    _check_env("ZOHO_ORG", org, check_org_label)
    _check_env("ZOHO_API_VERSION", env.get("ZOHO_API_VERSION", "v5"), _check_api_version)
    creds = OrgCredentials(
        org=org,
        dc=dc,
        client_id=env["ZOHO_CLIENT_ID"].strip(),
        client_secret=env["ZOHO_CLIENT_SECRET"].strip(),
        refresh_token=env["ZOHO_REFRESH_TOKEN"].strip(),
        api_version=env.get("ZOHO_API_VERSION", "v5"),
    )
    return {org: creds}


def _check_env(name: str, value: str, check: Callable[[str], object]) -> None:
    """``check(value)``; its ConfigError again, led by the variable: ``ZOHO_DC='x': ...``."""
    try:
        check(value)
    except ConfigError as exc:
        raise ConfigError(f"{name}={shown(value)}: {exc}") from None


def _check_api_version(version: str) -> None:
    if version not in API_VERSIONS:
        raise ConfigError(f"not one of {', '.join(API_VERSIONS)}")


def orgs_from_toml(path: str | os.PathLike) -> dict[str, OrgCredentials]:
    """Orgs from a TOML file: one ``[orgs.<name>]`` table each.

    Keys: ``dc``, ``client_id``, ``client_secret``, ``refresh_token`` (or a token stored by
    ``zcrm-notebook auth`` for that org), optional
    ``api_version`` (default ``v5``), ``accounts_url``, ``api_domain`` (overrides accepted
    only for loopback or the DC table's hosts), ``custom_dc = true`` (``dc`` is the code
    of a loopback test server, not a Zoho data center).

    Raises
    ------
    ConfigError
        File missing or not TOML (the message names the file and line), no ``[orgs.*]``
        table, an org label that is not printable text, an unknown or missing key, or a
        value that is not text (a list, table or number; named with its key and org).
    """
    path = Path(path)
    orgs = org_tables(path)
    if not orgs:
        raise ConfigError(f"config file {str(path)!r} has no [orgs.<name>] table")
    return {name: _org_from_table(name, table, path) for name, table in orgs.items()}


def org_tables(path: str | os.PathLike) -> dict[str, object]:
    """The ``[orgs.<name>]`` tables of a TOML config file, by name (``{}`` when none).

    The one reader of config files: :func:`orgs_from_toml` and :func:`client_settings`
    (the ``auth`` command) both read through it.

    Raises
    ------
    ConfigError
        The file is missing, not TOML (the message names the file and line), not a
        regular file, or larger than :data:`~zcrm_notebook.inputs.files.MAX_CONFIG_BYTES`.
    """
    try:
        text = read_input_bytes(path, "config", MAX_CONFIG_BYTES).decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    orgs = data.get("orgs")
    return dict(orgs) if isinstance(orgs, dict) else {}


def _org_from_table(name: str, table: object, path: Path) -> OrgCredentials:
    where = f"{shown(str(path))}: [orgs.{shown(name)}]"
    check_org_label(name)
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - ORG_KEYS)
    if unknown:
        keys = shown(unknown, 120)
        raise ConfigError(f"{where} has unknown keys {keys}; allowed: {sorted(ORG_KEYS)}")
    custom_dc = _custom_dc(table, where)
    table = {k: v for k, v in table.items() if k != "custom_dc"}
    _check_text(where, table)
    required = ("dc", "client_id", "client_secret")
    missing = [k for k in required if not table.get(k, "").strip()]
    if missing:
        raise ConfigError(f"{where} lacks {missing}")
    table = complete_from_store(name, table)  # refresh_token from `zcrm-notebook auth`
    values = {k: str(v).strip() for k, v in table.items()}
    try:
        return OrgCredentials(org=name, custom_dc=custom_dc, **values)
    except ConfigError as exc:
        raise type(exc)(f"{where}: {exc}") from None


def _custom_dc(table: dict, where: str) -> bool:
    """The ``custom_dc`` of an org table: a TOML boolean, false when absent."""
    value = table.get("custom_dc", False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: custom_dc must be true or false, not {shown(value)}")
    return value


def _check_text(where: str, table: dict) -> None:
    """Every value of an org table is text: a list, table, number or date is refused (never
    turned into text with ``str``), naming the key."""
    for key, value in table.items():
        if not isinstance(value, str):
            kind = type(value).__name__
            raise ConfigError(f"{where}: {key} must be text (a quoted string), not a TOML {kind}")


def load_orgs(config: str | os.PathLike | None = None) -> dict[str, OrgCredentials]:
    """Orgs from ``config`` (TOML) if given, else from the environment.

    Raises
    ------
    ConfigError
        If neither gives an org (the message says what to set).
    """
    if config is not None:
        orgs = orgs_from_toml(config)
    else:  # the token store, then the environment (which wins on a name clash)
        orgs = {**orgs_from_store(), **orgs_from_env()}
    if not orgs:
        raise ConfigError(
            "no Zoho org configured: pass --config FILE (TOML with [orgs.<name>] tables), "
            "set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN and ZOHO_DC, or run "
            "`zcrm-notebook auth --org NAME --dc DC --client-id ID --grant-token CODE`"
        )
    return orgs


def orgs_from_store(path: str | os.PathLike | None = None) -> dict[str, OrgCredentials]:
    """Credentials of every org in the token store (``{}`` when there is no store file).

    Parameters
    ----------
    path : str or path, optional
        Default :func:`default_store_path`.

    Returns
    -------
    dict of str to OrgCredentials
        Keyed by org label; each with ``token_store`` set, so its token cache starts from
        the stored access token and writes refreshed ones back.

    Raises
    ------
    TokenStoreError
        The file exists but is unreadable or corrupt (the message names it).
    ConfigError
        An entry's endpoints are no longer acceptable (named with its org).
    """
    store = TokenStore(path)
    out = {}
    for org, entry in store.read().items():
        try:
            out[org] = entry.credentials(store.path)
        except ZcrmError as exc:
            raise type(exc)(f"token store {str(store.path)!r}: {exc}") from None
    return out


def complete_from_store(org: str, table: dict, path: str | os.PathLike | None = None) -> dict:
    """A config org table with ``refresh_token`` and ``api_domain`` taken from the store.

    For ``[orgs.NAME]`` tables that give ``dc``, ``client_id``, ``client_secret`` but no
    ``refresh_token`` (it was obtained with ``zcrm-notebook auth``). A table that has a
    refresh token is returned unchanged.

    Returns
    -------
    dict
        ``table`` plus ``refresh_token``, ``api_domain`` (unless given) and ``token_store``.

    Raises
    ------
    ConfigError
        No store entry for ``org``, or the entry belongs to another client id.
    TokenStoreError
        The store is corrupt or unreadable.
    """
    if str(table.get("refresh_token") or "").strip():
        return table
    store = TokenStore(path)
    entry = store.get(org)
    how = f"run `zcrm-notebook auth --org {org} --dc DC --client-id ID --grant-token CODE`"
    if entry is None:
        raise ConfigError(f"org {org!r} has no refresh_token and {store.where} has none: {how}")
    if str(table.get("client_id") or entry.client_id).strip() != entry.client_id:
        raise ConfigError(f"org {org!r}: {store.where} holds a token of another client id; {how}")
    return {
        **table,
        "refresh_token": entry.refresh_token,
        "token_store": str(store.path),
        "api_domain": table.get("api_domain") or entry.api_domain,
    }


#: Keys of an OAuth client (before it has a token): what ``zcrm-notebook auth`` needs.
CLIENT_KEYS = ("dc", "client_id", "client_secret", "accounts_url", "api_domain", "api_version")
_CLIENT_ENV = {
    "dc": "ZOHO_DC",
    "client_id": "ZOHO_CLIENT_ID",
    "client_secret": "ZOHO_CLIENT_SECRET",
}


def client_settings(
    org: str,
    *,
    config: str | os.PathLike | None = None,
    store: TokenStore | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The OAuth client settings of ``org`` (:data:`CLIENT_KEYS`) known without asking.

    Later sources win: the ``ZOHO_*`` environment, then the org's token-store entry, then
    its ``[orgs.<org>]`` table in ``config``. Missing keys are simply absent. A declared
    ``custom_dc`` (store entry or table) comes as ``custom_dc: True``.

    Raises
    ------
    ConfigError
        ``config`` is unreadable or has no ``[orgs.<org>]`` table.
    TokenStoreError
        The store is corrupt or unreadable.
    """
    env = os.environ if env is None else env
    found: dict[str, Any] = {k: env[v].strip() for k, v in _CLIENT_ENV.items() if env.get(v)}
    entry = (store or TokenStore()).get(org)
    if entry is not None:
        found.update({k: getattr(entry, k) for k in CLIENT_KEYS})
        found |= {"custom_dc": True} if entry.custom_dc else {}
    if config is not None:
        table = org_tables(config).get(org)
        if not isinstance(table, dict):
            raise ConfigError(f"config file {str(config)!r} has no [orgs.{org}] table")
        known = {k: v for k, v in table.items() if k in CLIENT_KEYS}
        _check_text(f"{shown(str(config))}: [orgs.{shown(org)}]", known)
        found.update({k: v.strip() for k, v in known.items()})
        if "custom_dc" in table:
            found["custom_dc"] = _custom_dc(table, f"{shown(str(config))}: [orgs.{shown(org)}]")
    return found
