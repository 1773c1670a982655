"""The connection test admins run (admin page and `check --test`): reachable, key, model, streaming."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass, field

import httpx

from ..core import errors
from ..core.events import ChatMessage, Finish, ReasoningDelta, TextDelta
from ..core.limits import MAX_MODEL_LIST
from ..core.secrets import redact
from ..core.settings import Settings
from .body import read_capped
from .config import ProviderConfig, provider_config
from .endpoint import Endpoint, display_url, resolve_endpoint
from .errors import connect_error
from .transport import ProviderClient

Checks = dict[str, bool | None]


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    ok: bool
    summary: str
    # reachable, key_accepted, model_exists, streams: True/False, or None when it could not be told.
    checks: Checks = field(default_factory=dict)


async def diagnose_settings(client: ProviderClient, settings: Settings, connection_id: str | None = None
                            ) -> ConnectionReport:
    """The report for a connection (by default the first, which gives new conversations their model) with its
    first model, or why there is nothing to test."""
    offered = [c for c in settings.connection_list if c.models]
    chosen = next((c for c in offered if c.id == connection_id), None) if connection_id else (
        offered[0] if offered else None)
    if chosen is None:
        if connection_id:
            return ConnectionReport(False, f"There is no connection '{connection_id}' with a model to test.", {})
        return ConnectionReport(False, "streaming_api_url is not set and no connection is configured.", {})
    return await diagnose(client, provider_config(settings, chosen, chosen.models[0]))


async def diagnose(client: ProviderClient, config: ProviderConfig) -> ConnectionReport:
    """Check reachable / key accepted / model exists / streams; a one-sentence summary for admins."""
    checks: Checks = {"reachable": None, "key_accepted": None, "model_exists": None, "streams": None}
    problems: list[str] = []
    try:
        endpoint = resolve_endpoint(config.url, config.api_key)
    except ValueError as exc:
        checks["reachable"] = False
        return ConnectionReport(False, str(exc) + ".", checks)
    listed: bool | None = None
    if endpoint.models_url:
        listed = await _check_models(client, config, endpoint, checks, problems)
    if checks["reachable"] is not False:
        await _check_streaming(client, config, checks, problems, listed)
    ok = bool(checks["reachable"] and checks["key_accepted"] is not False
              and checks["model_exists"] is not False and checks["streams"])
    summary = redact(_summary(config, endpoint, checks, problems), config.api_key)
    return ConnectionReport(ok, summary, checks)


async def _check_streaming(client: ProviderClient, config: ProviderConfig, checks: Checks, problems: list[str],
                           listed: bool | None) -> None:
    probe = dataclasses.replace(config, max_tokens=5, retries_before_first_token=0,
                                first_byte_timeout=min(config.first_byte_timeout, 30),
                                idle_timeout=min(config.idle_timeout, 30))
    try:
        got = False
        async for ev in client.stream_chat(probe, [ChatMessage("user", "Say OK.")]):
            if isinstance(ev, (TextDelta, ReasoningDelta)) or (isinstance(ev, Finish) and ev.reason):
                got = True
        checks.update(reachable=True, streams=got)
        if checks["key_accepted"] is None:
            checks["key_accepted"] = True
        if not got:
            problems.append("the test answer stream was empty")
        # A server that answers for the model counts as having it, even when its model list
        # spells it differently (Ollama "x:latest", llama.cpp lists the file name).
        checks["model_exists"] = True if listed else None
    except errors.ProviderError as exc:
        checks["streams"] = False
        # A connection that broke off mid-answer had been made.
        unreachable = isinstance(exc, errors.ProviderConnectError) and not isinstance(exc, errors.ProviderDropped)
        checks["reachable"] = not unreachable
        if isinstance(exc, errors.ProviderAuthError):
            checks["key_accepted"] = False
        if isinstance(exc, errors.ProviderNotFound) and checks["model_exists"] is not True:
            checks["model_exists"] = False
        problems.append(_lower_first(exc.message.rstrip(".")))


async def _check_models(client: ProviderClient, config: ProviderConfig, endpoint: Endpoint, checks: Checks,
                        problems: list[str]) -> bool | None:
    assert endpoint.models_url is not None
    where = display_url(endpoint.models_url)
    try:
        async with asyncio.timeout(config.connect_timeout + 10):
            r = await client.http.send(client.http.build_request(
                "GET", endpoint.models_url, headers=endpoint.headers,
                timeout=httpx.Timeout(config.connect_timeout + 10, connect=config.connect_timeout)), stream=True)
            try:
                # Read within the body bounds (a huge or compressed list must not cost memory).
                raw = await read_capped(r, MAX_MODEL_LIST) if r.status_code == 200 else b""
            except errors.ProviderError:
                raw = b""
            finally:
                await r.aclose()
    except (TimeoutError, httpx.TimeoutException):
        checks["reachable"] = False
        problems.append(f"the AI provider at {where} did not answer within the connect timeout")
        return None
    except httpx.HTTPError as exc:
        checks["reachable"] = False
        problems.append(_lower_first(connect_error(exc, where).message))
        return None
    checks["reachable"] = True
    if r.status_code in (401, 403):
        checks["key_accepted"] = False
        return None
    if r.status_code != 200:
        return None  # no model list here (404) or it failed: streaming decides
    checks["key_accepted"] = True
    try:
        data = json.loads(raw).get("data")
        ids = {str(m.get("id")) for m in data if isinstance(m, dict)}
    except (ValueError, AttributeError, TypeError):
        return None
    if not ids:
        return None
    found = config.model in ids or f"{config.model}:latest" in ids
    checks["model_exists"] = found
    return found


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != "AI" else text


def _summary(config: ProviderConfig, endpoint: Endpoint, checks: Checks, problems: list[str]) -> str:
    where = display_url(endpoint.chat_url)
    good: list[str] = []
    if checks["reachable"]:
        good.append(f"the AI provider at {where} is reachable")
    if checks["key_accepted"]:
        good.append("the API key is accepted" if endpoint.headers else "no API key is needed")
    if checks["model_exists"]:
        good.append(f"model '{config.model}' exists")
    if checks["streams"]:
        good.append("streaming works")
    bad = list(problems)
    if checks["reachable"] and checks["key_accepted"] is False and not any("API key" in p for p in bad):
        bad.append("the API key was rejected")
    if checks["model_exists"] is False and not any("not found" in p for p in bad):
        bad.append(f"model '{config.model}' is not in the provider's model list")
    if not good:
        text = "; ".join(bad or ["the AI provider could not be checked"])
    elif not bad:
        text = ", ".join(good[:-1]) + (" and " if len(good) > 1 else "") + good[-1]
    else:
        text = ", ".join(good) + ", but " + "; ".join(bad)
    return text[:1].upper() + text[1:] + "."
