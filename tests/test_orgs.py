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


# --- data-center codes outside the table -------------------------------------------------

LOOP = 'accounts_url = "http://127.0.0.1:9"\napi_domain = "http://127.0.0.1:9"\n'
ZOHO_EU = 'accounts_url = "https://accounts.zoho.eu"\napi_domain = "https://www.zohoapis.eu"\n'
CREDS = 'client_id = "a"\nclient_secret = "b"\nrefresh_token = "c"\n'


@pytest.mark.parametrize("urls", ["", LOOP, ZOHO_EU], ids=["no urls", "loopback", "zoho eu"])
def test_an_unknown_dc_is_refused_naming_the_valid_codes(tmp_path, urls):
    (tmp_path / "c.toml").write_text(f'[orgs.x]\ndc = "europe"\n{CREDS}{urls}')
    with pytest.raises(DataCenterError) as err:
        orgs_from_toml(tmp_path / "c.toml")
    text = str(err.value)
    assert "'europe'" in text and "us, eu, in, au, jp, cn, ca, sa, uk" in text
    assert "custom_dc = true" in text and "\n" not in text


def test_a_declared_custom_dc_on_loopback_is_the_dc_of_the_snapshots(tmp_path, scenario, clock):
    import zcrm_notebook as zn

    scenario.write_config(tmp_path / "sim.toml")
    text = (tmp_path / "sim.toml").read_text()
    (tmp_path / "sim.toml").write_text(
        text.replace('[orgs.us-org]\ndc = "us"', '[orgs.us-org]\ndc = "Lab-1"\ncustom_dc = true')
    )
    orgs = orgs_from_toml(tmp_path / "sim.toml")
    assert orgs["us-org"].dc == "lab-1" and orgs["us-org"].custom_dc
    assert "custom_dc=True" in repr(orgs["us-org"]) and not orgs["eu-org"].custom_dc
    df = zn.poll_jobs(
        scenario.job_ids("us-org")[:2],
        config=tmp_path / "sim.toml",
        org="us-org",
        clock=clock.time,
        sleep=clock.sleep,
    )
    assert set(df["dc"]) == {"lab-1"}


@pytest.mark.parametrize(
    ("table", "text"),
    [
        (
            f'dc = "lab"\ncustom_dc = true\n{ZOHO_EU}',
            "needs accounts_url and api_domain on loopback",
        ),
        ('dc = "lab"\ncustom_dc = true\n', "needs accounts_url and api_domain on loopback"),
        (f'dc = "eu"\ncustom_dc = true\n{LOOP}', "not 'eu'; remove custom_dc"),
        (f'dc = "lab"\ncustom_dc = "yes"\n{LOOP}', "custom_dc must be true or false"),
    ],
)
def test_a_custom_dc_must_be_declared_right(tmp_path, table, text):
    (tmp_path / "c.toml").write_text(f"[orgs.x]\n{CREDS}{table}")
    with pytest.raises(ConfigError, match=text):
        orgs_from_toml(tmp_path / "c.toml")


def test_a_custom_dc_survives_the_token_store(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    loop = "http://127.0.0.1:9"
    store.put(
        StoredToken("x", "lab", "1000.ID", "secret-x", "1000.rt.x", loop, loop, custom_dc=True)
    )
    creds = store.get("x").credentials(store.path)
    assert (creds.dc, creds.custom_dc) == ("lab", True)
    assert client_settings("x", store=store, env={})["custom_dc"] is True


CREDS_ENV = {"ZOHO_CLIENT_ID": "1000.X", "ZOHO_CLIENT_SECRET": "sss", "ZOHO_REFRESH_TOKEN": "1.r"}


@pytest.mark.parametrize(
    "extra, start",
    [
        ({"ZOHO_DC": "europe"}, "ZOHO_DC='europe': unknown data center 'europe'; valid codes: us"),
        ({"ZOHO_API_VERSION": "v99"}, "ZOHO_API_VERSION='v99': not one of v4, v5"),
        ({"ZOHO_ORG": "a\nb"}, "ZOHO_ORG='a\\nb': org label"),
        ({"ZOHO_CLIENT_ID": "  "}, "environment sets ['ZOHO_CLIENT_SECRET', 'ZOHO_REFRESH_TOKEN']"),
    ],
)
def test_a_bad_environment_variable_is_named_in_the_error(extra, start):
    with pytest.raises(ConfigError) as err:
        orgs_from_env({**CREDS_ENV, **extra})
    assert str(err.value).startswith(start) and "\n" not in str(err.value)
