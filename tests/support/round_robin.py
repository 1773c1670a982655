"""A TCP load balancer on loopback: each new connection goes to the next backend in turn (like a round-robin
L4 balancer in front of replicas); it records which backend served each connection."""

from __future__ import annotations

import asyncio
import contextlib

from tests.support.ports import free_port


class RoundRobin:
    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.next = 0  # index of the backend the next connection goes to (a test may set it)
        self.served: list[int] = []  # backend port per accepted connection, in order
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> RoundRobin:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = self.backends[self.next % len(self.backends)]
        self.next += 1
        self.served.append(port)
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        except (OSError, TimeoutError):
            writer.close()  # the backend is down: the client sees a closed connection, as behind a real balancer
            return
        a = asyncio.create_task(self._pipe(reader, up_writer))
        b = asyncio.create_task(self._pipe(up_reader, writer))
        self._tasks |= {a, b}
        try:
            await asyncio.wait([a, b], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (a, b):
                t.cancel()
            for w in (writer, up_writer):
                w.close()
            self._tasks -= {a, b}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
