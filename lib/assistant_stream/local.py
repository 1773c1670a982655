"""The single-user page `make run` serves on loopback, so the chat can be tried without a Nextcloud."""

from __future__ import annotations

import base64
import html
import json

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .client_config import client_config
from .core.errors import NotFound
from .services import current_user, services

router = APIRouter()

PAGE = """<!DOCTYPE html>
<html lang="en" data-locale="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Assistant Stream (local mode)</title>
<link rel="stylesheet" href="js/assistant_stream-main.css">
</head>
<body>
<input type="hidden" id="initial-state-app_api-config" value="{state}">
<div id="assistant-stream-app"></div>
<script type="module" src="js/assistant_stream-main.js"></script>
</body>
</html>
"""


@router.get("/", include_in_schema=False)
async def page(request: Request) -> HTMLResponse:
    s = services(request)
    if request.scope.get("auth") != "local":
        # Off unless LOCAL_MODE is set and the browser is on this machine; never in the container.
        raise NotFound()
    state = await client_config(s, user=current_user(request), local=True)
    encoded = base64.b64encode(json.dumps(state).encode()).decode()
    return HTMLResponse(PAGE.format(state=html.escape(encoded)), headers={"Cache-Control": "no-cache"})
