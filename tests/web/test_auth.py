"""AppAPI authentication on every route, and one user's data invisible to another."""

from __future__ import annotations

import base64
import logging

import pytest
from fastapi.routing import APIRoute

from tests.support.appserver import APP_SECRET, AppFactory, RunningApp, appapi_headers
from tests.support.chat import new_chat, wait_done
from tests.support.scripted_provider import ScriptedProvider, openai_stream


def all_routes(routes: list) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as router objects)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out.extend(all_routes(route.original_router.routes))
    return out


def user_routes(app: RunningApp) -> list[tuple[str, str]]:
    return [(verb, r.path) for r in all_routes(app.app.routes) if r.path != "/heartbeat" for verb in sorted(r.methods)]


DOCUMENTED = ("AUTHORIZATION-APP-API", "EX-APP-ID", "EX-APP-VERSION", "AA-VERSION")


def bad_headers() -> dict[str, dict[str, str]]:
    good = appapi_headers("alice")
    return {
        "none": {},
        "wrong secret": {**good, "AUTHORIZATION-APP-API": base64.b64encode(b"alice:wrong").decode()},
        "wrong app id": {**good, "EX-APP-ID": "other_app"},
        "malformed base64": {**good, "AUTHORIZATION-APP-API": "%%%not-base64%%%"},
        "no colon": {**good, "AUTHORIZATION-APP-API": base64.b64encode(b"alice").decode()},
        "empty secret": {**good, "AUTHORIZATION-APP-API": base64.b64encode(b"alice:").decode()},
        # Every header docs/api.md names, missing in turn and empty in turn (AppAPI and HaRP send all four).
        **{f"no {name}": {k: v for k, v in good.items() if k != name} for name in DOCUMENTED},
        **{f"empty {name}": {**good, name: ""} for name in DOCUMENTED},
    }


async def test_every_route_needs_appapi_auth(app_factory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = await app_factory()
    anon = app.anonymous()
    routes = user_routes(app)
    assert ("PUT", "/chat/new_session") in routes and ("GET", "/admin/status") in routes
    assert ("PUT", "/enabled") in routes and ("GET", "/chat/stream") in routes
    for verb, path in routes:
        for name, headers in bad_headers().items():
            r = await anon.request(verb, path, headers=headers, params={"sessionId": 1, "messageId": 1})
            assert r.status_code == 401, (verb, path, name, r.status_code)
            assert r.json()["code"] == "not_authenticated"
    assert (await anon.get("/heartbeat")).json() == {"status": "ok"}
    # The failure is logged, but never with what was sent or what was expected.
    assert "authentication failed" in caplog.text
    assert APP_SECRET not in caplog.text and "wrong" not in caplog.text


async def test_the_user_half_reaches_the_handler(app_factory) -> None:
    app = await app_factory()
    r = await app.client("bob").put("/chat/new_session", json={"title": "mine"})
    assert r.json()["session"]["user_id"] == "bob"
    assert (await app.client("carol").get("/chat/sessions")).json() == []
    # AppAPI's own calls carry no user: user routes refuse them.
    assert (await app.client("").get("/chat/sessions")).status_code == 401


async def test_user_b_gets_404_for_everything_of_user_a(chat_app: RunningApp,
                                                        scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(["secret ", "answer"]))
    alice, bob = chat_app.client("alice"), chat_app.client("bob")
    sid, mid = await new_chat(alice, "alice's private question")
    task = (await alice.get("/chat/generate", params={"sessionId": sid})).json()["taskId"]
    await wait_done(alice, sid, task)
    s, m = {"sessionId": sid}, {"sessionId": sid, "messageId": mid}
    a = {"sessionId": sid, "messageId": task}
    cases = [
        ("PATCH", "/chat/update_session", {"json": {**s, "title": "x"}}),
        ("DELETE", "/chat/delete_session", {"json": s}),
        ("PUT", "/chat/new_message", {"json": {**s, "role": "human", "content": "x"}}),
        ("DELETE", "/chat/delete_message", {"json": m}),
        ("GET", "/chat/messages", {"params": s}),
        ("GET", "/chat/message", {"params": m}),
        ("GET", "/chat/generate", {"params": s}),
        ("GET", "/chat/regenerate", {"params": a}),
        ("GET", "/chat/check_generation", {"params": {"taskId": task, "sessionId": sid}}),
        ("GET", "/chat/check_session", {"params": s}),
        ("GET", "/chat/generate_title", {"params": s}),
        ("GET", "/chat/check_title_generation", {"params": {"taskId": sid, "sessionId": sid}}),
        ("POST", "/chat/stop", {"json": m}),
        ("GET", "/chat/stream", {"params": m}),
        ("GET", "/chat/poll", {"params": {**m, "timeout": 0}}),
        ("GET", "/chat/poll", {"params": {"sessionId": sid, "taskId": task, "timeout": 0}}),
        ("POST", "/chat/stream_token", {"json": m}),
    ]
    for verb, path, kw in cases:
        r = await bob.request(verb, path, **kw)
        assert r.status_code == 404, (verb, path, r.status_code, r.text)
        assert "alice" not in r.text and "secret" not in r.text
    # Nothing of alice's changed.
    messages = (await alice.get("/chat/messages", params=s)).json()
    assert [x["content"] for x in messages] == ["alice's private question", "secret answer"]
    assert (await bob.get("/chat/sessions")).json() == []


async def test_local_mode_only_without_a_nextcloud(app_factory: AppFactory) -> None:
    """Issue 11 defect 3: LOCAL_MODE next to a NEXTCLOUD_URL (as `NEXTCLOUD_URL=... make run` set it) let any
    process on the host chat as "local" and read /admin/status without authentication."""
    attached = await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="http://127.0.0.1:9")
    assert attached.services.env.local_mode is False and attached.services.env.local_mode_refused is True
    anon = attached.anonymous()
    for verb, path in (("GET", "/admin/status"), ("POST", "/admin/test_connection"), ("GET", "/chat/sessions")):
        assert (await anon.request(verb, path)).status_code == 401, path
    assert (await anon.get("/")).status_code == 401


async def test_local_mode_never_serves_an_admin_route(app_factory: AppFactory) -> None:
    local = await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="")
    assert local.services.env.local_mode is True
    anon = local.anonymous()
    assert (await anon.get("/chat/sessions")).status_code == 200  # the single local user chats
    assert (await anon.get("/chat/config")).json()["isAdmin"] is False
    for verb, path in (("GET", "/admin/status"), ("POST", "/admin/test_connection")):
        assert (await anon.request(verb, path)).status_code == 401, path
