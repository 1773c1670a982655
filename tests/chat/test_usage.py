"""What an ended answer counts (chat/usage.py): the provider's usage, else an estimate marked as one."""

from __future__ import annotations

from assistant_stream.chat.generation import Generation
from assistant_stream.chat.usage import counted
from assistant_stream.core.errors import ProviderAuthError
from assistant_stream.core.estimate import estimate_tokens
from assistant_stream.core.events import Usage


def gen(status: str = "done", text: str = "", usage: Usage | None = None, chunks: int = 0) -> Generation:
    g = Generation(key="m1", kind="answer", user_id="alice", session_id=1, message_id=1, reply_to=1, model="m",
                   engine="stream", status=status, usage=usage, chunks=chunks, prompt_estimate=40)
    g.text_parts.append(text)
    return g


def test_the_providers_usage_is_counted_as_reported() -> None:
    assert counted(gen(usage=Usage(12, 30, 42), text="anything")) == (12, 30, False)
    assert counted(gen(usage=Usage(12, None, 42))) == (12, 30, False)  # completion from the total


def test_without_usage_the_prompt_and_the_text_are_estimated() -> None:
    text = "An answer the provider did not count, written in plain English."
    assert counted(gen(text=text, chunks=3)) == (40, estimate_tokens(text), True)
    assert counted(gen(status="cancelled", text="cut", chunks=1)) == (40, estimate_tokens("cut"), True)
    assert counted(gen(usage=Usage(0, 0, 0), text="zeros mean none", chunks=1))[2] is True


def test_a_refused_request_costs_nothing_but_a_partial_failure_does() -> None:
    refused = gen(status="error")
    refused.error = ProviderAuthError()
    assert counted(refused) is None
    assert counted(gen(status="error", text="half an answer", chunks=2)) is not None
