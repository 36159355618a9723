"""Where a token may be sent: a Zoho host over HTTPS, or loopback."""

import pytest

from zcrm_notebook.api.destinations import check_token_destination
from zcrm_notebook.errors import UnsafeEndpointError


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
