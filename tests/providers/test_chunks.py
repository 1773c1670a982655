"""Chunk parsing (providers/chunks.py): empty choices, role-only chunks, reasoning, <think> tags, finish reasons."""

from __future__ import annotations

import pytest

from assistant_stream.core.events import Finish, ReasoningDelta, TextDelta
from assistant_stream.providers.transport import ProviderClient
from tests.support.provider import collect, finishes, reasoning, stream, text
from tests.support.scripted_provider import (
    ScriptedProvider,
    chat_chunk,
    openai_stream,
)

# --- 6, 7: empty choices, role-only first chunk, finish in its own chunk ------------------------------


async def test_6_azure_prompt_filter_chunk_with_empty_choices(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        stream(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            },
            {"choices": [{"index": 0}]},  # a choice without delta
            {"id": "x"},  # no choices key at all
            chat_chunk("ok", finish_reason="stop"),
            "[DONE]",
        )
    )
    events = await collect(provider_client, scripted_provider.config())
    assert events == [TextDelta("ok"), Finish("stop")]


async def test_7_role_only_chunks_and_separate_finish(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    scripted_provider.script(
        stream(
            chat_chunk("", role="assistant"),
            chat_chunk(None, role="assistant"),
            chat_chunk("Hi"),
            chat_chunk(""),
            chat_chunk(finish_reason="stop"),
            "[DONE]",
        )
    )
    events = await collect(provider_client, scripted_provider.config())
    # No empty TextDelta, the finish of its own chunk is reported once.
    assert events == [TextDelta("Hi"), Finish("stop")]


# --- 8: reasoning -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_8_reasoning_fields(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, field: str
) -> None:
    scripted_provider.script(
        stream(
            chat_chunk(None, role="assistant"),
            chat_chunk(None, **{field: "Let me "}),
            chat_chunk(None, **{field: "think."}),
            chat_chunk("Answer"),
            chat_chunk(finish_reason="stop"),
            "[DONE]",
        )
    )
    events = await collect(provider_client, scripted_provider.config())
    assert events == [
        ReasoningDelta("Let me "),
        ReasoningDelta("think."),
        TextDelta("Answer"),
        Finish("stop"),
    ]


async def test_8_think_tags_split_across_chunks(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient
) -> None:
    pieces = ["\n <th", "ink>Let", " me </th", "i", "nk>\n\nThe ", "answer <think> stays", "</think> text"]
    scripted_provider.script(
        stream(*[chat_chunk(p) for p in pieces], chat_chunk(finish_reason="stop"), "[DONE]")
    )
    events = await collect(provider_client, scripted_provider.config())
    assert reasoning(events) == "Let me "
    assert text(events) == "The answer <think> stays</think> text"
    assert all(e.text for e in events if isinstance(e, (TextDelta, ReasoningDelta)))
    assert events[-1] == Finish("stop")


@pytest.mark.parametrize(
    "pieces, want_reasoning, want_text",
    [
        (["<think>", "abc", "</think>", "x"], "abc", "x"),
        (["<", "t", "h", "i", "n", "k", ">", "a", "<", "/", "think", ">", "b"], "a", "b"),
        (["Hi <think>not reasoning</think>"], "", "Hi <think>not reasoning</think>"),
        (["<thought>"], "", "<thought>"),
        (["<thi"], "", "<thi"),  # the answer ended undecided: it was text
        (["<think>never closed"], "never closed", ""),
        (["   "], "", "   "),
    ],
)
async def test_8_think_splitter_cases(
    scripted_provider: ScriptedProvider,
    provider_client: ProviderClient,
    pieces: list[str],
    want_reasoning: str,
    want_text: str,
) -> None:
    scripted_provider.script(stream(*[chat_chunk(p) for p in pieces], "[DONE]"))
    events = await collect(provider_client, scripted_provider.config())
    assert (reasoning(events), text(events)) == (want_reasoning, want_text)
    assert finishes(events) == [None]

# --- 10: finish reasons -----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["stop", "length", "content_filter", "tool_calls", "function_call"])
async def test_10_finish_reasons(
    scripted_provider: ScriptedProvider, provider_client: ProviderClient, reason: str
) -> None:
    scripted_provider.script(openai_stream(["t"], finish=reason))
    events = await collect(provider_client, scripted_provider.config())
    assert finishes(events) == [reason]
    assert events.index(Finish(reason)) > events.index(TextDelta("t"))
