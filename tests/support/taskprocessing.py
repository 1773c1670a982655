"""The TaskProcessing engine in tests: a short conversation and an engine that polls fast."""

from __future__ import annotations

from assistant_stream.core.events import ChatMessage
from assistant_stream.nextcloud.server import NextcloudServer
from assistant_stream.providers.taskprocessing import TaskProcessingEngine

CHAT = [
    ChatMessage("system", "You are terse."),
    ChatMessage("user", "Hi"),
    ChatMessage("assistant", "Hello!"),
    ChatMessage("user", "What is 2+2?"),
]


def engine(nc: NextcloudServer, **kw: float) -> TaskProcessingEngine:
    return TaskProcessingEngine(nc.taskprocessing, poll_interval=kw.pop("poll_interval", 0.02), **kw)
