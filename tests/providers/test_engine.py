"""ProviderEngine (providers/engine.py): the engine generations use to stream from the configured provider."""

from __future__ import annotations

from assistant_stream.core.events import ChatMessage, Finish, TextDelta
from assistant_stream.providers.engine import ProviderEngine
from assistant_stream.providers.transport import ProviderClient
from tests.support.events import drain
from tests.support.scripted_provider import ScriptedProvider, openai_stream


async def test_it_streams_the_conversation_from_the_provider(scripted_provider: ScriptedProvider,
                                                             provider_client: ProviderClient) -> None:
    scripted_provider.script(openai_stream(["Hi ", "there"], usage=False))
    engine = ProviderEngine(provider_client, scripted_provider.config())
    assert engine.name == "stream"
    events = await drain(engine.stream("alice", [ChatMessage("user", "Hello")]))
    assert events == [TextDelta("Hi "), TextDelta("there"), Finish("stop")]
    assert scripted_provider.requests[0].json["messages"] == [{"role": "user", "content": "Hello"}]
