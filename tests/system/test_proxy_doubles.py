"""Issue #6 with real servers: the stock AppAPI proxy buffers, HaRP and an admin-exposed URL stream, long-poll works.

Every test runs the real app behind the proxy doubles of tests/proxy_doubles.py, streaming from the scripted provider.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.appserver import API_KEY
from tests.support.chat import new_chat, text_of
from tests.support.nextcloud_double import NextcloudDouble
from tests.support.ports import free_port
from tests.support.proxy_doubles import ProxiedAppFactory, ProxyDoubles, find_route, php_preg_match
from tests.support.scripted_provider import ScriptedProvider, openai_stream
from tests.support.sse import sse_events

SPACING = 0.12  # seconds between two provider chunks
WORDS = [f"w{i} " for i in range(6)]
ROOT = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://cloud.example.com/assistant-stream"


def provider_env(provider: ScriptedProvider) -> dict[str, str]:
    return {"STREAMING_API_URL": provider.chat_url, "STREAMING_API_KEY": API_KEY, "STREAMING_MODEL": "test-model"}


def browser(proxies: ProxyDoubles, user: str | None = "alice") -> httpx.AsyncClient:
    """A browser on the Nextcloud origin, logged in as ``user`` (None: no session cookie)."""
    cookies = proxies.login(user) if user else None
    return httpx.AsyncClient(base_url=proxies.base_url, cookies=cookies, timeout=30, trust_env=False)


async def timed_events(client: httpx.AsyncClient, url: str, params: dict[str, Any] | None = None,
                       headers: dict[str, str] | None = None
                       ) -> tuple[httpx.Response, list[tuple[float, dict[str, Any]]]]:
    """Read an SSE response: (response, [(arrival time, payload)])."""
    out: list[tuple[float, dict[str, Any]]] = []
    async with client.stream("GET", url, params=params, headers=headers) as r:
        assert r.status_code == 200, (await r.aread())
        async for _id, payload in sse_events(r):
            out.append((time.monotonic(), payload))
    return r, out


def chunk_times(events: list[tuple[float, dict[str, Any]]]) -> list[float]:
    return [t for t, p in events if "chunk" in p]


# --- AppAPI's route semantics ----------------------------------------------------------------------


def test_route_check_follows_appapi() -> None:
    assert php_preg_match(r"^chat\/.*", "CHAT/sessions")  # /i
    assert not php_preg_match(r"^chat/.*", "chat/sessions")  # a bare "/" ends the PHP pattern
    assert find_route("chat/stream", "GET") is not None
    assert find_route("chat/stream", "PATCH") is not None
    assert find_route("js/assistant_stream-main.js", "POST") is None  # verb not listed
    assert find_route("heartbeat", "GET") is None
    assert find_route("admin/status", "GET").access == 2  # type: ignore[union-attr]


# --- the stock proxy buffers ---------------------------------------------------------------------


async def test_stock_proxy_delivers_sse_in_one_piece_at_the_end(
        proxied_app: ProxiedAppFactory, proxies: ProxyDoubles, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=SPACING))
    await proxied_app(**provider_env(scripted_provider))
    base = proxies.proxy_path
    async with browser(proxies) as b:
        sid, mid = await new_chat(b, "Hi", base=base)
        start = time.monotonic()
        r, events = await timed_events(b, f"{base}/chat/stream", {"sessionId": sid, "messageId": mid})
    assert text_of(events) == "".join(WORDS) and events[-1][1]["done"] is True
    times = chunk_times(events)
    # The provider took > 0.5 s, yet every event arrived at the same moment, at the end.
    assert times[0] - start >= SPACING * (len(WORDS) - 1)
    assert events[-1][0] - events[0][0] < 0.02
    assert "transfer-encoding" not in r.headers and r.headers["content-length"].isdigit()
    assert r.headers["cache-control"] == "no-cache"  # the app's own header, left alone
    forwarded = proxies.forwarded_to("/chat/stream", "appapi")[0]
    assert forwarded.user == "alice" and forwarded.headers["ex-app-id"] == "assistant_stream"
    assert base64.b64decode(forwarded.headers["authorization-app-api"]).decode().startswith("alice:")


async def test_stock_proxy_cache_header_rule(proxies: ProxyDoubles, nextcloud: NextcloudDouble) -> None:
    """Cache-Control is added to a response without one unless it is exactly application/json."""

    async def sse(_request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"data: {\"chunk\": \"a\"}\n\n"
            yield b"data: {\"done\": true}\n\n"
        return StreamingResponse(body(), media_type="text/event-stream")  # chunked, no Cache-Control

    async def plain_json(_request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def json_charset(_request: Request) -> Response:
        return Response(b"{}", headers={"Content-Type": "application/json; charset=utf-8"})

    stub = Starlette(routes=[Route("/chat/sse", sse), Route("/chat/json", plain_json),
                             Route("/chat/json_charset", json_charset)])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(stub, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        proxies.upstream = f"http://127.0.0.1:{port}"
        async with browser(proxies) as b:
            r = await b.get(f"{proxies.proxy_path}/chat/sse")
            assert r.status_code == 200 and r.headers["cache-control"] == "private, max-age=3600, must-revalidate"
            assert "transfer-encoding" not in r.headers and r.text.endswith('{"done": true}\n\n')
            r = await b.get(f"{proxies.proxy_path}/chat/json")
            assert r.status_code == 200 and "cache-control" not in r.headers
            # AppAPI compares the Content-Type string exactly: a charset makes it cacheable.
            r = await b.get(f"{proxies.proxy_path}/chat/json_charset")
            assert r.headers["cache-control"] == "private, max-age=3600, must-revalidate"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_stock_proxy_access_rules(proxied_app: ProxiedAppFactory, proxies: ProxyDoubles) -> None:
    await proxied_app()
    base = proxies.proxy_path
    async with browser(proxies, "alice") as alice, browser(proxies, "admin") as admin, \
            browser(proxies, None) as anonymous:
        assert (await alice.get(f"{base}/admin/status")).status_code == 404  # not 403
        assert (await admin.get(f"{base}/admin/status")).status_code == 200
        assert (await alice.get(f"{base}/nope")).status_code == 404
        assert (await alice.get(f"{base}/heartbeat")).status_code == 404  # not a user route
        assert (await alice.post(f"{base}/js/assistant_stream-main.js")).status_code == 404  # verb
        # The proxy routes are #[PublicPage]: no session means no user, which fails the USER check.
        assert (await anonymous.get(f"{base}/chat/sessions")).status_code == 404
        assert (await alice.get(f"{base}/chat/sessions")).status_code == 200
        assert (await alice.get(f"{base}/Chat/sessions")).status_code == 404  # matched /i, the app is exact
        # Only GET, POST, PUT and DELETE are routed: Nextcloud answers PATCH itself (issue 11, defect 1).
        r = await alice.patch(f"{base}/chat/update_session", json={"sessionId": 1, "title": "x"})
        assert r.status_code == 405 and r.headers["content-type"].startswith("text/html") and r.content == b""
    assert [f.path for f in proxies.forwarded_to("/admin/")] == ["/admin/status"]  # only the admin's
    assert proxies.forwarded_to("/nope") == []
    assert proxies.forwarded_to("/update_session") == []


async def test_stock_proxy_without_a_session(proxied_app: ProxiedAppFactory, proxies: ProxyDoubles) -> None:
    await proxied_app()
    async with browser(proxies, None) as anonymous:
        assert (await anonymous.get(f"{proxies.proxy_path}/chat/config")).status_code == 404
        page = await anonymous.get(proxies.embedded_path())
        assert page.status_code == 303 and page.headers["location"].startswith("/index.php/login?")
    assert proxies.forwarded == []


async def test_long_poll_through_the_stock_proxy_is_progressive(
        proxied_app: ProxiedAppFactory, proxies: ProxyDoubles, scripted_provider: ScriptedProvider) -> None:
    words = [f"p{i} " for i in range(10)]
    scripted_provider.always(openai_stream(words, delay=0.15))
    await proxied_app(**provider_env(scripted_provider))
    proxies.delay = 0.095  # the measured cost of one request through the stock proxy
    base = proxies.proxy_path
    async with browser(proxies) as b:
        sid, mid = await new_chat(b, "Hi", base=base)
        cursor, text, with_text, done = 0, "", 0, False
        for _ in range(100):
            r = await b.get(f"{base}/chat/poll", params={"sessionId": sid, "messageId": mid, "cursor": cursor,
                                                         "timeout": 10})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["cursor"] >= cursor
            if body["text"]:
                with_text += 1
                text += body["text"]
            cursor, done = body["cursor"], body["done"]
            if done:
                break
    assert done and body["status"] == "done" and text == "".join(words)
    assert with_text >= 5


# --- HaRP streams ----------------------------------------------------------------------------------


async def test_harp_streams_events_as_they_come(
        proxied_app: ProxiedAppFactory, proxies: ProxyDoubles, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=SPACING))
    await proxied_app(HP_SHARED_KEY="x", **provider_env(scripted_provider))
    async with browser(proxies) as b:
        sid, mid = await new_chat(b, "Hi", base=proxies.harp_path)
        r, events = await timed_events(b, f"{proxies.harp_path}/chat/stream", {"sessionId": sid, "messageId": mid})
    assert text_of(events) == "".join(WORDS) and events[-1][1]["done"] is True
    times = chunk_times(events)
    assert times[-1] - times[0] >= SPACING * (len(WORDS) - 1) * 0.7
    assert all(b - a >= SPACING * 0.4 for a, b in itertools.pairwise(times))
    assert r.headers["cache-control"] == "no-cache"
    assert proxies.forwarded_to("/chat/stream", "harp")[0].user == "alice"


async def test_harp_access_rules(proxied_app: ProxiedAppFactory, proxies: ProxyDoubles) -> None:
    await proxied_app(HP_SHARED_KEY="x")
    harp = proxies.harp_path
    async with browser(proxies, "alice") as alice, browser(proxies, None) as anonymous:
        assert (await alice.get(f"{harp}/nope")).status_code == 404
        assert (await alice.get(f"{harp}/admin/status")).status_code == 401
        assert (await anonymous.get(f"{harp}/chat/sessions")).status_code == 401
        assert (await alice.get(f"{harp}/chat/sessions")).status_code == 200


async def test_app_under_harp_tells_the_browser_to_stream_from_exapps(
        proxied_app: ProxiedAppFactory, proxies: ProxyDoubles) -> None:
    await proxied_app(HP_SHARED_KEY="x")
    async with browser(proxies) as b:
        for base in (proxies.proxy_path, proxies.harp_path):
            config = (await b.get(f"{base}/chat/config")).json()
            assert config["delivery"]["mode"] == "harp"
            assert config["delivery"]["streamBase"] == "/exapps/assistant_stream"


# --- an admin-exposed stream URL ------------------------------------------------------------------


async def test_public_url_token_through_the_proxy_stream_direct(
        proxied_app: ProxiedAppFactory, proxies: ProxyDoubles, nextcloud: NextcloudDouble,
        scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(WORDS, delay=SPACING))
    app = await proxied_app(STREAMING_PUBLIC_URL=PUBLIC_URL + "/", **provider_env(scripted_provider))
    base = proxies.proxy_path
    async with browser(proxies) as b, httpx.AsyncClient(timeout=30, trust_env=False) as outside:
        config = (await b.get(f"{base}/chat/config")).json()
        assert config["delivery"]["mode"] == "public" and config["delivery"]["streamBase"] == PUBLIC_URL
        sid, mid = await new_chat(b, "Hi", base=base)
        r = await b.post(f"{base}/chat/stream_token", json={"sessionId": sid, "messageId": mid})
        assert r.status_code == 200, r.text
        grant = r.json()
        assert grant["url"].startswith(f"{PUBLIC_URL}/chat/stream?") and r.headers["cache-control"] == "no-store"
        # The admin's location maps PUBLIC_URL/ to the app: read the same path and query from the app directly,
        # with nothing but the token (no cookie, no AppAPI headers), from a page on the Nextcloud origin.
        direct = app.url + grant["url"][len(PUBLIC_URL):]
        r, events = await timed_events(outside, direct, headers={"Origin": nextcloud.url})
        assert r.headers["access-control-allow-origin"] == nextcloud.url
        # The token is bound to its message.
        other = await outside.get(re.sub(r"messageId=\d+", f"messageId={mid + 1}", direct))
        assert other.status_code == 401
    assert text_of(events) == "".join(WORDS) and events[-1][1]["done"] is True
    times = chunk_times(events)
    assert times[-1] - times[0] >= SPACING * (len(WORDS) - 1) * 0.7


# --- the embedded page ----------------------------------------------------------------------------


async def test_embedded_page_as_nextcloud_renders_it(proxied_app: ProxiedAppFactory, proxies: ProxyDoubles,
                                                     nextcloud: NextcloudDouble) -> None:
    app = await proxied_app()
    async with httpx.AsyncClient(base_url=app.url, headers=nextcloud.auth_headers(""), timeout=15,
                                 trust_env=False) as appapi:
        enabled = await appapi.put("/enabled", params={"enabled": 1})
        assert enabled.json() == {"error": ""}
    async with browser(proxies) as b:
        page = await b.get(proxies.embedded_path("chat"))
        assert page.status_code == 200, page.text
        html = page.text
        assert re.search(r'<head [^>]*data-requesttoken="[^"]+"', html)
        assert '<div id="content"' in html and 'window._oc_webroot = ""' in html
        state = re.search(r'<input type="hidden" id="initial-state-app_api-config" value="([^"]+)">', html)
        assert state and json.loads(json.loads(base64.b64decode(state.group(1))))["appId"] == "assistant_stream"
        script = re.search(r'<script nonce="[^"]+" defer src="([^"]+)"></script>', html)
        assert script and script.group(1).startswith(
            "/index.php/apps/app_api/proxy/assistant_stream/js/assistant_stream-main.js?v=")
        style = re.search(r'<link rel="stylesheet" href="([^"]+)">', html)
        assert style and style.group(1).startswith(
            "/index.php/apps/app_api/proxy/assistant_stream/js/assistant_stream-main.css?v=")
        assert (await b.get(proxies.embedded_path("other"))).status_code == 404
        # `make test` builds the frontend first; a missing bundle is a failure, not a reason to skip.
        assert (ROOT / "js" / "assistant_stream-main.js").is_file(), "frontend not built: run `make frontend`"
        js = await b.get(script.group(1))
        assert js.status_code == 200 and js.headers["cache-control"] == "private, max-age=3600, must-revalidate"
        css = await b.get(style.group(1))
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_bundle_is_a_classic_script() -> None:
    """Nextcloud loads the registered script with <script defer> (type=module only for .mjs): no ES module syntax."""
    bundle = ROOT / "js" / "assistant_stream-main.js"
    assert bundle.is_file(), "frontend not built: run `make frontend`"
    code = bundle.read_text(encoding="utf-8", errors="replace")
    assert not re.search(r"(^|[;}\n])\s*(import\s*[\w{*\"']|export\s*[\w{*])", code[:2000] + code[-2000:])
    assert "import.meta" not in code
