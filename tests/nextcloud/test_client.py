"""The transport to Nextcloud (nextcloud/client.py): authentication, per-user clients, outages; and the double's
own checks, so the tests against it mean something."""

from __future__ import annotations

import time

import httpx
import pytest

from assistant_stream.core import errors
from assistant_stream.nextcloud.server import NextcloudServer
from tests.support.nextcloud_double import NextcloudDouble


async def test_wrong_secret_is_refused_and_never_echoed(nextcloud: NextcloudDouble) -> None:
    wrong = "wrong-secret-0d3f9a"
    client = NextcloudServer(nextcloud.env(app_secret=wrong), timeout=3)
    try:
        with pytest.raises(errors.NextcloudError) as info:
            await client.appconfig.fetch(["streaming_model"])
    finally:
        await client.aclose()
    assert "authentication" in info.value.message
    assert wrong not in info.value.message and nextcloud.app_secret not in info.value.message
    assert nextcloud.calls[-1].status == 401 and nextcloud.calls[-1].user is None


# --- the double's own checks (so the tests above mean something) --------------------------------


@pytest.mark.parametrize("drop", ["EX-APP-VERSION", "AA-VERSION", "EX-APP-ID", "AUTHORIZATION-APP-API"])
async def test_double_refuses_requests_missing_an_appapi_header(nextcloud: NextcloudDouble, drop: str) -> None:
    headers = nextcloud.auth_headers("")
    del headers[drop]
    async with httpx.AsyncClient(base_url=nextcloud.url, trust_env=False) as client:
        ok = await client.post("/ocs/v1.php/apps/app_api/api/v1/ex-app/config/get-values?format=json",
                               json={"configKeys": ["x"]}, headers=nextcloud.auth_headers(""))
        bad = await client.post("/ocs/v1.php/apps/app_api/api/v1/ex-app/config/get-values?format=json",
                                json={"configKeys": ["x"]}, headers=headers)
    assert ok.status_code == 200 and ok.json()["ocs"]["meta"]["statuscode"] == 100
    assert bad.status_code == 401 and bad.json() == {"message": "AppAPI authentication failed"}


async def test_double_refuses_unknown_users_and_a_disabled_app(nextcloud: NextcloudDouble) -> None:
    async with httpx.AsyncClient(base_url=nextcloud.url, trust_env=False) as client:
        unknown = await client.get("/ocs/v2.php/taskprocessing/tasktypes",
                                   headers=nextcloud.auth_headers("mallory"))
        nextcloud.enabled = False
        disabled = await client.get("/ocs/v2.php/taskprocessing/tasktypes", headers=nextcloud.auth_headers("alice"))
        state = await client.get("/ocs/v1.php/apps/app_api/ex-app/state", headers=nextcloud.auth_headers(""))
    assert unknown.status_code == 401 and unknown.json()["ocs"]["meta"]["statuscode"] == 401
    assert disabled.status_code == 401
    assert state.status_code == 200 and state.json()["ocs"]["data"] == 0


async def test_user_clients_are_bounded_and_evicted_ones_stay_usable(
        nextcloud: NextcloudDouble) -> None:
    nc = NextcloudServer(nextcloud.env(), timeout=3, max_user_clients=1)
    try:
        alice = await nc.client.as_user("alice")
        await nc.client.as_user("bob")
        assert nc.client.user_clients == ["bob"]
        # A request of alice's that was still running on the evicted client must not break.
        assert (await alice.ocs("GET", "/ocs/v1.php/cloud/users/alice"))["id"] == "alice"
    finally:
        await nc.aclose()


# --- unreachable: refused and hanging --------------------------------------------------------------


async def test_hanging_nextcloud_times_out(nextcloud: NextcloudDouble) -> None:
    client = NextcloudServer(nextcloud.env(), timeout=0.5)
    try:
        nextcloud.down("hang")
        started = time.monotonic()
        with pytest.raises(errors.NextcloudError) as info:
            await client.appconfig.fetch(["streaming_model"])
        assert time.monotonic() - started < 3 and "in time" in info.value.message
        nextcloud.up()
        assert await client.appconfig.fetch(["streaming_model"]) == {"streaming_model": None}
    finally:
        await client.aclose()


async def test_client_recovers_after_a_restart(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_model", "m1")
    assert (await nc.appconfig.fetch(["streaming_model"]))["streaming_model"] == "m1"
    nextcloud.down()
    with pytest.raises(errors.NextcloudError):
        await nc.appconfig.fetch(["streaming_model"])
    nextcloud.up()
    assert (await nc.appconfig.fetch(["streaming_model"]))["streaming_model"] == "m1"
