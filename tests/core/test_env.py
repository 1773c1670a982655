"""The process environment (core/env.py): what AppAPI exports, defaults for `make run`, secrets kept out of repr."""

from __future__ import annotations

from pathlib import Path

from assistant_stream.core.env import AppEnv


def test_from_environ_reads_appapi_variables() -> None:
    env = AppEnv.from_environ({"APP_ID": "assistant_stream", "APP_SECRET": "s3cr3t-value", "APP_PORT": "24000",
                               "NEXTCLOUD_URL": "https://cloud.example.com/", "APP_PERSISTENT_STORAGE": "/data",
                               "HP_SHARED_KEY": "harp"})
    assert env.app_port == 24000 and env.nextcloud_url == "https://cloud.example.com"
    assert env.persistent_storage == Path("/data") and env.under_harp and not env.local_mode
    assert env.nextcloud_configured
    assert "s3cr3t-value" not in repr(env) and "harp" not in repr(env).replace("harp=True", "")


def test_defaults_without_nextcloud() -> None:
    env = AppEnv.from_environ({})
    assert env.app_host == "127.0.0.1" and env.app_port == 23000 and not env.under_harp
    assert env.nextcloud_configured is False and env.database_url is None and env.local_mode is False


def test_local_mode_only_without_a_nextcloud() -> None:
    """Issue 11 defect 3: `NEXTCLOUD_URL=... make run` kept LOCAL_MODE=1 next to a Nextcloud."""
    alone = AppEnv.from_environ({"LOCAL_MODE": "yes"})
    assert alone.local_mode and not alone.local_mode_refused
    attached = AppEnv.from_environ({"LOCAL_MODE": "1", "NEXTCLOUD_URL": "https://cloud.example.com"})
    assert attached.local_mode is False and attached.local_mode_refused is True
    assert AppEnv.from_environ({"NEXTCLOUD_URL": "https://cloud.example.com"}).local_mode_refused is False
