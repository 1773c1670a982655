"""NextcloudServer: everything the app may ask of its Nextcloud, over one transport."""

from __future__ import annotations

from ..core.env import AppEnv
from ..core.limits import ADMIN_CACHE_TTL, MAX_USER_CLIENTS, TASKTYPES_CACHE_TTL
from .appconfig import AppConfig
from .client import NextcloudClient
from .exports import UserExports
from .files import UserFiles
from .taskprocessing import TaskProcessingApi
from .ui import UiRegistration
from .users import Users


class NextcloudServer:
    """The app's Nextcloud: its config, UI registration, users and TaskProcessing. ``aclose()`` at shutdown."""

    def __init__(self, env: AppEnv, *, timeout: float = 10, max_user_clients: int = MAX_USER_CLIENTS,
                 admin_cache_ttl: float = ADMIN_CACHE_TTL, tasktypes_cache_ttl: float = TASKTYPES_CACHE_TTL) -> None:
        self.client = NextcloudClient(env, timeout=timeout, max_user_clients=max_user_clients)
        self.appconfig = AppConfig(self.client)
        self.ui = UiRegistration(self.client, self.appconfig)
        self.users = Users(self.client, cache_ttl=admin_cache_ttl)
        self.taskprocessing = TaskProcessingApi(self.client, cache_ttl=tasktypes_cache_ttl)
        self.files = UserFiles(self.client)
        self.exports = UserExports(self.client)

    async def aclose(self) -> None:
        await self.client.aclose()
