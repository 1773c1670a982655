"""Nextcloud's TaskProcessing API (core OCS v2), asked as the user: chat tasks scheduled, read, cancelled."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from ..core import errors
from ..core.events import Source
from ..core.limits import TASKTYPES_CACHE_TTL
from .client import NextcloudClient, TtlCache

log = logging.getLogger(__name__)

CHAT_TASK_TYPE = "core:text2text:chat"
# Registered by context_chat_backend (an ExApp) since context_chat 5: input prompt, scopeType, scopeList,
# scopeListMeta; output ``output`` (text) and ``sources`` (list of JSON strings, see task_sources()).
CONTEXT_CHAT_TASK_TYPE = "context_chat:context_chat"
FILES_SOURCE = re.compile(r"^files__default: (\d+)$")
(STATUS_UNKNOWN, STATUS_SCHEDULED, STATUS_RUNNING,
 STATUS_SUCCESSFUL, STATUS_FAILED, STATUS_CANCELLED) = range(6)
_STATUS_BY_NAME = {
    "STATUS_UNKNOWN": STATUS_UNKNOWN,
    "STATUS_SCHEDULED": STATUS_SCHEDULED,
    "STATUS_RUNNING": STATUS_RUNNING,
    "STATUS_SUCCESSFUL": STATUS_SUCCESSFUL,
    "STATUS_FAILED": STATUS_FAILED,
    "STATUS_CANCELLED": STATUS_CANCELLED,
}


def task_status(value: Any) -> int:
    """Nextcloud 30+ sends ``"STATUS_RUNNING"``, older code paths an int: normalise to the int constants."""
    if isinstance(value, bool):
        return STATUS_UNKNOWN
    if isinstance(value, int):
        return value if STATUS_UNKNOWN <= value <= STATUS_CANCELLED else STATUS_UNKNOWN
    if isinstance(value, str):
        if value.isascii() and value.isdigit():
            return task_status(int(value))
        return _STATUS_BY_NAME.get(value.upper(), STATUS_UNKNOWN)
    return STATUS_UNKNOWN


def task_output_text(task: Mapping[str, Any]) -> str:
    """The chat answer of a task (``output.output``), "" while there is none."""
    output = task.get("output")
    if isinstance(output, Mapping):
        text = output.get("output")
        if isinstance(text, str):
            return text
    return ""


def task_sources(task: Mapping[str, Any]) -> tuple[Source, ...]:
    """context_chat's ``output.sources``: JSON strings ``{"id", "label", "icon", "url"}`` (context_chat_backend
    ``EnrichedSource``). A file's id is ``files__default: <fileid>``; its link is rebuilt from the file id
    (``/f/<fileid>``, relative to Nextcloud) so that no URL from the task output reaches a page unchecked."""
    output = task.get("output")
    raw = output.get("sources") if isinstance(output, Mapping) else None
    found: list[Source] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            data = json.loads(item) if isinstance(item, str) else item
        except ValueError:
            continue
        if not isinstance(data, Mapping):
            continue
        label = str(data.get("label") or "")[:255] or "Source"
        match = FILES_SOURCE.match(str(data.get("id") or ""))
        if match:
            file_id = int(match.group(1))
            found.append(Source(label, f"/f/{file_id}", file_id))
            continue
        url = str(data.get("url") or "")
        found.append(Source(label, url if url.lower().startswith(("https://", "http://")) else ""))
        if len(found) >= 50:
            break
    # The same file found through several chunks is one source.
    return tuple(dict.fromkeys(found))


class TaskProcessingApi:
    def __init__(self, client: NextcloudClient, *, cache_ttl: float = TASKTYPES_CACHE_TTL) -> None:
        self._client = client
        self._can_chat = TtlCache(cache_ttl)
        self._can_search = TtlCache(cache_ttl)

    async def context_chat_available(self, user: str) -> bool:
        """True when Nextcloud lists ``context_chat:context_chat`` for this user (cached a minute)."""
        return await self._lists(user, CONTEXT_CHAT_TASK_TYPE, self._can_search)

    async def schedule_context_chat(self, user: str, *, prompt: str, custom_id: str) -> int:
        """Schedule a question over all the user's indexed documents (scopeType "none", as ``occ
        context_chat:prompt`` does without options); returns the task id."""
        body = {"type": CONTEXT_CHAT_TASK_TYPE, "appId": self._client.app_id, "customId": custom_id,
                "input": {"prompt": prompt, "scopeType": "none", "scopeList": [], "scopeListMeta": ""}}
        try:
            return await self._schedule(user, body)
        except errors.NextcloudError as exc:
            if exc.nc_status == 412:
                self._can_search.forget(user)
                raise errors.NotConfigured(
                    "Nextcloud no longer offers context_chat:context_chat (is context_chat_backend running?)"
                ) from None
            if exc.nc_status == 400:
                raise errors.ProviderError(f"Nextcloud refused the document question: {exc.nc_reason}") from None
            raise

    async def _lists(self, user: str, task_type: str, cache: TtlCache) -> bool:
        cached = cache.get(user)
        if cached is not None:
            return cached
        nc = await self._client.as_user(user)
        data = await self._client.call("list task types", nc.ocs("GET", "/ocs/v2.php/taskprocessing/tasktypes"))
        types = data.get("types") if isinstance(data, Mapping) else None
        result = isinstance(types, Mapping) and task_type in types
        cache.put(user, result)
        return result

    async def _schedule(self, user: str, body: dict[str, Any]) -> int:
        """POST a task as ``user``; its id (NextcloudError as Nextcloud refused it, for the caller to read)."""
        nc = await self._client.as_user(user)
        data = await self._client.call("schedule task", nc.ocs("POST", "/ocs/v2.php/taskprocessing/schedule",
                                                               json=body))
        try:
            return int(data["task"]["id"])
        except (KeyError, TypeError, ValueError):
            raise errors.NextcloudError("Nextcloud sent an unexpected answer (schedule task)") from None

    async def available(self, user: str) -> bool:
        """True when Nextcloud has a provider for ``core:text2text:chat`` (cached a minute)."""
        return await self._lists(user, CHAT_TASK_TYPE, self._can_chat)

    async def schedule_chat(self, user: str, *, system_prompt: str, input: str, history: list[str],
                            custom_id: str) -> int:
        """Schedule a ``core:text2text:chat`` task; returns its id."""
        body = {
            "type": CHAT_TASK_TYPE,
            "input": {"system_prompt": system_prompt, "input": input, "history": history},
            "appId": self._client.app_id,
            "customId": custom_id,
        }
        try:
            return await self._schedule(user, body)
        except errors.NextcloudError as exc:
            if exc.nc_status == 412:
                self._can_chat.forget(user)
                raise errors.NotConfigured(
                    "Nextcloud has no text processing provider for chat (core:text2text:chat)") from None
            if exc.nc_status == 400:
                raise errors.ProviderError(f"Nextcloud refused the chat task: {exc.nc_reason}") from None
            raise

    async def get_task(self, user: str, task_id: int) -> dict[str, Any]:
        """The task as Nextcloud returns it (``status`` is a string on Nextcloud 30+, see task_status())."""
        nc = await self._client.as_user(user)
        try:
            data = await self._client.call("read task",
                                           nc.ocs("GET", f"/ocs/v2.php/taskprocessing/task/{int(task_id)}"))
        except errors.NextcloudError as exc:
            if exc.nc_status == 404:
                raise errors.NotFound("The Nextcloud task no longer exists") from None
            raise
        task = data.get("task") if isinstance(data, Mapping) else None
        if not isinstance(task, dict):
            raise errors.NextcloudError("Nextcloud sent an unexpected answer (read task)")
        return task

    async def cancel_task(self, user: str, task_id: int) -> None:
        """Cancel a task; one that is gone or already ended is not an error."""
        nc = await self._client.as_user(user)
        try:
            await self._client.call("cancel task",
                                    nc.ocs("POST", f"/ocs/v2.php/taskprocessing/tasks/{int(task_id)}/cancel"))
        except errors.NextcloudError as exc:
            if exc.nc_status != 404:
                raise

    def cancel_task_soon(self, user: str, task_id: int) -> None:
        """Cancel in the background, immune to the caller being cancelled (used from ``finally`` blocks)."""

        async def run() -> None:
            try:
                await self.cancel_task(user, task_id)
            except errors.AppError as exc:
                log.info("Could not cancel Nextcloud task %s: %s", task_id, exc.message)

        self._client.in_background(run())
