"""Small async helpers: every event of an async iterator, and waiting for a condition without a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

T = TypeVar("T")


async def drain(agen: AsyncIterator[T]) -> list[T]:
    """Every item of an async iterator, in order."""
    return [event async for event in agen]


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Return as soon as ``predicate()`` holds; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
