"""The models a provider offers, read from its ``/models`` (the admin's "fetch models" button)."""

from __future__ import annotations

import asyncio
import json

import httpx

from ..core import errors
from ..core.limits import MAX_ERROR_BODY, MAX_MODEL_NAME, MAX_MODELS, MAX_MODELS_BODY
from ..core.secrets import redact
from .endpoint import display_url, resolve_endpoint
from .errors import connect_error, error_detail, status_error
from .transport import ProviderClient


async def list_models(client: ProviderClient, url: str, api_key: str, *, timeout: float = 15.0) -> list[str]:
    """The model ids ``GET <base>/models`` lists (OpenAI's ``data[].id``; Ollama's native ``models[].name`` too),
    sorted. ProviderError subclasses say what went wrong, never with the key in them."""
    try:
        endpoint = resolve_endpoint(url, api_key)
    except ValueError as exc:
        raise errors.InvalidParameter(str(exc)) from None
    if endpoint.models_url is None:
        raise errors.ProviderNotFound("An Azure OpenAI deployment URL names one model and has no model list: "
                                      "type the deployment's model name instead")
    where = display_url(endpoint.models_url)
    try:
        async with asyncio.timeout(timeout):
            body, status, headers = await _get(client, endpoint.models_url, endpoint.headers, timeout)
    except TimeoutError:
        raise errors.ProviderTimeout(
            f"The AI provider at {where} did not list its models within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise _redacted(connect_error(exc, where), api_key) from None
    if status == 404:
        raise errors.ProviderNotFound(f"The AI provider at {where} has no model list (HTTP 404): "
                                      "type the model names instead")
    if status != 200:
        raise _redacted(status_error(status, error_detail(body[:MAX_ERROR_BODY]), where, "-", headers,
                                     bool(endpoint.headers)), api_key)
    try:
        names = model_names(json.loads(body))
    except (ValueError, TypeError, AttributeError):
        raise errors.ProviderProtocolError(f"The AI provider at {where} did not answer with a model list") from None
    return names


def model_names(data: object) -> list[str]:
    """Model ids from a ``/models`` answer; TypeError when it is not one."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    items = data.get("data")
    key = "id"
    if not isinstance(items, list) and isinstance(data.get("models"), list):
        items, key = data["models"], "name"
    if not isinstance(items, list):
        raise TypeError("no list")
    names = {str(m[key]).strip() for m in items if isinstance(m, dict) and isinstance(m.get(key), str)}
    return sorted(n for n in names if n and len(n) <= MAX_MODEL_NAME)[:MAX_MODELS]


async def _get(client: ProviderClient, url: str, headers: dict[str, str], timeout: float
               ) -> tuple[bytes, int, httpx.Headers]:
    """The body (at most MAX_MODELS_BODY bytes: a peer cannot make us hold more), status and headers."""
    async with client.http.stream("GET", url, headers={**headers, "Accept": "application/json"},
                                  timeout=httpx.Timeout(timeout)) as response:
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_MODELS_BODY:
                raise errors.ProviderLimitExceeded(
                    f"The AI provider's model list is larger than {MAX_MODELS_BODY // 1024 // 1024} MB")
        return body, response.status_code, response.headers


def _redacted(exc: errors.ProviderError, api_key: str) -> errors.ProviderError:
    exc.message = redact(exc.message, api_key)
    exc.args = (exc.message,)
    return exc
