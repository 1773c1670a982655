"""Nextcloud users as the app needs them: is this user an administrator?"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from ..core import errors
from ..core.limits import ADMIN_CACHE_TTL
from .client import NextcloudClient, TtlCache


class Users:
    def __init__(self, client: NextcloudClient, *, cache_ttl: float = ADMIN_CACHE_TTL) -> None:
        self._client = client
        self._admins = TtlCache(cache_ttl)

    async def is_admin(self, user_id: str) -> bool:
        """True when the user is in Nextcloud's "admin" group (asked as that user, cached a minute)."""
        if not user_id:
            return False
        cached = self._admins.get(user_id)
        if cached is not None:
            return cached
        nc = await self._client.as_user(user_id)
        try:
            # The provisioning API shows users their own groups. nc.users.get_user() would not quote the id.
            data = await self._client.call("read user",
                                           nc.ocs("GET", f"/ocs/v1.php/cloud/users/{quote(user_id, safe='')}"))
            groups = data.get("groups") if isinstance(data, Mapping) else None
        except errors.NextcloudError as exc:
            if exc.nc_status != 404:
                raise
            groups = []
        result = isinstance(groups, list) and "admin" in groups
        self._admins.put(user_id, result)
        return result
