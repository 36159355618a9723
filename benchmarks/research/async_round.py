"""The poll round on one asyncio event loop: aiohttp, h11 (sans-I/O HTTP/1.1) on asyncio
streams, or a bare HTTP/1.1 client on streams (the floor of a single-threaded design).
For measuring CPU per call only.

Both keep the per-call work of the product around the transport: the checked token from
the package's token cache (fetched before the clock starts), ``interpret_answer`` on the
answer and a Snapshot per call; ``cap`` calls in flight per org, as the Poller.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote, urlsplit

from .clients import _Reply
from .internals import (
    OrgCredentials,
    Snapshot,
    check_token_destination,
    get_token_cache,
    interpret_answer,
)


def _targets(orgs: dict) -> list[tuple]:
    out = []
    for name, (cfg, ids) in orgs.items():
        creds = OrgCredentials(org=name, **cfg)
        token = get_token_cache(creds).get()
        domain = check_token_destination(token.api_domain, allow_loopback=True)
        base = f"{domain}/crm/{creds.api_version}/Leads/actions/mass_convert?job_id="
        headers = {"Authorization": f"Zoho-oauthtoken {token.access_token}",
                   "User-Agent": "zcrm-notebook"}  # fmt: skip
        out.append((creds, base, headers, ids))
    return out


def _snapshot(creds, job_id: str, reply: _Reply, latency: float) -> Snapshot:
    st = interpret_answer(job_id, reply)
    return Snapshot.from_status(st, polled_at=time.time(), org=creds.org, dc=creds.dc,
                                http_status=reply.status_code, latency_s=latency)  # fmt: skip


async def _aiohttp_org(creds, base, headers, ids, cap, out) -> None:
    import aiohttp

    conn = aiohttp.TCPConnector(limit=cap)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        todo = iter(ids)

        async def worker() -> None:
            for jid in todo:
                url = base + quote(jid, safe="")
                t = time.perf_counter()
                async with session.get(url, headers=headers, allow_redirects=False) as r:
                    body = await r.read()
                reply = _Reply(r.status, url, body, r.headers)
                out.append(_snapshot(creds, jid, reply, time.perf_counter() - t))

        await asyncio.gather(*(worker() for _ in range(cap)))


async def _streams_org(creds, base, headers, ids, cap, out) -> None:
    parts = urlsplit(base)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Host: {parts.netloc}\r\nAccept: */*\r\n\r\n"
    path = base[base.index("/", 8) :]
    todo = iter(ids)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        for jid in todo:
            t = time.perf_counter()
            writer.write(f"GET {path}{quote(jid, safe='')} HTTP/1.1\r\n{head}".encode())
            raw = await reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            hdrs = {}
            for line in lines[1:]:
                if line:
                    k, _, v = line.partition(":")
                    hdrs[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(hdrs.get("content-length", 0)))
            reply = _Reply(status, base + jid, body, _LowerGet(hdrs))
            out.append(_snapshot(creds, jid, reply, time.perf_counter() - t))
        writer.close()

    await asyncio.gather(*(worker() for _ in range(cap)))


async def _stdlib_org(creds, base, headers, ids, cap, out) -> None:
    """As _streams_org, but the answer's head is parsed by the standard library's
    ``http.client.parse_headers`` (what http.client itself uses)."""
    import http.client
    import io

    parts = urlsplit(base)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Host: {parts.netloc}\r\nAccept: */*\r\n\r\n"
    path = base[base.index("/", 8) :]
    todo = iter(ids)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        for jid in todo:
            t = time.perf_counter()
            writer.write(f"GET {path}{quote(jid, safe='')} HTTP/1.1\r\n{head}".encode())
            raw = await reader.readuntil(b"\r\n\r\n")
            line, _, rest = raw.partition(b"\r\n")
            status = int(line.split(b" ", 2)[1])
            msg = http.client.parse_headers(io.BytesIO(rest))
            body = await reader.readexactly(int(msg.get("Content-Length", 0)))
            reply = _Reply(status, base + jid, body, msg)
            out.append(_snapshot(creds, jid, reply, time.perf_counter() - t))
        writer.close()

    await asyncio.gather(*(worker() for _ in range(cap)))


async def _h11_org(creds, base, headers, ids, cap, out) -> None:
    import h11

    parts = urlsplit(base)
    path = base[base.index("/", 8) :]
    hdrs = [("Host", parts.netloc), *headers.items(), ("Accept", "*/*")]
    todo = iter(ids)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        conn = h11.Connection(h11.CLIENT)
        for jid in todo:
            t = time.perf_counter()
            target = path + quote(jid, safe="")
            writer.write(conn.send(h11.Request(method="GET", target=target, headers=hdrs)))
            writer.write(conn.send(h11.EndOfMessage()))
            body, resp = b"", None
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Response):
                    resp = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            conn.start_next_cycle()
            got = _LowerGet((k.decode().lower(), v.decode()) for k, v in resp.headers)
            reply = _Reply(resp.status_code, base + jid, body, got)
            out.append(_snapshot(creds, jid, reply, time.perf_counter() - t))
        writer.close()

    await asyncio.gather(*(worker() for _ in range(cap)))


class _LowerGet(dict):
    def get(self, key, default=None):
        return super().get(key.lower(), default)


def async_round(kind: str, orgs: dict, cap: int = 5) -> list:
    """Poll every job once on one event loop; ``kind``: "aiohttp", "h11", "streams" or
    "streams+stdlib headers"."""
    targets = _targets(orgs)
    out: list = []
    org_fn = {"aiohttp": _aiohttp_org, "streams": _streams_org, "h11": _h11_org,
              "streams+stdlib headers": _stdlib_org}[kind]  # fmt: skip

    async def main() -> None:
        await asyncio.gather(*(org_fn(*t, cap, out) for t in targets))

    asyncio.run(main())
    return out
