"""`python -m assistant_stream.check [--test]`: print the effective settings (the key only as set/unset)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from .chat.engines import engine_name
from .core.config_store import ConfigStore
from .core.env import AppEnv
from .providers.diagnostics import diagnose_settings
from .providers.transport import ProviderClient
from .web.client_config import delivery


async def run(test: bool) -> int:
    env = AppEnv.from_environ()
    nextcloud = None
    if env.nextcloud_configured:
        from .nextcloud.server import NextcloudServer

        nextcloud = NextcloudServer(env)
    try:
        settings = await ConfigStore(nextcloud.appconfig if nextcloud else None).get()
    finally:
        if nextcloud is not None:
            await nextcloud.aclose()
    width = max(len(k) for k in settings.public())
    for key, item in settings.public().items():
        print(f"{key:<{width}}  {item['value']!s:<40.40}  ({item['source']})")
    if settings.stale:
        print("! Nextcloud could not be reached: app config values are missing above")
    print(f"\nengine:   {engine_name(settings, env) or 'none (set streaming_api_url)'}")
    path = delivery(env, settings)
    print(f"delivery: {path['mode']} - {path['reason']}")
    if not test:
        return 0
    client = ProviderClient()
    try:
        report = await diagnose_settings(client, settings)
    finally:
        await client.aclose()
    print(f"test:     {report.summary}")
    return 0 if report.ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--test", action="store_true", help="also test the provider connection")
    sys.exit(asyncio.run(run(parser.parse_args().test)))


if __name__ == "__main__":
    main()
