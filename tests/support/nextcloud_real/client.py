"""What a browser or desktop client does against the real Nextcloud: app passwords, OCS, the stock AppAPI proxy."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

APP_ID = "assistant_stream"
PROXY = f"/index.php/apps/app_api/proxy/{APP_ID}"
EMBEDDED = f"/index.php/apps/app_api/embedded/{APP_ID}/chat"
NAVIGATION = "/ocs/v2.php/core/navigation/apps"
FORMS = "/ocs/v2.php/settings/api/declarative/forms"
FORM_VALUE = "/ocs/v2.php/settings/api/declarative/value"
FORM_VALUE_SENSITIVE = "/ocs/v2.php/settings/api/declarative/value-sensitive"
OCS_HEADERS = {"OCS-APIRequest": "true", "Accept": "application/json"}
ROOT = Path(__file__).resolve().parents[3]
# A long-poll holds its request for up to this many seconds (the UI asks for 25; tests wait less).
POLL_TIMEOUT = 10


def client(base_url: str, user: str, app_password: str, *, timeout: float = 60.0) -> httpx.AsyncClient:
    """An HTTP client authenticated as ``user`` with an app password (Basic auth on every request)."""
    return httpx.AsyncClient(base_url=base_url, auth=(user, app_password), timeout=timeout, trust_env=False,
                             headers={"Accept": "application/json"})


def ui_verb(path: str) -> str:
    """The HTTP verb src/api.js uses for ``path`` (what the browser really sends)."""
    source = (ROOT / "src" / "api.js").read_text()
    match = re.search(r"request\('([A-Z]+)', '" + re.escape(path) + "'", source)
    assert match, f"src/api.js has no call to {path}"
    return match.group(1)


async def ocs(c: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    params = {"format": "json", **kwargs.pop("params", {})}
    return await c.request(method, path, params=params, headers=OCS_HEADERS, **kwargs)


def ocs_data(r: httpx.Response) -> Any:
    assert r.status_code == 200, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}"
    return r.json()["ocs"]["data"]


async def navigation_entries(c: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list(ocs_data(await ocs(c, "GET", NAVIGATION)))


async def initial_state(c: httpx.AsyncClient) -> Any:
    """The app's initial state on the embedded page, decoded as the frontend does (src/config.js).

    AppAPI 32/33 hand the stored JSON text to provideInitialState, which encodes it once more: the page carries a
    JSON string holding the JSON object.
    """
    r = await c.get(EMBEDDED, headers={"Accept": "text/html"})
    assert r.status_code == 200, r.status_code
    match = re.search(r'id="initial-state-app_api-config" value="([^"]*)"', r.text)
    assert match, "no initial state on the embedded page"
    value = json.loads(base64.b64decode(html.unescape(match.group(1))))
    return json.loads(value) if isinstance(value, str) else value


def raw_initial_state(page: str) -> Any:
    match = re.search(r'id="initial-state-app_api-config" value="([^"]*)"', page)
    assert match, "no initial state on the page"
    return json.loads(base64.b64decode(html.unescape(match.group(1))))


async def new_session(c: httpx.AsyncClient, title: str | None = None) -> int:
    r = await c.put(f"{PROXY}/chat/new_session", json={"title": title} if title else {})
    assert r.status_code == 200, r.text
    return int(r.json()["session"]["id"])


async def new_message(c: httpx.AsyncClient, session_id: int, content: str) -> int:
    r = await c.put(f"{PROXY}/chat/new_message",
                    json={"sessionId": session_id, "role": "human", "content": content, "firstHumanMessage": True})
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


@dataclass
class PollStep:
    at: float  # time.monotonic() when the response arrived
    body: dict[str, Any]


@dataclass
class PollRun:
    """Every long-poll response of one answer, as the UI's poll loop reads them."""

    steps: list[PollStep] = field(default_factory=list)
    text: str = ""

    @property
    def growth(self) -> list[PollStep]:
        """Responses that brought new text."""
        return [s for s in self.steps if s.body.get("text")]

    @property
    def final(self) -> dict[str, Any]:
        return self.steps[-1].body if self.steps else {}


async def poll_answer(c: httpx.AsyncClient, session_id: int, message_id: int, *, cursor: int = 0,
                      max_steps: int = 400, stop_after: int | None = None) -> PollRun:
    """Long-poll ``/chat/poll`` like the UI: each request asks from the last cursor and goes out at once.

    ``stop_after``: return after that many responses with text (a reload mid-answer).
    """
    run = PollRun()
    rcursor = 0
    for _ in range(max_steps):
        r = await c.get(f"{PROXY}/chat/poll", params={"sessionId": session_id, "messageId": message_id,
                                                       "cursor": cursor, "rcursor": rcursor,
                                                       "timeout": POLL_TIMEOUT})
        assert r.status_code == 200, f"poll: {r.status_code} {r.text[:300]}"
        body = r.json()
        run.steps.append(PollStep(time.monotonic(), body))
        run.text += body.get("text") or ""
        cursor = int(body.get("cursor", cursor))
        rcursor = int(body.get("rcursor", rcursor))
        if body.get("status", "generating") != "generating":
            return run
        if stop_after is not None and len(run.growth) >= stop_after:
            return run
    raise AssertionError(f"the answer did not end within {max_steps} long-polls")


async def wait_for(predicate: Any, *, timeout: float, interval: float = 0.5, what: str = "condition") -> Any:
    """Await ``predicate()`` until it returns something truthy (returned); AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout:.0f} s (last: {last!r})")
