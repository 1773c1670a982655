"""Request parameters read from the query string or a JSON body, as Nextcloud's OCS controllers do."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request

from ..core.errors import (
    AppError,
    InvalidInput,
    InvalidJson,
    InvalidParameter,
    MissingParameter,
    TooLarge,
    TooLong,
)
from ..core.limits import MAX_BODY, MAX_ID
from ..core.text import clean_text

# ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then rejects or reinterprets.
_DIGITS = re.compile(r"[0-9]{1,19}")
_INTEGER = re.compile(r"-?[0-9]{1,19}")


class _Absent:
    """The value of a ``nullable`` parameter the request did not send (null, in contrast, was sent)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True, slots=True)
class P:
    """One parameter: its name, type and bounds drive both parsing and the OpenAPI schema."""

    name: str
    # "int", "str", "bool", "float", "ids" (a list of ids: JSON array or "1,2,3"), or "json" (a list or an object,
    # from a JSON body only)
    type: str = "int"
    required: bool = True
    minimum: float | None = 1
    maximum: float | None = MAX_ID
    max_len: int | None = None
    default: Any = None
    description: str = ""
    # A JSON null is a value (None: "back to the default"); a parameter not sent at all reads as ABSENT.
    nullable: bool = False

    def schema(self) -> dict[str, Any]:
        s = self._schema()
        if self.nullable and "type" in s:
            s["type"] = [s["type"], "null"]
        return s

    def _schema(self) -> dict[str, Any]:
        if self.type == "json":
            return {"description": self.description} if self.description else {}
        if self.type == "int":
            s: dict[str, Any] = {"type": "integer"}
        elif self.type == "float":
            s = {"type": "number"}
        elif self.type == "bool":
            s = {"type": "boolean"}
        elif self.type == "ids":
            s = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
            if self.max_len is not None:
                s["maxItems"] = self.max_len
        else:
            s = {"type": "string"}
            if self.max_len is not None:
                s["maxLength"] = self.max_len
        if self.type in ("int", "float"):
            if self.minimum is not None:
                s["minimum"] = self.minimum
            if self.maximum is not None:
                s["maximum"] = self.maximum
        if self.description:
            s["description"] = self.description
        return s


def session_id() -> P:
    return P("sessionId", description="Chat session id")


def message_id(required: bool = True) -> P:
    return P("messageId", required=required, description="Message id")


async def read(request: Request, params: Sequence[P]) -> dict[str, Any]:
    """Parse and validate; any problem is a 400 that names the parameter."""
    sources: list[dict[str, Any]] = [dict(request.query_params)]
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        body = await _json_body(request)
        if body:
            sources.insert(0, body)
    out: dict[str, Any] = {}
    for p in params:
        if p.nullable:
            sent = next((s for s in sources if p.name in s), None)
            if sent is None:
                out[p.name] = ABSENT
                continue
            if sent[p.name] is None:
                out[p.name] = None
                continue
        raw = next((s[p.name] for s in sources if p.name in s and s[p.name] is not None), None)
        if raw is None or (raw == "" and p.type != "str"):
            if p.required:
                raise MissingParameter(f"Missing parameter {p.name}")
            out[p.name] = p.default
            continue
        out[p.name] = _convert(p, raw)
    return out


async def _json_body(request: Request) -> dict[str, Any]:
    if "json" not in request.headers.get("content-type", ""):
        return {}
    length = request.headers.get("content-length")
    if length is not None and _DIGITS.fullmatch(length) and int(length) > MAX_BODY:
        raise TooLarge(f"Request body over {MAX_BODY // 1024} KB")
    raw = await _read_body(request)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidJson() from None
    if not isinstance(body, dict):
        raise InvalidJson("The request body must be a JSON object")
    return body


async def _read_body(request: Request) -> bytes:
    """The body, at most MAX_BODY bytes (one that stops arriving is cut off by web/protocol.py)."""
    raw = bytearray()
    try:
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise TooLarge(f"Request body over {MAX_BODY // 1024} KB")
    except ClientDisconnect:
        raise InvalidInput("The request body was cut off") from None  # nobody is left to answer
    return bytes(raw)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _convert(p: P, raw: Any) -> Any:
    converters: dict[str, Callable[[P, Any], Any]] = {"int": _int, "float": _float, "bool": _bool, "str": _str,
                                                      "ids": _ids, "json": _json}
    return converters[p.type](p, raw)


def _bad(p: P, what: str) -> AppError:
    return InvalidParameter(f"Parameter {p.name} must be {what}")


def _json(p: P, raw: Any) -> Any:
    if isinstance(raw, str):
        # Query strings carry only text; a list or object must come in a JSON body (the handler checks it).
        raise _bad(p, "sent in a JSON request body")
    return raw


def _int(p: P, raw: Any) -> int:
    if isinstance(raw, bool):
        raise _bad(p, "an integer")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
        value = int(raw)
    else:
        raise _bad(p, "an integer")
    _range(p, value)
    return value


def _float(p: P, raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _bad(p, "a number") from None
    if value != value:
        raise _bad(p, "a number")
    _range(p, value)
    return value


def _range(p: P, value: float) -> None:
    if p.minimum is not None and value < p.minimum:
        raise _bad(p, f"at least {_number(p.minimum)}")
    if p.maximum is not None and value > p.maximum:
        raise _bad(p, f"at most {_number(p.maximum)}")


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _bool(p: P, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in _TRUE:
        return True
    if str(raw).lower() in _FALSE:
        return False
    raise _bad(p, "true or false")


def _str(p: P, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _bad(p, "a string")
    if "\x00" in raw:
        raise _bad(p, "text without NUL characters")
    if p.max_len is not None and len(raw) > p.max_len:
        raise TooLong(f"Parameter {p.name} is longer than {p.max_len} characters")
    return clean_text(raw)  # a lone surrogate (valid in a JSON escape) becomes U+FFFD


def _ids(p: P, raw: Any) -> list[int]:
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        raise _bad(p, "a list of ids")
    if p.max_len is not None and len(raw) > p.max_len:
        raise _bad(p, f"a list of at most {p.max_len} ids")
    item = P(p.name, "int", minimum=1, maximum=MAX_ID)
    return [_int(item, value) for value in raw]
