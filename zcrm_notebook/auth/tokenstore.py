"""The token store: one JSON file per user with each org's refresh token and endpoints.

Where: ``$ZCRM_NOTEBOOK_TOKEN_STORE`` if set, else ``tokens.json`` in the platform's user
config directory (platformdirs: ``~/.config/zcrm-notebook`` on Linux,
``~/Library/Application Support/zcrm-notebook`` on macOS, ``%LOCALAPPDATA%`` on Windows).
The file is mode 0600, written atomically (a 0600 temporary file ``.tokens.json.tmp-*``
in the same folder, then ``os.replace``) under a lock file; a temporary file left by a
killed process (it holds secrets) is removed by the next read or write of the store. A
corrupt or unreadable store is a :class:`~zcrm_notebook.errors.TokenStoreError` naming
the file, never silently overwritten.

Per org it keeps what ``zcrm-notebook auth`` obtained (Zoho Accounts, "Generate Access and
Refresh Token", https://www.zoho.com/crm/developer/docs/api/v8/access-refresh.html):
client id and secret, refresh token, data center, accounts server, ``api_domain``, and the
latest access token with its expiry (so separate processes reuse it instead of spending
one of Zoho's 10 token creations per 10 minutes). It also remembers hashes of exchanged
grant tokens, so a grant token is never sent twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from ..errors import TokenStoreError
from ..redact import mask, register_secret
from .credentials import AccessToken, OrgCredentials

__all__ = [
    "ENV_VAR",
    "StoredToken",
    "TokenStore",
    "default_store_path",
]

log = logging.getLogger(__name__)

ENV_VAR = "ZCRM_NOTEBOOK_TOKEN_STORE"
APP_NAME = "zcrm-notebook"
FORMAT = "zcrm-notebook token store"
VERSION = 1
MAX_GRANT_HASHES = 200
#: Largest token store read, bytes (an entry per org is well under 2 KiB).
MAX_STORE_BYTES = 16 << 20
_thread_lock = threading.RLock()


def default_store_path() -> Path:
    """``$ZCRM_NOTEBOOK_TOKEN_STORE``, else ``<user config dir>/zcrm-notebook/tokens.json``."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "tokens.json"


@dataclass(frozen=True)
class StoredToken:
    """One org's entry in the token store (secrets masked in the repr).

    ``api_domain`` is the one of Zoho's token answer (the authority for API calls);
    ``access_*`` describe the latest access token ("" / None when none), times in seconds
    since the epoch (wall clock); ``created_at`` is the grant exchange.
    """

    org: str
    dc: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    accounts_url: str
    api_domain: str
    api_version: str = "v5"
    custom_dc: bool = False
    scopes: tuple[str, ...] = ()
    access_token: str = field(default="", repr=False)
    access_expires_at: float | None = None
    access_obtained_at: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", tuple(self.scopes))
        for secret in (self.client_secret, self.refresh_token, self.access_token):
            register_secret(secret)

    def __repr__(self) -> str:
        return (
            f"StoredToken(org={self.org!r}, dc={self.dc!r}, client_id={self.client_id!r}, "
            f"client_secret={mask(self.client_secret)!r}, "
            f"refresh_token={mask(self.refresh_token)!r}, api_domain={self.api_domain!r}, "
            f"access_token={mask(self.access_token)!r}, "
            f"access_expires_at={self.access_expires_at!r})"
        )

    def credentials(self, store_path: str | os.PathLike = "") -> OrgCredentials:
        """The :class:`OrgCredentials` of this entry (``token_store`` set to the file)."""
        return OrgCredentials(
            org=self.org,
            dc=self.dc,
            client_id=self.client_id,
            client_secret=self.client_secret,
            refresh_token=self.refresh_token,
            api_version=self.api_version,
            accounts_url=self.accounts_url,
            api_domain=self.api_domain,
            token_store=str(store_path),
            custom_dc=self.custom_dc,
        )

    def access(self) -> AccessToken | None:
        """The stored access token, or None when there is none."""
        if not self.access_token or self.access_expires_at is None:
            return None
        obtained = self.access_obtained_at or self.access_expires_at - 3600.0
        return AccessToken(self.access_token, self.api_domain, self.access_expires_at, obtained)


_STR_FIELDS = {
    "org",
    "dc",
    "client_id",
    "client_secret",
    "refresh_token",
    "accounts_url",
    "api_domain",
    "api_version",
    "access_token",
}
_NUM_FIELDS = {"access_expires_at", "access_obtained_at", "created_at", "updated_at"}
_REQUIRED = ("dc", "client_id", "client_secret", "refresh_token", "accounts_url", "api_domain")


