"""A work queue of object keys, deduplicated like client-go's workqueue.

A key waits in the queue at most once however often it is added; a key being worked on is never
handed to a second worker, and if it is added meanwhile it is queued again when that work is done
(so the newest version is always looked at, and by one worker at a time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._ready: asyncio.Queue[K] = asyncio.Queue()
        self._waiting: set[K] = set()
        self._active: set[K] = set()
        self._again: set[K] = set()

    def add(self, key: K) -> None:
        if key in self._active:
            self._again.add(key)
        elif key not in self._waiting:
            self._waiting.add(key)
            self._ready.put_nowait(key)

    async def get(self) -> K:
        """The next key; the caller must call `done(key)` when finished with it."""
        key = await self._ready.get()
        self._waiting.discard(key)
        self._active.add(key)
        return key

    def done(self, key: K) -> None:
        self._active.discard(key)
        if key in self._again:
            self._again.discard(key)
            self.add(key)

    def __len__(self) -> int:
        """Keys waiting (not those being worked on)."""
        return len(self._waiting)
