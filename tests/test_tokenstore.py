"""The token store: location, 0600 atomic writes, clear errors, sharing the access token."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from zcrm_notebook.auth import AccessToken, get_token_cache, tokens, tokenstore
from zcrm_notebook.auth.tokenstore import StoredToken, TokenStore, default_store_path
from zcrm_notebook.client import ZohoClient
from zcrm_notebook.errors import ConfigError, TokenStoreError
from zcrm_notebook.inputs.orgs import complete_from_store, orgs_from_store
from zcrm_notebook.simulator import SimClock, SimJob, SimOrg, Simulator

JOB = "3652397000009835020"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv(tokenstore.ENV_VAR, str(tmp_path / "env-store" / "tokens.json"))
    tokens._caches.clear()
    yield
    tokens._caches.clear()


def entry(org="acme-eu", **kw) -> StoredToken:
    base = dict(
        org=org,
        dc="eu",
        client_id="1000.ID",
        client_secret="client-secret-x",
        refresh_token="1000.refresh.x",
        accounts_url="https://accounts.zoho.eu",
        api_domain="https://www.zohoapis.eu",
    )
    return StoredToken(**{**base, **kw})


def test_env_var_sets_the_default_path(tmp_path, monkeypatch):
    assert default_store_path() == tmp_path / "env-store" / "tokens.json"
    assert TokenStore().path == default_store_path()
    monkeypatch.delenv(tokenstore.ENV_VAR)
    path = default_store_path()
    assert path.name == "tokens.json" and path.parent.name == "zcrm-notebook"


def test_missing_store_is_empty_and_not_created(tmp_path):
    store = TokenStore(tmp_path / "none" / "tokens.json")
    assert store.read() == {} and orgs_from_store(store.path) == {}
    assert not store.path.exists()


def test_put_read_round_trip_mode_0600_atomic(tmp_path):
    store = TokenStore(tmp_path / "cfg" / "tokens.json")
    saved = store.put(entry(scopes=("ZohoCRM.mass_convert.leads.READ",)))
    assert saved.updated_at > 0 and saved.created_at > 0
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert store.read() == {"acme-eu": saved}
    store.put(
        entry(
            "acme-us",
            dc="us",
            accounts_url="https://accounts.zoho.com",
            api_domain="https://www.zohoapis.com",
        )
    )
    assert sorted(store.read()) == ["acme-eu", "acme-us"]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    leftovers = [p.name for p in store.path.parent.iterdir() if ".tmp" in p.name]
    assert leftovers == []
    assert store.delete("acme-us") and not store.delete("acme-us")
    assert list(store.read()) == ["acme-eu"]


def test_truncated_store_is_a_clear_error_and_left_untouched(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry())
    full = store.path.read_bytes()
    store.path.write_bytes(full[: len(full) // 2])
    with pytest.raises(TokenStoreError) as err:
        store.read()
    assert str(store.path) in str(err.value) and "truncated" in str(err.value)
    with pytest.raises(TokenStoreError):
        store.put(entry("other"))
    with pytest.raises(TokenStoreError, match="not valid JSON"):
        orgs_from_store(store.path)
    assert store.path.read_bytes() == full[: len(full) // 2]  # never silently overwritten


@pytest.mark.parametrize(
    "text, what",
    [
        ("", "not valid JSON"),
        ("[]", "not a zcrm-notebook token store"),
        ('{"format": "zcrm-notebook token store", "version": 9, "orgs": {}}', "version 9"),
        (
            '{"format": "zcrm-notebook token store", "version": 1, "orgs": {"a": 3}}',
            "org 'a': entry is a int",
        ),
        (
            '{"format": "zcrm-notebook token store", "version": 1, "orgs": {"a": {"dc": "eu"}}}',
            "org 'a': 'client_id' is missing",
        ),
    ],
)
def test_corrupt_store_names_file_and_problem(tmp_path, text, what):
    path = tmp_path / "tokens.json"
    path.write_text(text)
    with pytest.raises(TokenStoreError, match=None) as err:
        TokenStore(path).read()
    assert str(path) in str(err.value) and what in str(err.value)


def test_unreadable_store_is_a_clear_error(tmp_path):
    path = tmp_path / "tokens.json"
    path.mkdir()  # a folder where the file should be: unreadable even for root
    with pytest.raises(TokenStoreError, match="unreadable") as err:
        TokenStore(path).read()
    assert str(path) in str(err.value)


def test_world_readable_store_warns_and_is_rewritten_0600(tmp_path, caplog):
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry())
    os.chmod(store.path, 0o644)
    store.read()
    assert "readable by others" in caplog.text
    store.put(entry("b"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_repr_masks_secrets():
    e = entry(access_token="1000.access.secret")
    text = repr(e) + repr(TokenStore("x.json"))
    assert "client-secret-x" not in text and "refresh.x" not in text and "access.secret" not in text


def test_grant_claims(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    assert store.claim_grant("1000.grant.a") and not store.claim_grant(" 1000.grant.a ")
    assert "1000.grant.a" not in store.path.read_text()  # only a hash is kept
    store.release_grant("1000.grant.a")
    assert store.claim_grant("1000.grant.a")


def test_orgs_from_store_gives_credentials_with_store_path(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry())
    orgs = orgs_from_store(store.path)
    c = orgs["acme-eu"]
    assert (c.dc, c.client_id, c.api_domain) == ("eu", "1000.ID", "https://www.zohoapis.eu")
    assert c.token_store == str(store.path) and c.refresh_token == "1000.refresh.x"
    assert orgs_from_store() == {}  # the env-var store does not exist


def test_bad_endpoint_in_store_names_store_and_org(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry(api_domain="https://evil.example.com"))
    with pytest.raises(ConfigError, match="evil.example.com") as err:
        orgs_from_store(store.path)
    assert str(store.path) in str(err.value)


# --- the stored access token is shared between processes -----------------------------------


def test_stored_access_token_is_reused_and_refreshed_one_written_back(tmp_path):
    clock = SimClock()
    org = SimOrg("us-org", "us", "1000.USCLIENT", "us-client-secret", "1000.us.refresh")
    with Simulator([org], [SimJob(JOB, "us-org", 10)], clock=clock) as sim:
        cfg = sim.org_config("us-org")
        store = TokenStore(tmp_path / "tokens.json")
        keys = ("dc", "client_id", "client_secret", "refresh_token", "accounts_url", "api_domain")
        store.put(StoredToken(org="us-org", **{k: cfg[k] for k in keys}))
        creds = orgs_from_store(store.path)["us-org"]
        cache = get_token_cache(creds)  # wall clock: uses and updates the store
        cache.get()
        assert sim.stats.token_requests["us-org"] == 1
        saved = store.get("us-org")
        assert saved.access_token and saved.access_expires_at > time.time() + 3000

        tokens._caches.clear()  # "another process"
        creds = orgs_from_store(store.path)["us-org"]
        client = ZohoClient(creds)
        assert client.get_status(JOB).http_status == 200
        assert sim.stats.token_requests["us-org"] == 1  # reused the stored token


def test_stored_token_of_another_refresh_token_is_ignored(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry(access_token="1000.access.x", access_expires_at=time.time() + 3600))
    creds = orgs_from_store(store.path)["acme-eu"]
    initial, _ = tokenstore.cache_hooks(creds)
    assert isinstance(initial, AccessToken) and initial.access_token == "1000.access.x"
    store.put(
        entry(
            refresh_token="1000.refresh.new",
            access_token="1000.access.x",
            access_expires_at=time.time() + 3600,
        )
    )
    initial, persist = tokenstore.cache_hooks(creds)
    assert initial is None
    persist(AccessToken("1000.access.y", creds.api_domain, 1e10, 1e10 - 3600), "1000.refresh.x")
    assert store.get("acme-eu").access_token == "1000.access.x"  # not overwritten


def test_store_file_is_json_with_expected_shape(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry())
    data = json.loads(store.path.read_text())
    assert data["format"] == "zcrm-notebook token store" and data["version"] == 1
    assert set(data["orgs"]["acme-eu"]) >= {"dc", "api_domain", "refresh_token", "client_id"}


def test_config_table_without_refresh_token_is_completed_from_the_store(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry(api_domain="https://sandbox.zohoapis.eu"))
    table = {"dc": "eu", "client_id": "1000.ID", "client_secret": "client-secret-x"}
    done = complete_from_store("acme-eu", table, store.path)
    assert done["refresh_token"] == "1000.refresh.x" and done["token_store"] == str(store.path)
    assert done["api_domain"] == "https://sandbox.zohoapis.eu"
    assert complete_from_store("x", {**table, "refresh_token": "r"}) == {
        **table,
        "refresh_token": "r",
    }
    with pytest.raises(ConfigError, match="org 'other' has no refresh_token.*--grant-token"):
        complete_from_store("other", table, store.path)
    with pytest.raises(ConfigError, match="another client id"):
        complete_from_store("acme-eu", {**table, "client_id": "1000.X"}, store.path)


def test_temp_files_are_0600_named_after_the_store_and_leftovers_are_removed(tmp_path, monkeypatch):
    store = TokenStore(tmp_path / "cfg" / "tokens.json")
    seen = []
    real_replace = os.replace

    def replace(src, dst):  # the temp file, just before it becomes the store
        seen.append((os.path.basename(src), stat.S_IMODE(os.stat(src).st_mode)))
        real_replace(src, dst)

    monkeypatch.setattr(tokenstore.os, "replace", replace)
    store.put(entry())
    assert [(name.startswith(".tokens.json.tmp-"), mode) for name, mode in seen] == [(True, 0o600)]
    for name in (".tokens.json.tmp-abc", ".tokens-abc.tmp"):  # kill -9 leftovers, secrets in
        (store.path.parent / name).write_text('{"client_secret": "client-secret-x"')
    other = store.path.parent / "notes.tmp"
    other.write_text("mine")
    store.put(entry("acme-2"))  # a write removes them
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "notes.tmp", "tokens.json", "tokens.json.lock"]  # fmt: skip
    (store.path.parent / ".tokens.json.tmp-def").write_text("{")
    assert sorted(store.read()) == ["acme-2", "acme-eu"]  # and so does a read
    assert not (store.path.parent / ".tokens.json.tmp-def").exists()


def test_reading_a_store_without_leftovers_creates_nothing(tmp_path):
    store = TokenStore(tmp_path / "nothing-here" / "tokens.json")
    assert store.read() == {} and not (tmp_path / "nothing-here").exists()
