"""What the app registers in Nextcloud's UI on enable (and removes on disable), in one place so both stay symmetric."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from ..core import errors
from ..core.settings import INBOXES
from .appconfig import AppConfig
from .client import NextcloudClient
from .settings_form import SETTINGS_FORM_ID, settings_form

log = logging.getLogger(__name__)

UI_TYPE = "top_menu"
MENU_NAME = "chat"
MENU_DISPLAY_NAME = "Chat"
MENU_ICON = "img/app.svg"
# AppAPI hands these to Util::addScript/addStyle, which append ".js" / ".css" themselves.
SCRIPT_PATH = "js/assistant_stream-main"
STYLE_PATH = "js/assistant_stream-main"
INITIAL_STATE_KEY = "config"


class UiRegistration:
    def __init__(self, client: NextcloudClient, appconfig: AppConfig) -> None:
        self._client = client
        self._appconfig = appconfig

    async def report_init_progress(self, progress: int, error: str = "") -> None:
        """``PUT /ocs/v1.php/apps/app_api/ex-app/status``; 100 makes AppAPI enable the app."""
        await self._client.call("report init progress", self._client.app().set_init_status(progress, error))

    async def on_enabled(self, initial_state: dict[str, Any]) -> str:
        """Register the top menu entry, its script, style and initial state, and the admin form.

        Returns "" or a short error text for AppAPI (shown to the admin; never contains a secret).
        """
        nc, call = self._client.app(), self._client.call
        try:
            # First, so that the admin form can never be the one creating its inbox (unflagged, unreadable).
            await self._prepare_inboxes()
            await call("register top menu", nc.ui.top_menu.register(MENU_NAME, MENU_DISPLAY_NAME, MENU_ICON))
            await call("register script", nc.ui.resources.set_script(UI_TYPE, MENU_NAME, SCRIPT_PATH))
            await call("register style", nc.ui.resources.set_style(UI_TYPE, MENU_NAME, STYLE_PATH))
            await self.update_initial_state(initial_state)
            await call("register settings form", nc.ui.settings.register_form(settings_form()))
        except errors.AppError as exc:
            log.error("Enabling failed: %s", exc.message)
            return exc.message
        log.info("Registered the top menu entry, its resources and the admin settings form")
        return ""

    async def on_disabled(self) -> str:
        """Remove everything ``on_enabled`` registered (settings values stay)."""
        nc = self._client.app()
        failures: list[str] = []
        steps: list[tuple[str, Awaitable[None]]] = [
            ("remove top menu", nc.ui.top_menu.unregister(MENU_NAME)),
            ("remove script", nc.ui.resources.delete_script(UI_TYPE, MENU_NAME, SCRIPT_PATH)),
            ("remove style", nc.ui.resources.delete_style(UI_TYPE, MENU_NAME, STYLE_PATH)),
            ("remove initial state",
             nc.ui.resources.delete_initial_state(UI_TYPE, MENU_NAME, INITIAL_STATE_KEY)),
            ("remove settings form", nc.ui.settings.unregister_form(SETTINGS_FORM_ID)),
        ]
        for what, awaitable in steps:
            # Each step on its own: one failure must not leave the rest registered.
            try:
                await self._client.call(what, awaitable)
            except errors.AppError as exc:
                failures.append(exc.message)
        if failures:
            log.error("Disabling left something registered: %s", "; ".join(failures))
            return failures[0]
        log.info("Removed the top menu entry, its resources and the admin settings form")
        return ""

    async def update_initial_state(self, state: dict[str, Any]) -> None:
        """(Re)publish the page's initial state (``loadState('app_api', 'config')`` in the frontend)."""
        await self._client.call(
            "set initial state",
            self._client.app().ui.resources.set_initial_state(UI_TYPE, MENU_NAME, INITIAL_STATE_KEY, state),
        )

    async def _prepare_inboxes(self) -> None:
        """Create the form's write-only entries empty and sensitive, so that a value saved there is encrypted once
        and handed to the app decrypted (core.settings.INBOXES). The key itself is never touched here: the admin
        may be setting it with occ at this very moment (``app:register --wait-finish`` returns before the app is
        enabled), and a read-then-write would overwrite it (issue 11, defect 7)."""
        existing = await self._appconfig.fetch(sorted(INBOXES))
        for inbox in sorted(INBOXES):
            if not existing.get(inbox):  # a pending value is left for ConfigStore to move
                await self._appconfig.store(inbox, "", sensitive=True)
