"""A minimal Zoho look-alike for load tests: one asyncio loop, no threads per connection.

Answers only what a poll round needs, on loopback: ``POST {base}/{dc}/accounts/oauth/v2/
token`` (any refresh token -> an access token valid an hour) and ``GET {base}/{dc}/api/
crm/{v}/Leads/actions/mass_convert?job_id=...`` (every job ``COMPLETED``, 10 leads), after
``latency_s`` (an ``asyncio.sleep``: thousands of calls wait at once without a thread
each). HTTP/1.1 keep-alive, exact Content-Length. No faults, no checks: a load generator's
counterpart, not a simulator.
"""

from __future__ import annotations

import asyncio
import json
import threading

from remote_server import org_names

_STATUS = json.dumps(
    {
        "data": [
            {
                "Status": "COMPLETED",
                "Total_Count": 10,
                "Converted_Count": 10,
                "Not_Converted_Count": 0,
                "Failed_Count": 0,
            }
        ]
    }  # fmt: skip
).encode()
_HEAD = (
    b"HTTP/1.1 %d OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %d\r\n\r\n"
)


class FakeZoho:
    """Serve on 127.0.0.1 in a daemon thread; ``status_calls`` counts answered GETs."""

    def __init__(self, n_jobs: int = 0, n_orgs: int = 4, latency_s: float = 0.0) -> None:
        self.n_orgs, self.latency_s = n_orgs, latency_s
        self.status_calls = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> FakeZoho:
        threading.Thread(target=self._run, daemon=True, name="fake-zoho").start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)

    def org_configs(self) -> dict[str, dict]:
        base = f"http://127.0.0.1:{self.port}"
        return {
            name: {
                "dc": dc,
                "client_id": f"1000.CID{i}",
                "client_secret": f"secret-{i}-xxxx",
                "refresh_token": f"1000.rt.{i}.yyyy",
                "accounts_url": f"{base}/{dc}/accounts",
                "api_domain": f"{base}/{dc}/api",
                "api_version": "v5",
            }  # fmt: skip
            for i, (name, dc) in enumerate(org_names(self.n_orgs))
        }

    def _run(self) -> None:
        self._loop = loop = asyncio.new_event_loop()
        server = loop.run_until_complete(
            asyncio.start_server(self._conn, "127.0.0.1", 0, backlog=4096)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, _, rest = head.partition(b"\r\n")
                method, target, _ = line.split(b" ", 2)
                length = 0
                for h in rest.split(b"\r\n"):
                    if h[:15].lower() == b"content-length:":
                        length = int(h[15:])
                if length:
                    await reader.readexactly(length)
                body, status = self._answer(method, target)
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                writer.write(_HEAD % (status, len(body)) + body)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def _answer(self, method: bytes, target: bytes) -> tuple[bytes, int]:
        if method == b"GET" and b"/mass_convert?" in target:
            self.status_calls += 1
            return _STATUS, 200
        if method == b"POST" and target.endswith(b"/oauth/v2/token"):
            dc = target.split(b"/")[1].decode()
            token = {"access_token": f"1000.fake.{dc}", "expires_in": 3600, "token_type": "Bearer",
                     "api_domain": f"http://127.0.0.1:{self.port}/{dc}/api"}  # fmt: skip
            return json.dumps(token).encode(), 200
        return b'{"code":"INVALID_URL_PATTERN","status":"error"}', 404
