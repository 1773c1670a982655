"""The scripted provider shared by a real-Nextcloud session: answers are picked by a marker in the question."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from tests.support.scripted_provider import Exchange, RecordedRequest, ScriptedProvider, ScriptedResponse, openai_stream

TITLE_PREFIX = "Write a short title"  # the app's title prompt starts so (generations.TITLE_PROMPT)
DEFAULT_ANSWER = ["Hello", " from", " the", " scripted", " provider."]
# An answer, or how to answer from the request itself (to echo what reached the model).
Answer = ScriptedResponse | Callable[[RecordedRequest], ScriptedResponse]


def marker() -> str:
    """A word to put in a question so that :meth:`SharedProvider.answer` can pick that question's answer."""
    return "q" + secrets.token_hex(6)


def messages_of(request: RecordedRequest) -> list[dict[str, Any]]:
    body = request.json if isinstance(request.json, dict) else {}
    msgs = body.get("messages")
    return [m for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else []


def is_title(request: RecordedRequest) -> bool:
    msgs = messages_of(request)
    return bool(msgs) and str(msgs[0].get("content", "")).startswith(TITLE_PREFIX)


class SharedProvider(ScriptedProvider):
    """One provider for every test of a session (the app's configured URL cannot change per test for free).

    Title requests get a short title; a question containing a marker registered with :meth:`answer` gets that
    answer (once per request, as often as asked); anything else gets a short default answer. Tests stay
    independent: each finds its own requests with :meth:`for_marker`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._answers: dict[str, Answer] = {}

    def answer(self, mark: str, response: Answer) -> None:
        self._answers[mark] = response

    def for_marker(self, mark: str) -> list[Exchange]:
        return [ex for ex in self.exchanges if not is_title(ex.request)
                and any(mark in str(m.get("content", "")) for m in messages_of(ex.request))]

    def _next(self, req: RecordedRequest) -> ScriptedResponse:
        if is_title(req):
            return openai_stream(["Scripted", " title"])
        msgs = messages_of(req)
        last_user = next((str(m.get("content", "")) for m in reversed(msgs) if m.get("role") == "user"), "")
        for mark, response in self._answers.items():
            if mark in last_user:
                return response(req) if callable(response) else response
        return openai_stream(DEFAULT_ANSWER)