def _entry(path: Path, org: str, raw: object) -> StoredToken:
    where = f"token store {str(path)!r}, org {org!r}"
    if not isinstance(raw, dict):
        raise TokenStoreError(f"{where}: entry is a {type(raw).__name__}, expected an object")
    known = {f.name for f in fields(StoredToken)}
    values = {k: v for k, v in raw.items() if k in known}
    values["org"] = org
    for key in _REQUIRED:
        if not isinstance(values.get(key), str) or not values[key].strip():
            raise TokenStoreError(f"{where}: {key!r} is missing or empty (expected text)")
    for key in _STR_FIELDS & values.keys():
        if not isinstance(values[key], str):
            raise TokenStoreError(f"{where}: {key!r} must be text")
    for key in _NUM_FIELDS & values.keys():
        v = values[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise TokenStoreError(f"{where}: {key!r} must be a number (seconds since epoch)")
    if not isinstance(values.get("custom_dc", False), bool):
        raise TokenStoreError(f"{where}: 'custom_dc' must be true or false")
    scopes = values.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise TokenStoreError(f"{where}: 'scopes' must be a list of text")
    return StoredToken(**values)


class TokenStore:
    """Read and write the token store file.

    Parameters
    ----------
    path : str or path, optional
        Default :func:`default_store_path` (``$ZCRM_NOTEBOOK_TOKEN_STORE`` or the user
        config directory).

    Raises
    ------
    TokenStoreError
        From every method: the file is unreadable, not the store's JSON, or cannot be
        written; the message names the file. A bad file is never overwritten.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser() if path else default_store_path()

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    @property
    def where(self) -> str:
        """``token store '<path>'``, for messages."""
        return f"token store {str(self.path)!r}"

    # -- reading --------------------------------------------------------------------------

    def _read_bytes(self) -> bytes:
        """The file's bytes: a regular file (opened without blocking: a pipe is refused,
        not waited on) of at most :data:`MAX_STORE_BYTES`."""
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise TokenStoreError(f"{self.where} is not a regular file (a pipe or a device)")
            text = fh.read(MAX_STORE_BYTES + 1)
        if len(text) > MAX_STORE_BYTES:
            raise TokenStoreError(
                f"{self.where} is larger than {MAX_STORE_BYTES:,} bytes; it was left untouched"
            )
        return text

    def _load(self) -> dict:
        try:
            text = self._read_bytes()
        except FileNotFoundError:
            return {"format": FORMAT, "version": VERSION, "orgs": {}, "used_grants": []}
        except OSError as exc:
            raise TokenStoreError(f"{self.where} is unreadable: {exc.strerror}") from None
        try:
            data = json.loads(text.decode("utf-8"))
        except RecursionError:
            raise TokenStoreError(
                f"{self.where} is not a token store (JSON nested too deep); it was left untouched"
            ) from None
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            raise TokenStoreError(
                f"{self.where} is not valid JSON ({exc}); it may be truncated "
                "or edited by hand. It was left untouched: fix it, or move it away and run "
                "`zcrm-notebook auth` again."
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise TokenStoreError(
                f"{self.where} is JSON but not a zcrm-notebook token store "
                f'(expected an object with "format": {FORMAT!r}); it was left untouched'
            )
        if data.get("version") != VERSION or not isinstance(data.get("orgs"), dict):
            raise TokenStoreError(
                f"{self.where}: unsupported version "
                f"{data.get('version')!r} or no 'orgs' object (expected version {VERSION})"
            )
        if not isinstance(data.get("used_grants", []), list):
            raise TokenStoreError(f"{self.where}: 'used_grants' must be a list")
        self._warn_if_open()
        return data

    def _warn_if_open(self) -> None:
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except OSError:
            return
        if os.name == "posix" and mode & 0o077:
            log.warning(
                "token store %s is readable by others (mode %o); it will be written back as 0600",
                self.path,
                mode,
            )

    def read(self) -> dict[str, StoredToken]:
        """Every entry, keyed by org (``{}`` when the file does not exist).

        Temporary files left by a writer that was killed are removed first.
        """
        if self._leftovers():
            with self._locked():  # writers hold the lock while their temp file exists
                self._remove(self._leftovers())
        data = self._load()
        return {str(org): _entry(self.path, str(org), raw) for org, raw in data["orgs"].items()}

    def get(self, org: str) -> StoredToken | None:
        """The entry of ``org``, or None."""
        return self.read().get(org)

    # -- writing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self):
        """Serialise read-modify-write across threads and (POSIX) processes."""
        with _thread_lock:
            self._mkdir()
            lock_path = self.path.with_name(self.path.name + ".lock")
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise TokenStoreError(f"{self.where}: cannot lock: {exc}") from None
            try:
                try:
                    import fcntl

                    fcntl.flock(fd, fcntl.LOCK_EX)
                except ImportError:  # pragma: no cover - Windows: thread lock only
                    pass
                yield
            finally:
                os.close(fd)

    def _mkdir(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise TokenStoreError(f"{self.where}: cannot create its folder: {exc}") from None

    def _leftovers(self) -> list[Path]:
        """Temporary files of this store in its folder (this naming, and the older one)."""
        folder = self.path.parent
        if not folder.is_dir():
            return []
        patterns = (f"{self._tmp_prefix}*", ".tokens-*.tmp")
        return sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})

    @property
    def _tmp_prefix(self) -> str:
        return f".{self.path.name}.tmp-"

    def _remove(self, paths: list[Path]) -> None:
        """Delete temporary files left by a killed writer (call under the lock)."""
        for path in paths:
            try:
                path.unlink()
                log.info("%s: removed %s, left by an interrupted write", self.where, path.name)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("%s: cannot remove leftover %s: %s", self.where, path, exc.strerror)

    def _write(self, data: dict) -> None:
        """Atomic write: a 0600 temporary file in the same folder, then ``os.replace``."""
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        try:
            fd, tmp = tempfile.mkstemp(prefix=self._tmp_prefix, dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    os.chmod(tmp, 0o600)
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise TokenStoreError(f"{self.where} cannot be written: {exc}") from None

    def _update(self, change: Callable[[dict], bool]) -> bool:
        """Read, ``change(data)`` in place, write back if it returned True (under the lock)."""
        with self._locked():
            self._remove(self._leftovers())
            data = self._load()
            if not change(data):
                return False
            self._write(data)
            return True

    def put(self, entry: StoredToken) -> StoredToken:
        """Add or replace the entry of ``entry.org``; returns it with ``updated_at`` set."""
        now = time.time()
        entry = replace(entry, updated_at=now, created_at=entry.created_at or now)
        raw = {k: v for k, v in asdict(entry).items() if k != "org"}
        raw["scopes"] = list(entry.scopes)

        def change(data: dict) -> bool:
            data["orgs"][entry.org] = raw
            return True

        self._update(change)
        return entry

    def delete(self, org: str) -> bool:
        """Remove ``org``'s entry; False when there was none (the file is not rewritten)."""
        return self._update(lambda data: data["orgs"].pop(org, None) is not None)

    def save_access(self, org: str, refresh_token: str, token: AccessToken) -> bool:
        """Store a new access token for ``org`` if its entry has this refresh token."""

        def change(data: dict) -> bool:
            raw = data["orgs"].get(org)
            if not isinstance(raw, dict) or raw.get("refresh_token") != refresh_token:
                return False
            raw.update(
                access_token=token.access_token,
                access_expires_at=token.expires_at,
                access_obtained_at=token.obtained_at,
                api_domain=token.api_domain,
                updated_at=time.time(),
            )
            return True

        return self._update(change)

    def claim_grant(self, grant_token: str) -> bool:
        """Record that ``grant_token`` is being exchanged; False if it was already.

        Only a SHA-256 of the token is kept (the latest 200). Call before sending it.
        """
        digest = _grant_hash(grant_token)

        def change(data: dict) -> bool:
            used = [str(h) for h in data.get("used_grants", [])]
            data["used_grants"] = (used + [digest])[-MAX_GRANT_HASHES:]
            return digest not in used

        return self._update(change)

    def release_grant(self, grant_token: str) -> None:
        """Forget a claim (Zoho refused the client before looking at the grant)."""
        digest = _grant_hash(grant_token)

        def change(data: dict) -> bool:
            used = [str(h) for h in data.get("used_grants", [])]
            data["used_grants"] = [h for h in used if h != digest]
            return digest in used

        self._update(change)


def _grant_hash(grant_token: str) -> str:
    return hashlib.sha256(grant_token.strip().encode()).hexdigest()


def cache_hooks(creds: OrgCredentials):
    """(initial token, persist callback) of a token cache for credentials from a store.

    Used by :func:`zcrm_notebook.auth.get_token_cache`. A store that cannot be read gives
    no initial token (logged); the poll then simply asks Zoho for one.
    """
    store = TokenStore(creds.token_store)
    initial = None
    try:
        entry = store.get(creds.org)
    except TokenStoreError as exc:
        log.warning("org %s: not using stored access token: %s", creds.org, exc)
        entry = None
    if entry is not None and entry.refresh_token == creds.refresh_token:
        initial = entry.access()
        if initial is not None and initial.api_domain != creds.api_domain:
            initial = None  # the credentials point elsewhere now: do not trust the token

    def persist(token: AccessToken, refresh_token: str) -> None:
        store.save_access(creds.org, refresh_token, token)

    return initial, persist
