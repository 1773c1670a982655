"""The single-user page `make run` serves on loopback, so the chat can be tried without a Nextcloud."""

from __future__ import annotations

import base64
import html
import json
from typing import Any

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

from .client_config import client_config
from .endpoint import Call, route

router = APIRouter()

PAGE = """<!DOCTYPE html>
<html lang="en" data-locale="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Assistant Stream (local mode)</title>
<link rel="icon" href="favicon.ico" type="image/svg+xml">
<link rel="stylesheet" href="js/assistant_stream-main.css">
</head>
<body>
<input type="hidden" id="initial-state-app_api-config" value="{state}">
<div id="assistant-stream-app"></div>
<script type="module" src="js/assistant_stream-main.js"></script>
</body>
</html>
"""


# The app's chat bubble (ex_app/img/app.svg is white, for Nextcloud's dark header) in the local page's blue.
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32"><path fill="#00679e" '
    b'fill-rule="evenodd" d="M16 3C8.3 3 2 8.4 2 15.1c0 3.6 1.8 6.8 4.7 9L5.4 29.3c-.2.7.6 1.2 1.2.8l5.9-3.7c1.1.2 '
    b'2.3.4 3.5.4 7.7 0 14-5.4 14-12.1S23.7 3 16 3zm-7 14.6a2.3 2.3 0 1 1 0-4.6 2.3 2.3 0 0 1 0 4.6zm7 0a2.3 2.3 0 1 '
    b'1 0-4.6 2.3 2.3 0 0 1 0 4.6zm7 0a2.3 2.3 0 1 1 0-4.6 2.3 2.3 0 0 1 0 4.6z"/></svg>'
)


@route(router, "GET", "/favicon.ico", access="local", in_schema=False)
async def favicon(call: Call) -> Any:
    """Browsers ask every page's origin for it: an icon, not a 404 in the log and the console."""
    return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


@route(router, "GET", "/", access="local", in_schema=False)
async def page(call: Call) -> Any:
    state = await client_config(call.chat, user=call.user, local=True)
    encoded = base64.b64encode(json.dumps(state).encode()).decode()
    return HTMLResponse(PAGE.format(state=html.escape(encoded)))
