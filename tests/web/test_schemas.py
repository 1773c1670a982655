"""OpenAPI (web/schemas.py): every status a route can answer is documented, with its body."""

from __future__ import annotations

from assistant_stream.web.params import P
from assistant_stream.web.schemas import ERROR_SCHEMA, MESSAGE_SCHEMA, RUNNING_SCHEMA, openapi


def test_statuses_bodies_and_parameters() -> None:
    get = openapi("GET", [P("sessionId"), P("cursor", required=False)], extra_status=(417,), ok=MESSAGE_SCHEMA,
                  schemas={417: RUNNING_SCHEMA})
    assert set(get["responses"]) == {"200", "400", "401", "404", "417", "503"}  # no body, no text: no 413
    assert get["responses"]["417"]["content"]["application/json"]["schema"] is RUNNING_SCHEMA
    assert get["responses"]["404"]["content"]["application/json"]["schema"] is ERROR_SCHEMA
    assert [(p["name"], p["required"]) for p in get["parameters"]] == [("sessionId", True), ("cursor", False)]
    assert "requestBody" not in get
    put = openapi("PUT", [P("sessionId")])
    assert "413" in put["responses"] and put["parameters"][0]["required"] is False  # it may come in the body
    assert put["requestBody"]["content"]["application/json"]["schema"]["properties"]["sessionId"]["type"] == "integer"
    assert MESSAGE_SCHEMA["properties"]["engine"] == {"enum": ["stream", "taskprocessing", "context_chat", None]}
