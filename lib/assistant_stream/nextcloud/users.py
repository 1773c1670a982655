"""Nextcloud users as the app needs them: their groups (for token budgets), and whether they are administrators."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from ..core import errors
from ..core.limits import ADMIN_CACHE_TTL
from .client import NextcloudClient, TtlCache


class Users:
    def __init__(self, client: NextcloudClient, *, cache_ttl: float = ADMIN_CACHE_TTL) -> None:
        self._client = client
        self._groups: TtlCache[tuple[str, ...]] = TtlCache(cache_ttl)

    async def groups(self, user_id: str) -> tuple[str, ...]:
        """The ids of the user's groups (asked as that user through nc_py_api, cached a minute)."""
        if not user_id:
            return ()
        cached = self._groups.get(user_id)
        if cached is not None:
            return cached
        nc = await self._client.as_user(user_id)
        try:
            # The provisioning API shows users their own groups. nc.users.get_user() would not quote the id.
            data = await self._client.call("read user",
                                           nc.ocs("GET", f"/ocs/v1.php/cloud/users/{quote(user_id, safe='')}"))
            found = data.get("groups") if isinstance(data, Mapping) else None
        except errors.NextcloudError as exc:
            if exc.nc_status != 404:
                raise
            found = []
        result = tuple(g for g in found if isinstance(g, str)) if isinstance(found, list) else ()
        self._groups.put(user_id, result)
        return result

    async def is_admin(self, user_id: str) -> bool:
        """True when the user is in Nextcloud's "admin" group."""
        return "admin" in await self.groups(user_id)
