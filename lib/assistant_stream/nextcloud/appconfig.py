"""The app's config in Nextcloud (AppAPI's appconfig_ex): where the admin's settings live."""

from __future__ import annotations

from collections.abc import Sequence

from .client import NextcloudClient


class AppConfig:
    """Implements core.config_store.AppConfigSource on the ExApp's own client."""

    def __init__(self, client: NextcloudClient) -> None:
        self._client = client

    async def fetch(self, keys: Sequence[str]) -> dict[str, str | None]:
        records = await self._client.call("read app config", self._client.app().appconfig_ex.get_values(list(keys)))
        found = {r.key: r.value for r in records}
        return {key: found.get(key) for key in keys}

    async def store(self, key: str, value: str, *, sensitive: bool) -> None:
        # Always pass the flag: AppAPI stores an unflagged write to a sensitive key in clear text and then
        # fails to decrypt it, so the value would read back as "".
        await self._client.call("write app config",
                                self._client.app().appconfig_ex.set_value(key, value, sensitive=sensitive))
