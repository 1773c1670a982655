"""AppAPI's lifecycle calls: /heartbeat, /init and /enabled.

Written here rather than taken from nc_py_api's set_handlers: its /enabled builds a client from
os.environ and runs nc_py_api's own secret check, which prints the real APP_SECRET on a mismatch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter

from ..core.errors import AppError
from ..nextcloud.server import NextcloudServer
from .client_config import page_config
from .endpoint import Call, route
from .params import P

log = logging.getLogger(__name__)
router = APIRouter()


@route(router, "GET", "/heartbeat", access="public", in_schema=False)
async def heartbeat(call: Call) -> Any:
    return {"status": "ok"}


@route(router, "PUT", "/enabled", [P("enabled", "str", required=False, default="")], access="appapi",
       in_schema=False)
async def enabled(call: Call) -> Any:
    nextcloud, config = call.services.nextcloud, call.services.config
    error = ""
    if nextcloud is not None:
        if call.params["enabled"].lower() in ("1", "true"):
            # A fresh read, not the cache: AppAPI's `app:register --wait-finish` returns before it calls this,
            # so the admin may have configured the app a moment ago (issue 11, defect 7).
            error = await nextcloud.ui.on_enabled(page_config(call.chat.env, await config.fresh()))
        else:
            error = await nextcloud.ui.on_disabled()
        config.invalidate()  # whatever the admin does next is read at the next request
    return {"error": error}


@route(router, "POST", "/init", access="appapi", in_schema=False)
async def init(call: Call) -> Any:
    nextcloud = call.services.nextcloud
    if nextcloud is not None:
        # The database was migrated before the app started answering, so we are ready at once.
        call.request.app.state.init_task = asyncio.create_task(_report_ready(nextcloud))
    return {}


async def _report_ready(nextcloud: NextcloudServer) -> None:
    try:
        await nextcloud.ui.report_init_progress(100)
    except AppError as exc:
        log.error("Could not report init progress to Nextcloud: %s", exc.message)
