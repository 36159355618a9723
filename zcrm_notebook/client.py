"""Authorized calls of the Zoho CRM endpoints for one org.

:class:`ZohoClient` holds the org's token cache and its ``requests`` session (made by
:func:`zcrm_notebook.api.transport.new_session`, or given; its status calls go through
the transport's lean sender, :class:`~zcrm_notebook.api.transport.LeanSender`, the same
checks at half the CPU, and the poll loop's through :meth:`ZohoClient.get_status_async` on
its event loop (:class:`~zcrm_notebook.api.aio_sender.AioSender`, about a quarter of the
CPU), unless the session was given or changed) and makes the calls described
by :mod:`zcrm_notebook.api.endpoints`, each with ``Authorization: Zoho-oauthtoken
<token>``: the mass-convert status call
(``GET {api_domain}/crm/{v}/Leads/actions/mass_convert?job_id={job_id}``, Zoho CRM API "Get
Status of Mass Convert Lead",
https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-status.html), the
mass-convert POST, Get Records on Leads and the single-lead convert (their parsers are in
:mod:`zcrm_notebook.api.conversion`). Every answer is mapped to a value or to one
exception of :mod:`zcrm_notebook.errors`. One attempt per call, except the single
refresh-and-retry after a 401 ``INVALID_TOKEN`` (``docs/zoho-api.md``; a 401 means Zoho did
nothing, so even a POST is safe to send again); retrying transient faults is the caller's
job (the poller, the conversion loop).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote_plus, urlencode

import requests
from urllib3.exceptions import NewConnectionError

from .api.aio_sender import AioSender
from .api.answers import answer_date, credits_remaining, interpret_answer
from .api.conversion import (
    MAX_IDS_PER_POST,
    MAX_IDS_PER_READ,
    RECORD_FIELDS,
    ConvertResult,
    LeadRecord,
    interpret_convert,
    interpret_records,
    interpret_schedule,
)
from .api.endpoints import (
    CONVERT_RECORD,
    GET_RECORDS,
    MASS_CONVERT_SCHEDULE,
    MASS_CONVERT_STATUS,
    Endpoint,
)
from .api.status import JobStatus
from .api.transport import (
    Answer,
    CallAborted,
    CallGroup,
    LeanSender,
    guard_session,
    new_session,
)
from .auth.credentials import AccessToken, OrgCredentials
from .auth.tokens import TokenCache, get_token_cache
from .errors import (
    AuthError,
    BadRequestError,
    ConfigError,
    EndpointConfigError,
    InvalidTokenError,
    TransportError,
)

__all__ = ["ZohoClient", "StatusAnswer", "CallAnswer"]

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusAnswer:
    """A successful status call.

    Attributes
    ----------
    status : JobStatus
    http_status : int
    latency_s : float
        Round trip of the successful attempt, seconds.
    credits_remaining : int or None
        ``X-API-CREDITS-REMAINING`` when Zoho sent it.
    """

    status: JobStatus
    http_status: int
    latency_s: float
    credits_remaining: int | None = None


@dataclass(frozen=True)
class CallAnswer(Generic[T]):
    """A successful call of the conversion endpoints.

    Attributes
    ----------
    value : T
        What the answer holds: the job id (str) of a POST, the ``LeadRecord`` list of Get
        Records, the ``ConvertResult`` of a single convert.
    http_status : int
    latency_s : float
        Round trip of the successful attempt, seconds.
    credits_remaining : int or None
        ``X-API-CREDITS-REMAINING`` when Zoho sent it.
    answer_date : float or None
        The answer's ``Date`` header: when Zoho made it, on Zoho's clock (seconds since the
        epoch, whole seconds; :func:`~zcrm_notebook.api.answers.answer_date`), None when
        absent or unreadable. The clock Zoho's record times (``Converted_Date_Time``) are
        on, which the caller's clock need not be.
    """

    value: T
    http_status: int
    latency_s: float
    credits_remaining: int | None = None
    answer_date: float | None = None


class ZohoClient:
    """Status calls for one org: one ``requests.Session``, its token cache, timeouts.

    Parameters
    ----------
    creds : OrgCredentials
    timeout_s : float, default 10
        Bound of every call, token requests included: connect, headers and body
        together (not each socket read), seconds.
    pool_size : int, default 5
        Connections kept alive (match the org's calls-in-flight cap).
    token_cache : TokenCache, optional
        Defaults to the shared cache of ``creds``.
    clock : callable, default ``time.time``
        Used for the token cache when no cache is given.
    session : requests.Session, optional
        The session to send with (your proxies, CA bundle, adapters; a test double), not
        closed by :meth:`close`. Its adapters are guarded in place
        (:func:`~zcrm_notebook.api.transport.guard_session`): every request still passes
        the org's destination check and the body cap. Default: a new session of
        :func:`~zcrm_notebook.api.transport.new_session` with ``pool_size`` connections,
        and the status calls go through a :class:`~zcrm_notebook.api.transport.LeanSender`
        with the same checks, as long as no adapter is mounted on that session afterwards
        (then the session is used).

    Raises
    ------
    UnsafeEndpointError
        (from :meth:`get_status`) if the token's ``api_domain`` is not an API host of the
        org's data center (or loopback for the simulator).
    """

    def __init__(
        self,
        creds: OrgCredentials,
        *,
        timeout_s: float = 10.0,
        pool_size: int = 5,
        token_cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        self.creds = creds
        self.timeout_s = timeout_s
        self.tokens = token_cache or get_token_cache(creds, clock=clock)
        self.destinations = creds.destinations
        self._owns_session = session is None
        self.lean: LeanSender | None = None
        self.aio: AioSender | None = None
        if session is None:
            self.session = new_session(pool_size=pool_size, policy=self.destinations)
            self.lean = LeanSender(self.destinations)
            self.aio = AioSender(self.destinations, pool_size=pool_size)
            self._adapters = dict(self.session.adapters)
        else:
            self.session = guard_session(session, self.destinations, pool_size=pool_size)
        self._calls = CallGroup()

    def __repr__(self) -> str:
        return f"ZohoClient(org={self.creds.org!r}, dc={self.creds.dc!r})"

    def close(self) -> None:
        """Close pooled connections (of the session the client made, not of one given)."""
        if self._owns_session:
            self.session.close()
        if self.lean is not None:
            self.lean.close()
        if self.aio is not None:
            self.aio.close()

    def abort(self) -> None:
        """End this client's calls in flight at once (they fail as ``CallAborted``
        transport errors) and refuse later ones: the run stopped. Thread-safe."""
        self._calls.abort()

    def url(self, endpoint: Endpoint, api_domain: str) -> str:
        """URL of a CRM ``endpoint`` on ``api_domain`` for this org's API version."""
        return endpoint.url(api_domain, version=self.creds.api_version)

    def status_url(self, api_domain: str) -> str:
        """Mass-convert status URL for this org's API version."""
        return self.url(MASS_CONVERT_STATUS, api_domain)

    def get_status(self, job_id: str) -> StatusAnswer:
        """Ask Zoho for the status of one mass-convert job.

        Parameters
        ----------
        job_id : str
            The job id (digits, as text).

        Returns
        -------
        StatusAnswer

        Raises
        ------
        ZcrmError
            See :func:`~zcrm_notebook.api.answers.interpret_answer`;
            :class:`TransportError` for no answer; token errors from
            :meth:`TokenCache.get`. After a 401 ``INVALID_TOKEN`` or
            ``AUTHENTICATION_FAILURE`` the token is refreshed once and the call retried
            once (Zoho CRM "OAuth errors",
            https://www.zoho.com/crm/developer/docs/api/v8/oauth-overview.html); a second
            401 raises :class:`InvalidTokenError` saying what is probably wrong.
            ``OAUTH_SCOPE_MISMATCH`` and ``NO_PERMISSION`` never trigger a refresh.
        EndpointConfigError
            404 ``INVALID_URL_PATTERN`` (any 404) or ``API_NOT_SUPPORTED``: one line naming
            the org's ``api_domain`` and ``api_version`` to check.
        BadRequestError
            ``REQUIRED_PARAM_MISSING`` / ``INVALID_REQUEST_METHOD``: one line naming the
            method, the URL path and the form of the job id sent.
        """
        return self._authorized(f"job {job_id}", lambda token: self._call(job_id, token))

    async def get_status_async(
        self, job_id: str, blocking: Callable[..., Awaitable[Any]]
    ) -> StatusAnswer:
        """:meth:`get_status` as a coroutine on the running event loop (the poll loop's).

        The GET is sent by the client's :class:`~zcrm_notebook.api.aio_sender.AioSender`
        on that loop; whatever may block runs through ``blocking(fn, *args)`` (e.g. the
        loop's ``run_in_executor`` on the org's pool): a token request (no cached token,
        the refresh after a 401), and the whole call when the client's session was given
        or changed, or when a subclass overrides :meth:`get_status`.

        Parameters
        ----------
        job_id : str
        blocking : callable
            ``blocking(fn, *args)`` returns an awaitable of ``fn(*args)`` run off the loop.

        Returns
        -------
        StatusAnswer

        Raises
        ------
        ZcrmError
            As :meth:`get_status`.
        """
        if self.aio is None or not self._lean_path(MASS_CONVERT_STATUS) or self._overridden():
            return await blocking(self.get_status, job_id)
        token = self.tokens.cached() or await blocking(self._token)
        try:
            return await self._status_async(job_id, token)
        except InvalidTokenError as exc:
            log.info("org %s: %s on job %s; refreshing the token once", self.creds.org,
                     exc.code, job_id)  # fmt: skip
            await blocking(self.tokens.invalidate, token)  # its lock: never on the loop
        fresh = await blocking(self._token)
        try:
            return await self._status_async(job_id, fresh)
        except InvalidTokenError as exc:
            raise self._fresh_token_refused(exc, fresh) from None

    def _overridden(self) -> bool:
        """A subclass serves the status call its own way (tests, benchmarks)."""
        return type(self).get_status is not ZohoClient.get_status

    def _token(self) -> AccessToken:
        """The token (a token request if need be), in this client's group of calls."""
        with self._calls.active():
            return self.tokens.get(self.timeout_s)

    async def _status_async(self, job_id: str, token: AccessToken) -> StatusAnswer:
        """One status GET on the running loop with ``token`` (see :meth:`_call`)."""
        assert self.aio is not None
        api_domain = self.destinations.check_api_domain(token.api_domain)
        url = f"{self.url(MASS_CONVERT_STATUS, api_domain)}?job_id={quote_plus(job_id)}"
        header = {"Authorization": f"Zoho-oauthtoken {token.access_token}"}
        started = time.perf_counter()
        try:
            r = await self.aio.get(url, header, self.timeout_s, self._calls)
        except requests.RequestException as exc:
            raise _no_answer(f"job {job_id}", api_domain, exc) from None
        return self._status_answer(job_id, token, r, time.perf_counter() - started)

    def schedule_mass_convert(self, body: Mapping[str, Any]) -> CallAnswer[str]:
        """Schedule a mass conversion: ``POST .../Leads/actions/mass_convert``.

        Zoho CRM API "Mass Convert Lead"
        (https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-lead.html).

        Parameters
        ----------
        body : mapping
            The flat JSON body: ``ids`` (1-50 lead ids as text) and the options
            (``Deals``, ``assign_to``...; see ``ConvertOptions.body``).

        Returns
        -------
        CallAnswer of str
            The new job's id.

        Raises
        ------
        ConfigError
            ``ids`` empty or above 50 (nothing is sent).
        ZcrmError
            See :func:`~zcrm_notebook.api.conversion.interpret_schedule` and
            :func:`~zcrm_notebook.api.conversion.action_of` (a timeout after sending is a
            :class:`TransportError` with ``sent`` True: the job may exist).
        """
        ids = list(body.get("ids") or ())
        if not 1 <= len(ids) <= MAX_IDS_PER_POST:
            raise ConfigError(f"a mass convert takes 1-{MAX_IDS_PER_POST} lead ids, not {len(ids)}")
        subject = f"mass convert of {len(ids)} leads"

        def call(token: AccessToken) -> CallAnswer[str]:
            r, latency = self._send(MASS_CONVERT_SCHEDULE, token, {}, subject, json_body=body)
            return CallAnswer(interpret_schedule(subject, _requests_answer(r)), *_meta(r, latency))

        return self._authorized(subject, call)

    def get_leads(
        self, lead_ids: Sequence[str], fields: Sequence[str] = RECORD_FIELDS
    ) -> CallAnswer[list[LeadRecord]]:
        """Read leads by id, converted or not: ``GET .../Leads?ids=..&converted=both&fields=..``.

        Zoho CRM API "Get Records"
        (https://www.zoho.com/crm/developer/docs/api/v8/get-records.html): without
        ``converted=both`` a converted lead is left out; 204 when none matches.

        Parameters
        ----------
        lead_ids : sequence of str
            1-100 lead ids.
        fields : sequence of str, default ``RECORD_FIELDS``
            Field API names to read (the conversion fields).

        Returns
        -------
        CallAnswer of list of LeadRecord
            The leads Zoho has (an id it does not know is absent).

        Raises
        ------
        ConfigError
            No id, or more than 100.
        ZcrmError
            See :func:`~zcrm_notebook.api.conversion.interpret_records`.
        """
        ids = list(lead_ids)
        if not 1 <= len(ids) <= MAX_IDS_PER_READ:
            raise ConfigError(f"Get Records takes 1-{MAX_IDS_PER_READ} lead ids, not {len(ids)}")
        params = {"ids": ",".join(ids), "fields": ",".join(fields), "converted": "both"}
        subject = f"reading {len(ids)} leads"

        def call(token: AccessToken) -> CallAnswer[list[LeadRecord]]:
            r, latency = self._send(GET_RECORDS, token, params, subject)
            return CallAnswer(interpret_records(subject, _requests_answer(r)), *_meta(r, latency))

        return self._authorized(subject, call)

    def convert_lead(
        self, lead_id: str, body: Mapping[str, Any] | None = None
    ) -> CallAnswer[ConvertResult]:
        """Convert one lead now: ``POST .../Leads/{lead_id}/actions/convert`` (5 credits).

        Zoho CRM API "Convert Lead"
        (https://www.zoho.com/crm/developer/docs/api/v8/convert-lead.html). It converts the
        lead when it can; otherwise the answer is the lead's reason.

        Parameters
        ----------
        lead_id : str
        body : mapping, optional
            ``{"data": [{...}]}`` (``Deals``, ``assign_to``...); default ``{"data": [{}]}``.

        Returns
        -------
        CallAnswer of ConvertResult
            Converted (with the new ids) or the lead's code and message.

        Raises
        ------
        ZcrmError
            A call-level error (see :func:`~zcrm_notebook.api.conversion.interpret_convert`).
        """
        payload = dict(body) if body is not None else {"data": [{}]}
        subject = f"lead {lead_id}"

        def call(token: AccessToken) -> CallAnswer[ConvertResult]:
            r, latency = self._send(
                CONVERT_RECORD, token, {}, subject, json_body=payload, record_id=lead_id
            )
            return CallAnswer(interpret_convert(lead_id, _requests_answer(r)), *_meta(r, latency))

        return self._authorized(subject, call)

    def _authorized(self, subject: str, call: Callable[[AccessToken], T]) -> T:
        """``call`` with the cached token, in this client's group of calls (aborted with
        it); after a 401 ``INVALID_TOKEN`` or ``AUTHENTICATION_FAILURE``, once more with a
        fresh token."""
        with self._calls.active():
            token = self.tokens.get(self.timeout_s)
            try:
                return call(token)
            except InvalidTokenError as exc:
                log.info(
                    "org %s: %s on %s; refreshing the token once", self.creds.org, exc.code, subject
                )
                self.tokens.invalidate(token)
            fresh = self.tokens.get(self.timeout_s)
            try:
                return call(fresh)
            except InvalidTokenError as exc:
                raise self._fresh_token_refused(exc, fresh) from None

    def _fresh_token_refused(self, exc: InvalidTokenError, fresh: AccessToken) -> AuthError:
        """The error for a 401 that a freshly refreshed token got too."""
        where = f"{self.creds.org!r} ({self.creds.dc}, token from {self.creds.accounts_url})"
        if exc.code == "AUTHENTICATION_FAILURE":
            why = (
                "authentication failed even with a fresh token: the user may be deactivated "
                "or the client's access to this org removed; re-authorize with "
                "`zcrm-notebook auth`"
            )
        else:
            why = (
                f"{exc.code} right after a fresh token: the token's data center "
                f"({self.creds.dc}) and the API host called ({fresh.api_domain}) probably do "
                "not match (check the org's dc / api_domain), or the refresh token was revoked"
            )
        return InvalidTokenError(f"org {where}: {why}", code=exc.code, http_status=exc.http_status)

    def _call(self, job_id: str, token: AccessToken) -> StatusAnswer:
        r, latency = self._send(MASS_CONVERT_STATUS, token, {"job_id": job_id}, f"job {job_id}")
        return self._status_answer(job_id, token, r, latency)

    def _status_answer(
        self, job_id: str, token: AccessToken, r: requests.Response | Answer, latency: float
    ) -> StatusAnswer:
        """The StatusAnswer of a status call's answer ``r`` (errors as :meth:`get_status`)."""
        try:
            status = interpret_answer(job_id, r)
        except (EndpointConfigError, BadRequestError) as exc:
            raise self._org_config_error(exc, token.api_domain, job_id) from None
        return StatusAnswer(status, r.status_code, latency, credits_remaining(r.headers))

    def _org_config_error(
        self, exc: EndpointConfigError | BadRequestError, api_domain: str, job_id: str
    ) -> EndpointConfigError | BadRequestError:
        """The one-line error of an answer that ends the org: what to check, with values."""
        endpoint, version = MASS_CONVERT_STATUS, self.creds.api_version
        head = f"HTTP {exc.http_status}"
        call = f"{endpoint.method} {endpoint.path_for(version)}"
        if isinstance(exc, BadRequestError):
            why = (
                f"Zoho says the request {call}?job_id=<{len(job_id)}-digit id> is malformed, "
                "which this package never sends: a proxy may be rewriting requests, or it "
                "is a bug (please report this line)"
            )
        elif exc.code == "API_NOT_SUPPORTED":
            supported = exc.details.get("supported_version")
            why = (
                f"API version {version} does not have {call}; Zoho names version "
                f"{supported!r}: set the org's api_version (v5..v8 have the status call)"
            )
        else:
            why = (
                f"Zoho does not serve {call} there: check the org's api_domain "
                f"({api_domain}) and api_version ({version})"
            )
        return type(exc)(
            f"{head}: {why}", code=exc.code, http_status=exc.http_status, details=exc.details
        )

    def _send(
        self,
        endpoint: Endpoint,
        token: AccessToken,
        params: Mapping[str, str],
        subject: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        record_id: str = "",
    ) -> tuple[requests.Response | Answer, float]:
        """One authorized request of ``endpoint``: (answer, round trip in seconds).

        Raises
        ------
        UnsafeEndpointError
            The token's ``api_domain`` is not an API host of the org's data center (nor
            loopback for the simulator): nothing is sent. The session's adapter checks
            the request's URL again right before sending it.
        TransportError
            No answer within ``timeout_s`` (``subject`` names what was asked, e.g.
            ``job 123``); code ``CallTimeout`` when the whole call took too long. Its
            ``sent`` is False when the request provably never left (no connection made,
            or refused by an aborted run).
        """
        api_domain = self.destinations.check_api_domain(token.api_domain)
        started = time.perf_counter()
        header = {"Authorization": f"Zoho-oauthtoken {token.access_token}"}
        r: requests.Response | Answer
        try:
            if self._lean_path(endpoint):
                assert self.lean is not None
                url = f"{self.url(endpoint, api_domain)}?{urlencode(params)}"
                r = self.lean.get(url, header, self.timeout_s)
            else:
                r = self.session.request(
                    endpoint.method,
                    endpoint.url(api_domain, self.creds.api_version, record_id=record_id),
                    params=params,
                    json=json_body,
                    headers=header,
                    timeout=self.timeout_s,
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            raise _no_answer(subject, api_domain, exc) from None
        return r, time.perf_counter() - started

    def _lean_path(self, endpoint: Endpoint) -> bool:
        """The lean sender serves the status calls while the client's session is its own."""
        return (
            self.lean is not None
            and endpoint is MASS_CONVERT_STATUS
            and self.session.adapters == self._adapters
        )


def _requests_answer(r: requests.Response | Answer) -> requests.Response:
    """An answer of a call the lean sender never serves (only the status GET goes there)."""
    return cast(requests.Response, r)


def _meta(
    r: requests.Response | Answer, latency_s: float
) -> tuple[int, float, int | None, float | None]:
    """``(http_status, latency_s, credits_remaining, answer_date)`` of an answer."""
    return r.status_code, latency_s, credits_remaining(r.headers), answer_date(r.headers)


def _no_answer(subject: str, api_domain: str, exc: requests.RequestException) -> TransportError:
    """The error of a call that got no (complete) answer; names the host, not the URL."""
    name = type(exc).__name__
    host = requests.utils.urlparse(api_domain).hostname
    return TransportError(
        f"{subject}: no answer from {host} ({name})", code=name, sent=_may_have_reached(exc)
    )


def _may_have_reached(exc: requests.RequestException) -> bool:
    """False only when the request provably never left: no connection was made, or the
    call was refused because its run had stopped."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, CallAborted) and exc.request is None:
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    refused = isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)
    return not refused
