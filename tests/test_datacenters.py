"""Data-center table: codes, accounts servers, API domains, look-ups."""

import pytest

from zcrm_notebook.api.datacenters import (
    DATA_CENTERS,
    dc_for_accounts_server,
    dc_for_api_domain,
    get_dc,
)
from zcrm_notebook.errors import DataCenterError


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
