"""Where a token may be sent: a Zoho host over HTTPS, or loopback."""

import re

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from zcrm_notebook.api import destinations
from zcrm_notebook.api.destinations import (
    DestinationPolicy,
    check_token_destination,
    is_loopback_url,
    parse_destination,
)
from zcrm_notebook.errors import DataCenterError, UnsafeEndpointError


@pytest.mark.parametrize(
    "url",
    [
        "https://www.zohoapis.eu",
        "https://accounts.zohocloud.ca/",
        "http://127.0.0.1:8080/x",
        "http://localhost:1",
        "http://[::1]:5",
    ],
)
def test_allowed_token_destinations(url):
    assert check_token_destination(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://www.zohoapis.eu",
        "https://www.zohoapis.eu.evil.com",
        "https://evil.com",
        "https://zohoapis.eu@evil.com",
        "https://user@www.zohoapis.com",
        "ftp://127.0.0.1",
    ],
)
def test_refused_token_destinations(url):
    with pytest.raises(UnsafeEndpointError):
        check_token_destination(url)


def test_loopback_refused_when_not_allowed():
    with pytest.raises(UnsafeEndpointError):
        check_token_destination("http://127.0.0.1:1", allow_loopback=False)


# --- one parser, strict authorities, per-org policies (issue 10) ----------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1\\@127.0.0.1:2",  # backslash
        "http://127.0.0.1:1%5C@127.0.0.1:2",  # encoded backslash in user info
        "http://@127.0.0.1:2",  # empty user info
        "http://127.0.0.1:1\t\\@127.0.0.1:2",  # tab
        "http://127.0.0.1:2\n@evil.example",  # newline
        "http://127.0.0.1 :2",  # space
        "http://evil.example\uff20127.0.0.1:2",  # fullwidth at sign
        "http://127\u30020\u30020\u30021:2",  # ideographic full stops
        "http://127.0.0.1:20000000",  # port out of range
        "http://127.0.0.1:-1",
        "http://%31%32%37.0.0.1:2",  # percent-encoded host
        "http://0x7f.0.0.1:2",  # non-canonical IP forms
        "http://127.1:2",
        "http://2130706433:2",
        "http://[0:0::1]:2",
        "https://www.zohoapis.eu.",  # trailing dot
        "https://-www.zohoapis.eu",
        "ws://127.0.0.1:2",
        "http:///path",
        "127.0.0.1:2",
    ],
)
def test_malformed_or_ambiguous_urls_are_refused_for_every_policy(url):
    for policy in (DestinationPolicy.any_zoho(), DestinationPolicy.for_org("us", True)):
        with pytest.raises(UnsafeEndpointError):
            policy.check(url)
    assert not is_loopback_url(url)


def test_a_dc_org_reaches_only_its_own_data_center_over_https_on_443():
    eu = DestinationPolicy.for_org("eu", loopback=False)
    allowed = ["https://accounts.zoho.eu", "https://www.zohoapis.eu:443/crm"]
    for url in [*allowed, "https://sandbox.zohoapis.eu"]:
        assert eu.check(url).host in eu.hosts
    for url in ("https://www.zohoapis.com", "http://www.zohoapis.eu", "https://www.zohoapis.eu:8443",
                "http://127.0.0.1:9", "https://evil.example"):  # fmt: skip
        with pytest.raises(UnsafeEndpointError):
            eu.check(url)
    assert eu.check_api_domain("https://developer.zohoapis.eu/") == "https://developer.zohoapis.eu"
    with pytest.raises(UnsafeEndpointError, match="www.zohoapis.eu"):  # names the expected
        eu.check_api_domain("https://accounts.zoho.eu")  # the accounts server is no api_domain
    with pytest.raises(DataCenterError):
        DestinationPolicy.for_org("zz", loopback=False)


def test_a_loopback_org_reaches_only_loopback():
    sim = DestinationPolicy.for_org("anything", loopback=True)
    for url in (
        "http://127.0.0.1:8080",
        "https://localhost:1/x",
        "http://[::1]:5",
        "http://127.9.9.9",
    ):
        assert sim.check(url).is_loopback
    for url in ("https://www.zohoapis.eu", "http://10.0.0.1:80", "http://localhost.evil.example"):
        with pytest.raises(UnsafeEndpointError):
            sim.check(url)


def test_policies_of_two_orgs_sharing_a_session_allow_both():
    both = DestinationPolicy.for_org("eu", False) | DestinationPolicy.for_org("us", False)
    assert both.check("https://www.zohoapis.com").host == "www.zohoapis.com"
    assert both.check("https://accounts.zoho.eu").host == "accounts.zoho.eu"
    with pytest.raises(UnsafeEndpointError):
        both.check("http://127.0.0.1:1")


AUTHORITY = st.text(st.sampled_from(list("ab.:@\\/%[]?#1270 \t-\uff20")), max_size=20)


@settings(max_examples=500, deadline=None, database=None)
@given(scheme=st.sampled_from(["http", "https", "HTTP", "ftp"]), authority=AUTHORITY,
       tail=st.sampled_from(["", "/", "/api", "?q=1", "#f"]))  # fmt: skip
@example(scheme="http", authority="127.0.0.1:1\\@127.0.0.1:2", tail="")
@example(scheme="http", authority="a@127.0.0.1", tail="")
@example(scheme="HTTP", authority="127.0.0.1:12", tail="/api")
@example(scheme="https", authority="a.b:0", tail="?q=1")
def test_an_accepted_url_goes_where_it_was_checked_to_go(scheme, authority, tail):
    """Whatever requests and urllib3 make of an accepted URL, they connect to the host and
    port that were checked (and urlsplit agrees)."""
    url = f"{scheme}://{authority}{tail}"
    try:
        dest = parse_destination(url)
    except UnsafeEndpointError:
        return
    prepared = requests.Request("GET", url).prepare().url
    sent = parse_url(prepared)
    assert (sent.scheme, sent.host, sent.port) == (dest.scheme, dest.host, dest.port), prepared
    host_part = re.split(r"[/?#]", authority, maxsplit=1)[0]
    assert "@" not in host_part and "%" not in host_part and "\\" not in url


@settings(max_examples=500, deadline=None, database=None)
@given(scheme=st.sampled_from(["http", "https", "HTTP", "ftp"]), authority=AUTHORITY,
       path=st.sampled_from(["", "/", "/crm/v8/Leads/actions/mass_convert", "#f", "?"]),
       query=st.text(st.sampled_from(list("az09_.~=&+-?#/@%")), max_size=12))  # fmt: skip
@example(scheme="http", authority="127.0.0.1:5", path="/crm", query="job_id=3652397000000000001")
@example(scheme="http", authority="a@127.0.0.1", path="", query="job_id=1")
def test_a_url_with_a_query_is_read_as_the_whole_url(scheme, authority, path, query):
    """The check reads a status URL through its cached head: the same destination, or the
    same refusal (naming the whole URL), as reading the whole URL."""
    url = f"{scheme}://{authority}{path}?{query}"
    try:
        expected: object = destinations._parse.__wrapped__(url)
    except UnsafeEndpointError as exc:
        expected = str(exc)
    try:
        got: object = parse_destination(url)
    except UnsafeEndpointError as exc:
        got = str(exc)
    assert got == expected
