"""Users (nextcloud/users.py): is this user an administrator, asked as the user and cached."""

from __future__ import annotations

import pytest

from assistant_stream.core import errors
from assistant_stream.nextcloud.server import NextcloudServer
from tests.support.nextcloud_double import NextcloudDouble

# --- users ---------------------------------------------------------------------------------------


async def test_is_admin_asks_as_the_user_and_caches(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    assert await nc.users.is_admin("admin") is True
    assert await nc.users.is_admin("alice") is False
    nextcloud.set_admin("alice")
    assert await nc.users.is_admin("alice") is False  # cached for a minute
    lookups = nextcloud.calls_to("/cloud/users/alice")
    assert len(lookups) == 1 and lookups[0].user == "alice"
    assert await nc.users.is_admin("") is False


async def test_is_admin_sees_changes_after_the_ttl(nextcloud: NextcloudDouble) -> None:
    nc = NextcloudServer(nextcloud.env(), timeout=3, admin_cache_ttl=0.0)
    try:
        assert await nc.users.is_admin("bob") is False
        nextcloud.set_admin("bob")
        assert await nc.users.is_admin("bob") is True
    finally:
        await nc.aclose()


async def test_is_admin_quotes_unusual_user_ids(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    nextcloud.add_user("o'brien doe@example.com", ["admin"])
    assert await nc.users.is_admin("o'brien doe@example.com") is True


async def test_is_admin_raises_when_nextcloud_is_unreachable(nextcloud: NextcloudDouble,
                                                             nc: NextcloudServer) -> None:
    nextcloud.down()
    with pytest.raises(errors.NextcloudError):
        await nc.users.is_admin("admin")
