"""One volume's credentials as its open streams follow them: the latest only, read once per change.

A change (new files written, CA bundle rewritten) only marks the cached credentials stale and wakes
the streams; the first stream to look reads the files again, and every stream sends that one
result. A stream that is still sending when two changes come skips to the latest: nothing queues
up behind a client that does not read, so what a volume holds in memory is bounded whatever its
clients do. The private key stays in memory only while some stream is open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

from certcsi.drivers.spiffe.workload.reading import Credentials

__all__ = ["Feed", "StreamsExhausted"]


class StreamsExhausted(Exception):
    """The volume already has as many open streams as it may."""


class Feed:
    def __init__(self, read: Callable[[], Credentials], *, max_streams: int) -> None:
        self._read = read
        self._max_streams = max_streams
        self._cached: Credentials | None = None
        self._changed = asyncio.Event()
        self.streams = 0
        self.closed = False

    def changed(self) -> None:
        """The volume's files changed: every stream re-reads and, if its answer differs, sends it."""
        self._cached = None
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def close(self) -> None:
        """The volume is going away: wake every stream so that it ends."""
        self.closed = True
        self.changed()

    def current(self) -> Credentials:
        if self._cached is None:
            self._cached = self._read()
        return self._cached

    async def follow(self) -> AsyncIterator[Credentials]:
        """The credentials now, then again after each change, until the feed is closed."""
        while not self.closed:
            waiter = self._changed
            yield self.current()
            await waiter.wait()

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        """Hold one of the volume's stream slots; StreamsExhausted when none is free."""
        if self.streams >= self._max_streams:
            raise StreamsExhausted(f"this volume already has {self.streams} open Workload API streams")
        self.streams += 1
        try:
            yield
        finally:
            self.streams -= 1
            if self.streams == 0:
                self._cached = None
