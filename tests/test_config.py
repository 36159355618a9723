"""Org configuration (env, TOML) and cleaning of job input at the boundary."""

import warnings

import pandas as pd
import pytest
from conftest import JOB, make_creds

from zcrm_notebook.errors import ConfigError, DataCenterError, JobInputError, UnsafeEndpointError
from zcrm_notebook.inputs import Job, clean_jobs, load_orgs, orgs_from_env, orgs_from_toml


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


def test_list_of_ids_with_whitespace_is_cleaned():
    orgs = {"us-org": make_creds()}
    jobs = clean_jobs([f" {JOB}", "12 "], orgs)
    assert jobs == [Job("us-org", JOB), Job("us-org", "12")]


def test_dict_and_frame_forms(two_orgs):
    assert clean_jobs({"eu-org": [JOB]}, two_orgs) == [Job("eu-org", JOB)]
    df = pd.DataFrame({"job_id": [JOB, "1"], "dc": ["us", "EU"]})
    assert clean_jobs(df, two_orgs) == [Job("us-org", JOB), Job("eu-org", "1")]


def test_plain_list_with_several_orgs_needs_org(two_orgs):
    with pytest.raises(ConfigError, match="org="):
        clean_jobs([JOB], two_orgs)
    assert clean_jobs([JOB], two_orgs, org="eu-org") == [Job("eu-org", JOB)]


def test_every_kind_of_bad_id_is_listed_in_one_error(two_orgs):
    bad = [
        "+123",
        "-5",
        "12.0",
        "1e18",
        "",
        "123456789012345678901",
        "12 34",
        3.6523970000098350e18,
        float("nan"),
        None,
        True,
    ]
    rows = [{"job_id": v, "org": "us-org"} for v in bad] + [{"job_id": JOB, "org": "nope"}]
    with pytest.raises(JobInputError) as err:
        clean_jobs(pd.DataFrame(rows, dtype=object), two_orgs)
    assert [r[0] for r in err.value.rows] == list(range(1, len(rows) + 1))
    text = str(err.value)
    assert "row 8" in text and "float" in text and "unknown org 'nope'" in text
    assert "21 digits" in text


def test_duplicates_dropped_with_a_warning_naming_them(creds):
    with pytest.warns(UserWarning, match="row 3"):
        jobs = clean_jobs([JOB, "1", JOB], {"us-org": creds})
    assert jobs == [Job("us-org", JOB), Job("us-org", "1")]


def test_csv_ids_stay_text(tmp_path, two_orgs):
    path = tmp_path / "jobs.csv"
    path.write_text(f"job_id,org\n{JOB},us-org\n 0012,eu-org\n")
    assert clean_jobs(path, two_orgs) == [Job("us-org", JOB), Job("eu-org", "0012")]


def test_100k_ids_are_accepted_quickly(creds):
    ids = [str(3652397000000000000 + i) for i in range(100_000)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jobs = clean_jobs(ids, {"us-org": creds})
    assert len(jobs) == 100_000 and jobs[-1].job_id == ids[-1]


@pytest.mark.parametrize("value", ["١٨٨٢٠٧٢١٦٤٩٨٧٤٦٦٦١٩", "１２３４５", "¹²³"])
def test_non_ascii_digits_are_refused(creds, value):
    with pytest.raises(JobInputError, match="not all digits"):
        clean_jobs([value], {"us-org": creds})


def test_unknown_dc_names_the_configured_dcs(two_orgs):
    df = pd.DataFrame({"job_id": [JOB], "dc": ["xx"]})
    with pytest.raises(JobInputError) as err:
        clean_jobs(df, two_orgs)
    assert "no org configured for dc 'xx'" in str(err.value) and "eu, us" in str(err.value)
    assert "bad row in the jobs input" in str(err.value)


def test_org_and_dc_columns_must_agree(two_orgs):
    df = pd.DataFrame({"job_id": [JOB, "7"], "org": ["us-org", "eu-org"], "dc": ["eu", "eu"]})
    with pytest.raises(JobInputError, match="row 1.*'us-org' is in dc 'us' but the row says"):
        clean_jobs(df, two_orgs)


def test_org_argument_conflicts_with_org_column(two_orgs):
    df = pd.DataFrame({"job_id": [JOB], "org": ["us-org"]})
    with pytest.raises(ConfigError, match="conflicts"):
        clean_jobs(df, two_orgs, org="eu-org")


def test_empty_jobs_input_is_an_error(creds, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text("job_id,org\n")
    with pytest.raises(JobInputError, match="no job ids"):
        clean_jobs(path, {"us-org": creds})
