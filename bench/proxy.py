"""Buffering proxy double: behaves like Nextcloud's stock AppAPI proxy for timing purposes.

Like ``/index.php/apps/app_api/proxy/<appid>/<path>`` (see shared notes, nextcloud.md) it reads the
ExApp's *whole* response before sending anything back, so a stream arrives in one piece at its end,
and it adds the AppAPI headers for the user (here named by an ``x-bench-user`` header, standing in
for the browser's Nextcloud session). It also waits ``--cost`` seconds per request (default 0.095 s,
the median cost of one request through the real proxy measured on a 2-core machine) to model the
PHP work that the double does not do. Not a faithful AppAPI: only what the timing needs.

Run: ``python bench/proxy.py --port 18003 --upstream http://127.0.0.1:18002 --secret ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import httpx
from client import appapi_headers, raise_nofile

_DROP = {"host", "content-length", "connection", "x-bench-user", "transfer-encoding"}


class BufferingProxy:
    def __init__(self, upstream: str, secret: str, cost: float) -> None:
        self.client = httpx.AsyncClient(base_url=upstream, timeout=120, trust_env=False,
                                        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100))
        self.secret = secret
        self.cost = cost

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                user = headers.get("x-bench-user", "")
                fwd = {k: v for k, v in headers.items() if k not in _DROP}
                if user:
                    fwd.update(appapi_headers(user, self.secret))
                # The whole upstream body is read before anything is returned: that is the point.
                r = await self.client.request(method, target, headers=fwd, content=body or None)
                payload = r.content
                await asyncio.sleep(self.cost)
                out = [f"HTTP/1.1 {r.status_code} {r.reason_phrase}",
                       f"content-type: {r.headers.get('content-type', 'application/octet-stream')}",
                       f"content-length: {len(payload)}"]
                if "cache-control" in r.headers:
                    out.append(f"cache-control: {r.headers['cache-control']}")
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
        except (ConnectionError, httpx.HTTPError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def serve(port: int, upstream: str, secret: str, cost: float) -> None:
    proxy = BufferingProxy(upstream, secret, cost)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", port, backlog=1024)
    print(f"buffering proxy on http://127.0.0.1:{port} -> {upstream} (+{cost * 1000:.0f} ms per request)", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--cost", type=float, default=0.095)
    args = parser.parse_args()
    raise_nofile()
    asyncio.run(serve(args.port, args.upstream, args.secret, args.cost))


if __name__ == "__main__":
    main()
