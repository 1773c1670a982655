"""Request parameters (web/params.py): query or JSON body, typed, bounded, and every problem a 400 naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.requests import Request

from assistant_stream.core.errors import InvalidJson, InvalidParameter, MissingParameter, TooLarge, TooLong
from assistant_stream.core.limits import MAX_BODY
from assistant_stream.web.params import ABSENT, P, read

PARAMS = [P("sessionId"), P("title", "str", required=False, max_len=5), P("first", "bool", required=False,
                                                                         default=False),
          P("timeout", "float", required=False, default=25.0, minimum=0, maximum=30)]


def request(method: str = "GET", query: str = "", body: bytes | None = None,
            content_type: str = "application/json") -> Request:
    headers = [(b"content-type", content_type.encode())] if body is not None else []
    if body is not None:
        headers.append((b"content-length", str(len(body)).encode()))
    chunks = [body or b""]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop() if chunks else b"", "more_body": False}

    scope = {"type": "http", "method": method, "path": "/x", "query_string": query.encode(), "headers": headers}
    return Request(scope, receive)


async def test_query_and_json_body_with_the_body_first() -> None:
    got = await read(request("GET", "sessionId=3&first=yes&timeout=2.5"), PARAMS)
    assert got == {"sessionId": 3, "title": None, "first": True, "timeout": 2.5}
    body = json.dumps({"sessionId": 4, "title": "hi", "first": False}).encode()
    got = await read(request("POST", "sessionId=3", body), PARAMS)
    assert got == {"sessionId": 4, "title": "hi", "first": False, "timeout": 25.0}


@pytest.mark.parametrize(("query", "error", "says"), [
    ("", MissingParameter, "Missing parameter sessionId"),
    ("sessionId=0", InvalidParameter, "sessionId must be at least 1"),
    ("sessionId=\u00b2", InvalidParameter, "sessionId must be an integer"),
    ("sessionId=1&first=maybe", InvalidParameter, "first must be true or false"),
    ("sessionId=1&timeout=nan", InvalidParameter, "timeout must be a number"),
    ("sessionId=1&timeout=31", InvalidParameter, "timeout must be at most 30"),
    ("sessionId=1&title=toolong", TooLong, "title is longer than 5"),
    ("sessionId=1&title=a%00b", InvalidParameter, "without NUL"),
])
async def test_bad_values_name_the_parameter(query: str, error: type[Exception], says: str) -> None:
    with pytest.raises(error) as info:
        await read(request("GET", query), PARAMS)
    assert says in str(info.value)


async def test_bodies_that_are_not_a_json_object_or_too_large() -> None:
    with pytest.raises(InvalidJson):
        await read(request("POST", "", b"{nope"), PARAMS)
    with pytest.raises(InvalidJson):
        await read(request("POST", "", b"[1, 2]"), PARAMS)
    with pytest.raises(TooLarge):
        await read(request("POST", "", b" " * (MAX_BODY + 1)), PARAMS)
    # A body that is not JSON is not read at all: the query decides.
    assert (await read(request("POST", "sessionId=9", b"<xml/>", "text/xml"), PARAMS))["sessionId"] == 9


async def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    got = await read(request("POST", "", b'{"sessionId": 1, "title": "a\\ud800"}'), PARAMS)
    assert got["title"] == "a\ufffd"


def test_the_schema_follows_the_parameter() -> None:
    assert P("sessionId").schema() == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert P("title", "str", max_len=500, description="d").schema() == {"type": "string", "maxLength": 500,
                                                                        "description": "d"}


async def test_a_client_gone_while_its_body_is_read_is_a_clear_error() -> None:
    from assistant_stream.core.errors import InvalidInput

    scope = {"type": "http", "method": "PUT", "path": "/x", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]}

    async def gone() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    with pytest.raises(InvalidInput, match="cut off"):  # not an unexpected error in the log
        await read(Request(scope, gone), PARAMS)


async def test_nullable_parameters_tell_null_from_not_sent_and_json_ones_take_lists() -> None:
    params = [P("model", "str", required=False, nullable=True), P("temperature", "float", required=False,
                                                                  minimum=0, maximum=2, nullable=True),
              P("items", "json", required=False)]
    got = await read(request("PUT", "", json.dumps({"model": None, "items": [1, {"a": 2}]}).encode()), params)
    assert got == {"model": None, "temperature": ABSENT, "items": [1, {"a": 2}]}
    got = await read(request("PUT", "temperature=1.5", b"{}"), params)
    assert got["temperature"] == 1.5 and got["model"] is ABSENT
    with pytest.raises(InvalidParameter, match="temperature must be at most 2"):
        await read(request("PUT", "", json.dumps({"temperature": 3}).encode()), params)
    with pytest.raises(InvalidParameter, match="items must be sent in a JSON request body"):
        await read(request("GET", "items=[1]"), params)
    assert params[0].schema() == {"type": ["string", "null"]} and params[2].schema() == {}
