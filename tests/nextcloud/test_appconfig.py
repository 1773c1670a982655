"""The app's config in Nextcloud (nextcloud/appconfig.py): values, missing keys, the sensitive flag."""

from __future__ import annotations

from assistant_stream.core.config_store import ConfigStore
from assistant_stream.core.secrets import Secret
from assistant_stream.nextcloud.server import NextcloudServer
from tests.support.nextcloud_double import NC_API_KEY as API_KEY
from tests.support.nextcloud_double import NextcloudDouble, looks_encrypted

# --- app config ----------------------------------------------------------------------------------


async def test_fetch_returns_values_and_none_for_missing_keys(nextcloud: NextcloudDouble,
                                                              nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_model", "gpt-4o")
    assert await nc.appconfig.fetch(["streaming_model", "streaming_api_url"]) == {
        "streaming_model": "gpt-4o", "streaming_api_url": None}


async def test_store_keeps_the_sensitive_flag(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    await nc.appconfig.store("streaming_model", "llama3", sensitive=False)
    await nc.appconfig.store("streaming_api_key", API_KEY, sensitive=True)

    assert nextcloud.appconfig_sensitive("streaming_api_key") is True
    assert nextcloud.appconfig_sensitive("streaming_model") is False
    # Stored encrypted, read back in clear (as AppAPI does).
    assert looks_encrypted(nextcloud.appconfig_stored("streaming_api_key"))
    assert API_KEY not in nextcloud.appconfig_stored("streaming_api_key")
    assert await nc.appconfig.fetch(["streaming_api_key", "streaming_model"]) == {
        "streaming_api_key": API_KEY, "streaming_model": "llama3"}
    # The wire format is nc_py_api's: configKey/configValue/sensitive on AppAPI's v1 OCS route.
    write = [c for c in nextcloud.calls if c.method == "POST" and c.path.endswith("/api/v1/ex-app/config")][-1]
    assert write.params["sensitive"] is True and write.user == ""


async def test_configstore_set_of_the_key_stays_readable_after_an_update(nextcloud: NextcloudDouble,
                                                                           nc: NextcloudServer) -> None:
    store = ConfigStore(nc.appconfig, ttl=0, environ={})
    await store.set("streaming_api_key", "sk-first")
    await store.set("streaming_api_key", API_KEY)
    # A write without the flag would store clear text under the sensitive flag and read back as "".
    assert (await store.get()).streaming_api_key == Secret(API_KEY)
    assert nextcloud.appconfig_sensitive("streaming_api_key")
