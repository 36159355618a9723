"""The one place that sends HTTP: every session of the package is made or set up here.

:func:`new_session` gives a ``requests.Session`` (or sets up one given, such as the
requests-oauthlib ``OAuth2Session`` of the token calls) that sends through
:class:`ZohoAdapter` for ``http://`` and ``https://``: no proxy or netrc settings from the
environment (``trust_env`` off: tokens go where we say), no redirects followed, no
urllib3 retries (retrying is the poller's decision), a pool sized for the org's calls in
flight. :meth:`ZohoAdapter.send` is the choke point every request of the package passes
through: the place for checks that must hold for every call.
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

import requests
from requests.adapters import HTTPAdapter

__all__ = ["ZohoAdapter", "new_session", "USER_AGENT"]

USER_AGENT = "zcrm-notebook"
_S = TypeVar("_S", bound=requests.Session)


class ZohoAdapter(HTTPAdapter):
    """The transport adapter of every session: each request of the package passes through
    :meth:`send`.

    Parameters
    ----------
    pool_size : int, default 10
        Connections kept alive per host.
    """

    def __init__(self, pool_size: int = 10) -> None:
        super().__init__(pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send one prepared request (after :meth:`check`)."""
        self.check(request)
        return super().send(request, **kwargs)

    def check(self, request: requests.PreparedRequest) -> None:
        """Called with every request before it is sent; raise to stop it.

        Nothing is checked here yet: the destination of tokens is checked by the callers
        (:func:`zcrm_notebook.api.destinations.check_token_destination`) before they build
        the request.
        """


@overload
def new_session(
    session: None = None, *, pool_size: int = ..., user_agent: str | None = ...
) -> requests.Session: ...


@overload
def new_session(session: _S, *, pool_size: int = ..., user_agent: str | None = ...) -> _S: ...


def new_session(
    session: requests.Session | None = None,
    *,
    pool_size: int = 10,
    user_agent: str | None = USER_AGENT,
) -> requests.Session:
    """A session whose every request goes through a :class:`ZohoAdapter`.

    Parameters
    ----------
    session : requests.Session, optional
        A session to set up (e.g. an ``OAuth2Session``); default a new one.
    pool_size : int, default 10
        Connections kept alive (match the calls in flight).
    user_agent : str or None, default ``"zcrm-notebook"``
        The ``User-Agent`` header; None keeps the session's.

    Returns
    -------
    requests.Session
        ``session`` (or the new one), with ``trust_env`` off and ``max_redirects = 0``
        (a redirect is refused: it would send a secret again, elsewhere).
    """
    s = session if session is not None else requests.Session()
    adapter = ZohoAdapter(pool_size)
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    s.trust_env = False  # no proxy/netrc surprises: tokens go where we say
    s.max_redirects = 0
    if user_agent is not None:
        s.headers["User-Agent"] = user_agent
    return s
