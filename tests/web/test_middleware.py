"""Cache-Control (web/middleware.py): every answer of every route says no-cache, errors included, unless the
route says no-store; the static files are left to the proxy's caching."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from assistant_stream.web import api_admin, api_chat, api_stream, lifecycle, local
from tests.support.appserver import AppFactory, RunningApp

VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def routes() -> list[tuple[str, str]]:
    out = []
    for module in (api_chat, api_stream, api_admin, local, lifecycle):
        for route in module.router.routes:
            assert isinstance(route, Route)
            out += [(verb, route.path) for verb in sorted(route.methods or ()) if verb != "HEAD"]
    return out


ROUTES = routes()


@pytest.fixture
async def app(app_factory: AppFactory) -> RunningApp:
    return await app_factory(STREAMING_PUBLIC_URL="https://cloud.example.com/stream")


def assert_no_cache(r: object, what: object) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    assert headers.get("cache-control") == "no-cache", (what, r.status_code, dict(headers))  # type: ignore[attr-defined]


def test_every_route_module_is_covered() -> None:
    assert len(ROUTES) >= 25 and ("GET", "/heartbeat") in ROUTES and ("GET", "/") in ROUTES


@pytest.mark.parametrize(("verb", "path"), ROUTES, ids=[f"{v} {p}" for v, p in ROUTES])
async def test_every_route_and_error_status_says_no_cache(app: RunningApp, verb: str, path: str) -> None:
    anonymous, alice = app.anonymous(), app.client("alice")
    # 401: no AppAPI headers (the heartbeat is public and answers 200).
    r = await anonymous.request(verb, path)
    assert r.status_code == (200 if path == "/heartbeat" else 401), r.text
    assert_no_cache(r, "anonymous")
    # 400 (a parameter missing), 404 (not allowed to know) or 200: whatever the route answers a user.
    r = await alice.request(verb, path, params={"sessionId": "not-a-number"})
    assert r.status_code in (200, 400, 401, 404), (r.status_code, r.text)
    assert_no_cache(r, "user")
    if r.status_code != 200:
        assert set(r.json()) >= {"error", "code"}
    # 405: a verb the path does not take.
    taken = {v for v, p in ROUTES if p == path}
    other = next(v for v in VERBS if v not in taken)
    r = await alice.request(other, path)
    assert r.status_code == 405 and r.json() == {"error": "Method not allowed", "code": "http_405"}, r.text
    assert_no_cache(r, "wrong verb")


async def test_unknown_routes_and_missing_files_say_no_cache(app: RunningApp) -> None:
    alice = app.client("alice")
    for path in ("/chat/no_such_route", "/nothing/here", "/js/no-such-file.js"):
        r = await alice.get(path)
        assert r.status_code == 404 and r.json() == {"error": "Not found", "code": "http_404"}, (path, r.text)
        assert_no_cache(r, path)


async def test_a_route_that_says_no_store_keeps_it(app: RunningApp) -> None:
    alice = app.client("alice")
    sid = (await alice.put("/chat/new_session", json={})).json()["session"]["id"]
    mid = (await alice.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "q"})).json()["id"]
    r = await alice.post("/chat/stream_token", json={"sessionId": sid, "messageId": mid})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


async def test_static_files_are_left_to_the_proxy(app: RunningApp) -> None:
    r = await app.client("alice").get("/js/assistant_stream-main.js")
    assert r.status_code == 200 and "cache-control" not in r.headers  # AppAPI's proxy caches it for an hour
