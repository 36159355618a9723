"""Second poll-round baseline: Zoho's official Python SDK, one call at a time, on loopback.

The SDK (``zohocrmsdk8-0`` on PyPI) is *not* a dependency of this project; install it into
the benchmark environment only (``pip install zohocrmsdk8-0``). Without it the result is
``{"sdk": "n/a (...)"}``. The SDK's code is used as shipped; it is pointed at the simulator
through its documented ``DataCenter.Environment(url, accounts_url, file_upload_url)``:

- ``url`` is the org's ``api_domain``; the SDK GETs ``{url}/crm/v8/Leads/actions/mass_convert``.
- ``accounts_url`` must be the *full* token endpoint: the SDK POSTs the refresh grant to it
  as is (``oauth_token.py``, ``url = initializer.environment.accounts_url``), which is why
  the Zoho data centers give ``https://accounts.zoho.com/oauth/v2/token`` there.
- ``OAuthToken(..., find_user=False)``: by default the SDK also GETs ``/crm/v8/users?type=
  CurrentUser`` after a refresh to name the token's user; the simulator does not serve that.
- ``job_id`` goes in as an ``int``: the SDK's ``ParameterMap`` rejects a ``str``.
- Tokens are kept in the SDK's ``FileStore`` (a CSV file in a temporary folder; the SDK reads
  it on every call), logging is off (no log file), read/connect timeouts are 10 s.

Orgs are polled one after another: ``Initializer.initialize`` for the first org, then the
SDK's ``Initializer.switch_user`` for each next one (each refreshes that org's token). The
SDK keeps the switched user in a thread-local that a later ``initialize`` does not reset,
so every run happens in a fresh thread.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from types import SimpleNamespace

_TIMEOUT_S = 10


def _sdk():
    """The SDK's classes, or ImportError."""
    from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
    from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
    from zohocrmsdk.src.com.zoho.api.logger import Logger
    from zohocrmsdk.src.com.zoho.crm.api import ParameterMap
    from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
    from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
    from zohocrmsdk.src.com.zoho.crm.api.mass_convert import (
        GetJobStatusParam,
        MassConvertOperations,
        ResponseWrapper,
    )
    from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig

    return SimpleNamespace(
        OAuthToken=OAuthToken,
        FileStore=FileStore,
        Logger=Logger,
        ParameterMap=ParameterMap,
        DataCenter=DataCenter,
        Initializer=Initializer,
        GetJobStatusParam=GetJobStatusParam,
        MassConvertOperations=MassConvertOperations,
        ResponseWrapper=ResponseWrapper,
        SDKConfig=SDKConfig,
    )


def unavailable() -> str | None:
    """Why the SDK cannot be used here, or None when it can."""
    try:
        _sdk()
    except ImportError as exc:
        return f"n/a (zohocrmsdk8-0 not importable: {exc})"
    return None


def _status(sdk: SimpleNamespace, response) -> str:
    if response is None:  # the SDK logs an SDKException and returns None
        return "no answer"
    obj = response.get_object()
    if response.get_status_code() != 200 or not isinstance(obj, sdk.ResponseWrapper):
        return f"HTTP {response.get_status_code()} {type(obj).__name__}"
    status = obj.get_data()[0].get_status()
    return str(getattr(status, "get_value", lambda: status)()).lower()


def _poll_all(orgs: dict, folder: str) -> tuple[float, dict]:
    """Every job once, sequentially, org after org; (seconds, {status: count})."""
    sdk = _sdk()
    store = sdk.FileStore(os.path.join(folder, "sdk_tokens.csv"))
    config = sdk.SDKConfig(read_timeout=_TIMEOUT_S, connect_timeout=_TIMEOUT_S)
    seen: dict[str, int] = {}
    started = time.perf_counter()
    for i, (cfg, job_ids) in enumerate(orgs.values()):
        environment = sdk.DataCenter.Environment(
            cfg["api_domain"], cfg["accounts_url"] + "/oauth/v2/token", cfg["api_domain"]
        )
        token = sdk.OAuthToken(
            client_id=cfg["client_id"],
            client_secret=cfg["client_secret"],
            refresh_token=cfg["refresh_token"],
            find_user=False,
        )
        if i == 0:
            sdk.Initializer.initialize(
                environment=environment,
                token=token,
                store=store,
                sdk_config=config,
                resource_path=folder,
                logger=sdk.Logger.get_instance(sdk.Logger.Levels.ERROR),
            )
        else:
            sdk.Initializer.switch_user(environment=environment, token=token, sdk_config=config)
        operations = sdk.MassConvertOperations()
        for job_id in job_ids:
            params = sdk.ParameterMap()
            params.add(sdk.GetJobStatusParam.job_id, int(job_id))
            status = _status(sdk, operations.get_job_status(params))
            seen[status] = seen.get(status, 0) + 1
    return time.perf_counter() - started, seen


def sdk_poll(orgs: dict, timeout_s: float = 600.0) -> float:
    """Seconds for the SDK to poll every job of a running simulator once.

    ``orgs`` is what :class:`bench_poll.RemoteSim` yields: ``{org: (org_config, job_ids)}``.
    Raises AssertionError unless every answer says ``completed``.
    """
    out: dict = {}

    def target() -> None:
        try:
            with tempfile.TemporaryDirectory(prefix="zsdk-bench-") as folder:
                out["result"] = _poll_all(orgs, folder)
        except BaseException as exc:  # handed to the caller's thread
            out["error"] = exc

    worker = threading.Thread(target=target, name="zoho-sdk-bench", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError(f"Zoho SDK poll round still running after {timeout_s:.0f} s")
    if "error" in out:
        raise out["error"]
    seconds, seen = out["result"]
    n_jobs = sum(len(ids) for _, ids in orgs.values())
    assert seen == {"completed": n_jobs}, seen
    return seconds


def sdk_round(
    n_jobs: int = 2000,
    n_orgs: int = 4,
    latency_s: float = 0.02,
    ours_s: float | None = None,
    orgs: dict | None = None,
) -> dict:
    """The SDK's poll round: ``{"sdk_s", "speedup_ours_vs_sdk"}`` or ``{"sdk": "n/a (...)"}``.

    Polls the jobs of ``orgs`` (a running :class:`bench_poll.RemoteSim`) when given, else
    starts a simulator of its own with ``n_jobs`` completed jobs over ``n_orgs`` orgs and
    ``latency_s`` per call. ``speedup_ours_vs_sdk`` is ``sdk_s / ours_s`` (None without
    ``ours_s``).
    """
    reason = unavailable()
    if reason:
        return {"sdk": reason}
    # generous bound: ten times the pure latency of all calls, plus a minute
    bound = 60.0 + 10 * n_jobs * latency_s
    if orgs is None:
        from bench_poll import RemoteSim

        with RemoteSim(n_jobs, n_orgs, latency_s) as started_orgs:
            seconds = sdk_poll(started_orgs, timeout_s=bound)
    else:
        seconds = sdk_poll(orgs, timeout_s=bound)
    return {
        "sdk_s": seconds,
        "sdk_per_call_s": seconds / n_jobs,
        "speedup_ours_vs_sdk": seconds / ours_s if ours_s else None,
    }
