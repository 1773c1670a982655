"""A raw TCP client for attacking the server: keeps every byte it was sent, even when a reset follows."""

from __future__ import annotations

import asyncio

MIB = 1 << 20


class Raw(asyncio.Protocol):
    """A client connection that keeps every byte the server sent, even when a reset follows it."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()

    async def send(self, data: bytes) -> bool:
        """Write unless the connection is gone, waiting while the kernel buffers are full."""
        assert self.transport is not None
        while not self.closed.is_set() and self.transport.get_write_buffer_size() > MIB:
            await asyncio.sleep(0.005)
        if self.closed.is_set() or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    async def wait_closed(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self.closed.wait()
        except TimeoutError:
            return False
        return True


async def connect(port: int) -> Raw:
    _t, proto = await asyncio.get_running_loop().create_connection(Raw, "127.0.0.1", port)
    return proto
