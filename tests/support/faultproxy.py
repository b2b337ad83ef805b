"""A TCP proxy that breaks the network between a client and the API server on demand.

    async with FaultProxy(upstream_port=6443) as proxy:   # listens on 127.0.0.1:<proxy.port>
        proxy.freeze()    # connections open now stop delivering, both ways; new ones work
        proxy.thaw()      # the frozen ones deliver again, what was held back included
        proxy.refuse()    # every connection is reset and new ones are refused: the API is unreachable
        proxy.accept()    # new connections work again

It forwards bytes and knows nothing of TLS or HTTP, so a client verifies the real server's
certificate through it. A frozen connection is a half-open one as the client sees it: its kernel
still acknowledges (the proxy's socket is alive), but no answer ever arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

CHUNK = 65536


class _Link:
    """One client connection and its upstream twin; `flowing` is cleared while frozen."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream = upstream
        self.flowing = asyncio.Event()
        self.flowing.set()

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            writer.transport.abort()


class FaultProxy:
    """127.0.0.1:<port> → 127.0.0.1:<upstream_port>, with faults switched on and off by the caller."""

    def __init__(self, *, upstream_port: int, upstream_host: str = "127.0.0.1", port: int = 0) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.port = port
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0  # accepted so far (a client that reconnects shows up here)

    @property
    def frozen(self) -> int:
        return sum(not link.flowing.is_set() for link in self._links)

    async def __aenter__(self) -> FaultProxy:
        await self._listen()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close_listener()
        for link in list(self._links):
            link.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- faults --

    def freeze(self) -> int:
        """Stop every open connection from delivering anything; returns how many were frozen."""
        for link in self._links:
            link.flowing.clear()
        return len(self._links)

    def thaw(self) -> None:
        for link in self._links:
            link.flowing.set()

    async def refuse(self) -> None:
        """Reset every connection and refuse new ones until `accept()`."""
        await self._close_listener()
        for link in list(self._links):
            link.abort()

    async def accept(self) -> None:
        if self._server is None:
            await self._listen()

    # -- plumbing --

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            # wait_closed() would wait for every handler, frozen ones included.
            await asyncio.sleep(0)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_writer.transport.abort()
            return
        link = _Link(client_writer, upstream_writer)
        self._links.add(link)
        pumps = [
            asyncio.create_task(self._pump(client_reader, upstream_writer, link)),
            asyncio.create_task(self._pump(upstream_reader, client_writer, link)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._tasks.difference_update(pumps)
            self._links.discard(link)
            link.abort()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while True:
                # Frozen: neither read nor write, so the sender's data piles up unanswered.
                await link.flowing.wait()
                data = await reader.read(CHUNK)
                if not data:
                    return
                await link.flowing.wait()
                writer.write(data)
                await writer.drain()
