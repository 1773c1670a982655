"""The process environment the ExApp runs in (what AppAPI's deploy daemon or `make run` exports)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import APP_ID, __version__


@dataclass(frozen=True, slots=True)
class AppEnv:
    app_id: str
    app_secret: str
    app_version: str
    app_host: str
    app_port: int
    nextcloud_url: str
    persistent_storage: Path
    database_url: str | None
    harp_shared_key: str | None
    local_mode: bool
    # False when no NEXTCLOUD_URL was given (local mode without a Nextcloud to talk to).
    nextcloud_configured: bool = True
    # Shared state for several processes (docs/deployment.md); None: one process, state in memory.
    redis_url: str | None = None
    redis_prefix: str = "assistant_stream:"
    workers: int | None = None  # WORKERS; None: the default (the CPU count with Redis, else 1)
    # LOCAL_MODE was asked for but NEXTCLOUD_URL is set: refused (a Nextcloud's app never has a local user).
    local_mode_refused: bool = False

    @property
    def under_harp(self) -> bool:
        return bool(self.harp_shared_key)

    def __repr__(self) -> str:
        # Never let the secrets reach a log line through a repr.
        return (f"AppEnv(app_id={self.app_id!r}, app_version={self.app_version!r}, "
                f"app_host={self.app_host!r}, app_port={self.app_port}, nextcloud_url={self.nextcloud_url!r}, "
                f"persistent_storage={str(self.persistent_storage)!r}, harp={self.under_harp}, "
                f"local_mode={self.local_mode}, redis={self.redis_url is not None})")

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> AppEnv:
        e = os.environ if environ is None else environ
        storage = e.get("APP_PERSISTENT_STORAGE") or "./data"
        nextcloud_configured = bool(e.get("NEXTCLOUD_URL"))
        local_requested = e.get("LOCAL_MODE", "0").lower() in ("1", "true", "yes")
        return cls(
            app_id=e.get("APP_ID", APP_ID),
            app_secret=e.get("APP_SECRET", ""),
            app_version=e.get("APP_VERSION", __version__),
            app_host=e.get("APP_HOST", "127.0.0.1"),
            app_port=int(e.get("APP_PORT", "23000")),
            nextcloud_url=e.get("NEXTCLOUD_URL", "http://localhost").rstrip("/"),
            persistent_storage=Path(storage),
            database_url=e.get("DATABASE_URL") or None,
            harp_shared_key=e.get("HP_SHARED_KEY") or None,
            # Local mode only without a Nextcloud: attached to one, the users and the admin are Nextcloud's, and a
            # loopback shortcut would let any process on the host chat with the admin's provider key (issue 11).
            local_mode=local_requested and not nextcloud_configured,
            nextcloud_configured=nextcloud_configured,
            local_mode_refused=local_requested and nextcloud_configured,
            redis_url=e.get("REDIS_URL") or None,
            redis_prefix=e.get("REDIS_PREFIX") or "assistant_stream:",
            workers=int(e["WORKERS"]) if (e.get("WORKERS") or "").strip().isdigit() else None,
        )
