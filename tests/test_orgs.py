"""inputs/orgs.py: the one reader of org configuration (TOML, environment, token store)."""

import pytest

from zcrm_notebook.auth.tokenstore import StoredToken, TokenStore
from zcrm_notebook.errors import ConfigError
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
