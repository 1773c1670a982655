"""The single-user page `make run` serves on loopback, so the chat can be tried without a Nextcloud."""

from __future__ import annotations

import base64
import html
import json
from typing import Any

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from .client_config import client_config
from .endpoint import Call, route

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


@route(router, "GET", "/", access="local", in_schema=False)
async def page(call: Call) -> Any:
    state = await client_config(call.chat, user=call.user, local=True)
    encoded = base64.b64encode(json.dumps(state).encode()).decode()
    return HTMLResponse(PAGE.format(state=html.escape(encoded)))
