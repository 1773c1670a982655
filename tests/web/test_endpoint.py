"""The one route style (web/endpoint.py): who may call which route, checked before or after the parameters."""

from __future__ import annotations

import asyncio
import time

import pytest

from assistant_stream.core.caller import Caller, CallerKind
from assistant_stream.web import endpoint
from assistant_stream.web.endpoint import viewer_is_admin
from tests.support.appserver import AppFactory
from tests.support.chat import new_chat
from tests.support.nextcloud_double import NextcloudDouble


async def test_a_stranger_learns_nothing_from_a_parameter_error(app_factory: AppFactory) -> None:
    app = await app_factory()
    r = await app.anonymous().get("/chat/messages", params={"sessionId": "abc"})
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    # A token route reads its parameters first (the token is checked against them): a bad one is a 400.
    r = await app.anonymous().get("/chat/stream", params={"sessionId": "abc", "token": "t"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_parameter"
    r = await app.anonymous().get("/chat/stream", params={"sessionId": 1, "messageId": 2, "token": "forged.token"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


async def test_the_local_page_is_only_for_the_local_user(app_factory: AppFactory) -> None:
    app = await app_factory()
    assert (await app.client("alice").get("/")).status_code == 404  # a Nextcloud user: no such page
    local = await app_factory(LOCAL_MODE="1", NEXTCLOUD_URL="")
    assert (await local.anonymous().get("/")).status_code == 200


async def test_a_users_route_needs_a_user(app_factory: AppFactory) -> None:
    app = await app_factory()
    appapi_itself = app.client("")  # AppAPI's own calls carry no user
    r = await appapi_itself.get("/chat/sessions")
    assert r.status_code == 401 and r.json()["error"] == "This route needs a Nextcloud user"
    assert (await appapi_itself.post("/init")).status_code == 200  # a lifecycle route: AppAPI itself
    sid, _mid = await new_chat(app.client("alice"))
    assert (await app.client("alice").get("/chat/check_session", params={"sessionId": sid})).status_code == 200


async def test_who_is_told_an_errors_detail(app_factory: AppFactory, nextcloud: NextcloudDouble,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A Nextcloud admin, and the local user (who runs the app); a Nextcloud that does not answer in time means no."""
    nextcloud.add_user("root", ["admin"])
    app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret)
    services = app.services
    assert await viewer_is_admin(Caller(CallerKind.APPAPI, "root"), "root", services) is True
    assert await viewer_is_admin(Caller(CallerKind.TOKEN, None), "root", services) is True  # the token's user
    assert await viewer_is_admin(Caller(CallerKind.APPAPI, "alice"), "alice", services) is False
    assert await viewer_is_admin(Caller(CallerKind.LOCAL, "me"), "me", services) is True
    assert await viewer_is_admin(Caller(CallerKind.APPAPI, ""), "", services) is False

    async def hangs(self: object, user: str) -> bool:
        await asyncio.sleep(30)
        return True

    monkeypatch.setattr(type(services.chat), "is_admin", hangs)
    monkeypatch.setattr(endpoint, "ADMIN_CHECK_TIMEOUT", 0.2)
    began = time.monotonic()
    assert await viewer_is_admin(Caller(CallerKind.APPAPI, "root"), "root", services) is False
    assert time.monotonic() - began < 5
