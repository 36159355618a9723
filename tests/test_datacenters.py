"""Data-center table: codes, accounts servers, API domains, sources, look-ups."""

import warnings

import pytest

from zcrm_notebook.api.datacenters import (
    DATA_CENTERS,
    dc_codes,
    dc_for_accounts_server,
    dc_for_api_domain,
    describe_data_centers,
    get_dc,
)
from zcrm_notebook.api.unverified import forget_warnings
from zcrm_notebook.errors import DataCenterError, UnverifiedFactWarning


def test_all_nine_data_centers():
    assert set(DATA_CENTERS) == {"us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk"}


@pytest.mark.parametrize(
    "code, accounts, api",
    [
        ("us", "https://accounts.zoho.com", "https://www.zohoapis.com"),
        ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
        ("ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
        ("au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
        ("cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    ],
)
def test_accounts_server_and_api_domain(code, accounts, api):
    dc = get_dc(code)
    assert (dc.accounts_server, dc.api_domain) == (accounts, api)
    assert dc_for_accounts_server(accounts) is dc
    assert dc_for_api_domain(api) is dc


def test_sandbox_and_developer_domains():
    au = get_dc("au")
    assert au.api_domain_for("sandbox") == "https://sandbox.zohoapis.com.au"
    assert au.api_domain_for("developer") == "https://developer.zohoapis.com.au"
    assert dc_for_api_domain("https://sandbox.zohoapis.ca") is get_dc("ca")
    with pytest.raises(DataCenterError, match="production"):
        au.api_domain_for("staging")


def test_lookup_is_case_and_space_insensitive():
    assert get_dc(" EU ") is get_dc("eu")


def test_unknown_code_lists_valid_codes():
    with pytest.raises(DataCenterError) as err:
        get_dc("de")
    assert "'de'" in str(err.value)
    for code in DATA_CENTERS:
        assert code in str(err.value)


def test_unknown_hosts_raise():
    with pytest.raises(DataCenterError):
        dc_for_api_domain("https://www.zohoapis.de")
    with pytest.raises(DataCenterError):
        dc_for_accounts_server("https://accounts.example.com")


def test_every_data_center_names_its_source_and_only_uk_is_unverified():
    assert all(dc.source for dc in DATA_CENTERS.values())
    assert {c for c, dc in DATA_CENTERS.items() if not dc.verified} == {"uk"}
    assert all("SDK" in dc.source for dc in DATA_CENTERS.values() if dc.verified)
    assert dc_codes().endswith("uk (UNVERIFIED)")
    lines = describe_data_centers().splitlines()
    assert len(lines) == 9 and "UNVERIFIED" in lines[-1] and "zohoapis.uk" in lines[-1]


def test_using_an_unverified_data_center_warns_once():
    forget_warnings()
    with pytest.warns(UnverifiedFactWarning, match="data center uk is not confirmed"):
        get_dc("uk")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_dc("uk")  # once per process
        dc_for_api_domain("https://www.zohoapis.uk")
        get_dc("eu")
    forget_warnings()
    with pytest.warns(UnverifiedFactWarning):
        dc_for_accounts_server("https://accounts.zoho.uk")
