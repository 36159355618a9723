"""inputs/orgs.py: the one reader of org configuration (TOML, environment, token store)."""

import pytest
from conftest import make_creds

from zcrm_notebook.auth.tokenstore import StoredToken, TokenStore
from zcrm_notebook.errors import ConfigError, DataCenterError, UnsafeEndpointError
from zcrm_notebook.inputs import load_orgs, orgs_from_env, orgs_from_toml
from zcrm_notebook.inputs.orgs import client_settings, org_tables

TABLE = '[orgs.acme]\ndc = "eu"\nclient_id = "1000.FROMTOML"\nclient_secret = "toml-secret"\n'


def test_org_tables_reads_the_orgs_of_a_toml_file(tmp_path):
    (tmp_path / "a.toml").write_text(TABLE)
    assert org_tables(tmp_path / "a.toml")["acme"]["client_id"] == "1000.FROMTOML"
    (tmp_path / "b.toml").write_text('orgs = ["not", "tables"]\n')
    assert org_tables(tmp_path / "b.toml") == {}
    (tmp_path / "c.toml").write_text("[orgs.acme\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        org_tables(tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        org_tables(tmp_path / "missing.toml")


def test_client_settings_environment_then_store_then_config(tmp_path):
    env = {"ZOHO_DC": "us", "ZOHO_CLIENT_ID": "1000.FROMENV", "ZOHO_CLIENT_SECRET": "env-secret"}
    store = TokenStore(tmp_path / "tokens.json")
    assert client_settings("acme", store=store, env=env) == {
        "dc": "us",
        "client_id": "1000.FROMENV",
        "client_secret": "env-secret",
    }
    store.put(
        StoredToken(
            "acme",
            "in",
            "1000.FROMSTORE",
            "store-secret",
            "1000.rt.x",
            "https://accounts.zoho.in",
            "https://www.zohoapis.in",
        )
    )
    found = client_settings("acme", store=store, env=env)
    assert (found["dc"], found["client_id"], found["api_version"]) == ("in", "1000.FROMSTORE", "v5")
    (tmp_path / "orgs.toml").write_text(TABLE)
    found = client_settings("acme", config=tmp_path / "orgs.toml", store=store, env=env)
    assert (found["dc"], found["client_secret"]) == ("eu", "toml-secret")
    with pytest.raises(ConfigError, match=r"has no \[orgs.other\] table"):
        client_settings("other", config=tmp_path / "orgs.toml", store=store, env=env)


def test_env_gives_one_org_named_after_the_dc():
    env = {
        "ZOHO_CLIENT_ID": "id",
        "ZOHO_CLIENT_SECRET": "secret-x",
        "ZOHO_REFRESH_TOKEN": "rt-xyz",
        "ZOHO_DC": "EU",
    }
    orgs = orgs_from_env(env)
    assert list(orgs) == ["eu"]
    assert orgs["eu"].accounts_url == "https://accounts.zoho.eu"
    assert orgs["eu"].api_domain == "https://www.zohoapis.eu"
    assert orgs["eu"].api_version == "v5"


def test_env_partial_credentials_refused():
    with pytest.raises(ConfigError, match="ZOHO_REFRESH_TOKEN"):
        orgs_from_env({"ZOHO_CLIENT_ID": "id", "ZOHO_CLIENT_SECRET": "s"})


def test_no_org_anywhere_says_what_to_set(monkeypatch):
    for name in ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="ZOHO_CLIENT_ID"):
        load_orgs(None)


def test_toml_several_orgs(tmp_path):
    cfg = tmp_path / "orgs.toml"
    cfg.write_text(
        '[orgs.acme-us]\ndc = "us"\nclient_id = "a"\nclient_secret = "sa-secret"\n'
        'refresh_token = "ra-token"\n\n[orgs.acme-ca]\ndc = "ca"\nclient_id = "b"\n'
        'client_secret = "sb-secret"\nrefresh_token = "rb-token"\napi_version = "v8"\n'
    )
    orgs = orgs_from_toml(cfg)
    assert orgs["acme-ca"].accounts_url == "https://accounts.zohocloud.ca"
    assert orgs["acme-ca"].api_domain == "https://www.zohoapis.ca"
    assert orgs["acme-ca"].api_version == "v8"
    assert orgs["acme-us"].dc == "us"


@pytest.mark.parametrize(
    "body, exc, text",
    [
        (
            '[orgs.x]\ndc = "de"\nclient_id = "a"\nclient_secret = "b"\nrefresh_token = "c"\n',
            DataCenterError,
            "'de'",
        ),
        (
            '[orgs.x]\ndc = "us"\nclient_id = "a"\nclient_secret = "b"\nrefresh_token = "c"\n'
            'accounts_url = "https://evil.example.com"\n',
            UnsafeEndpointError,
            "evil.example.com",
        ),
        (
            '[orgs.x]\ndc = "us"\nclient_id = "a"\nclient_secret = "b"\nrefresh_token = "c"\n'
            'colour = "red"\n',
            ConfigError,
            "colour",
        ),
        ('[orgs.x]\ndc = "us"\nclient_id = "a"\n', ConfigError, "client_secret"),
        (
            '[orgs.x]\ndc = "us"\nclient_id = "a"\nclient_secret = "b"\nrefresh_token = "c"\n'
            'api_version = "v2"\n',
            ConfigError,
            "v2",
        ),
        ("[orgs.x\n", ConfigError, "not valid TOML"),
        ("title = 1\n", ConfigError, "no [orgs"),
    ],
)
def test_bad_toml_is_a_clear_error(tmp_path, body, exc, text):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    with pytest.raises(exc, match=None) as err:
        orgs_from_toml(cfg)
    assert text in str(err.value)


def test_secret_is_not_in_repr():
    c = make_creds()
    assert "s3cr3t" not in repr(c) and "refresh.token" not in repr(c)
