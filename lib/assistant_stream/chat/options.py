"""A user's choices: the model and prompt options of a conversation, and presets (shared and their own)."""

from __future__ import annotations

from typing import Any

from ..core.config_store import ConfigStore
from ..core.errors import InvalidParameter
from ..core.presets import OPTION_KEYS, check_name, check_options, shared_presets
from ..store.storage import Storage
from ..store.values import Record
from .models import catalog, choose


class Options:
    def __init__(self, config: ConfigStore, storage: Storage) -> None:
        self._config = config
        self._storage = storage

    async def models(self) -> dict[str, Any]:
        """The models users may choose, grouped by connection, and the default."""
        return catalog(await self._config.get())

    async def of_session(self, user: str, session_id: int) -> Record:
        """{"session": the conversation, "options": its model and prompt options}."""
        return {"session": await self._storage.get_session(user, session_id),
                "options": await self._storage.session_options(user, session_id)}

    async def set_for_session(self, user: str, session_id: int, changes: Record) -> Record:
        """Change some options of a conversation (None: back to the admin's default). A model must be one the
        admin allows (ModelNotAllowed otherwise); the rest is checked like a preset."""
        merged = {**await self._storage.session_options(user, session_id), **changes}
        checked = _checked(merged)
        if "model" in changes or "connection" in changes:
            choose(await self._config.get(), checked["connection"], checked["model"])
        return await self._storage.set_session_options(user, session_id, {k: checked[k] for k in changes})

    async def presets(self, user: str) -> dict[str, list[Record]]:
        """The admin's shared presets and the user's own."""
        shared = [{**p, "shared": True} for p in shared_presets((await self._config.get()).presets)]
        own = [{**p, "shared": False} for p in await self._storage.list_presets(user)]
        return {"shared": shared, "own": own}

    async def save_preset(self, user: str, preset_id: int | None, name: Any, options: Record) -> Record:
        try:
            name = check_name(name)
        except ValueError as exc:
            raise InvalidParameter(_sentence(str(exc))) from None
        checked = _checked(options)
        if checked["model"] is not None:
            choose(await self._config.get(), checked["connection"], checked["model"])
        return {**await self._storage.save_preset(user, preset_id, name, checked), "shared": False}

    async def delete_preset(self, user: str, preset_id: int) -> None:
        await self._storage.delete_preset(user, preset_id)


def _checked(values: Record) -> Record:
    try:
        return check_options({k: values.get(k) for k in OPTION_KEYS})
    except ValueError as exc:
        raise InvalidParameter(_sentence(str(exc))) from None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
