"""Watch-fed caches and a deduplicating work queue: the informer pattern of client-go, in small.

cache = Informer(transport, "/apis/apps/v1/daemonsets", on_change=lambda obj: queue.add(key(obj)))
queue = WorkQueue(reconcile)      # reconcile(key) runs once per key at a time, again if re-added
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from certcsi.errors import KubernetesError
from certcsi.kube import Transport, watch

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class Informer:
    """The current objects of one collection, kept by a list-then-watch; `on_change(obj)` after each change."""

    def __init__(self, transport: Transport, path: str, *, on_change: Callable[[Obj], None]) -> None:
        self._transport = transport
        self._path = path
        self._on_change = on_change
        self.objects: dict[Key, Obj] = {}
        self.synced = asyncio.Event()

    async def run(self) -> None:
        async for event in watch(self._transport, self._path):
            if event.type == "SYNCED":
                self.synced.set()
                continue
            key = key_of(event.object)
            old = self.objects.get(key)
            if event.type == "DELETED":
                self.objects.pop(key, None)
            else:
                self.objects[key] = event.object
            if old is not None and event.type != "DELETED":
                self._on_change(old)  # what it was may matter too (labels or owner changed)
            self._on_change(event.object if event.type != "DELETED" else old or event.object)

    def values(self) -> Iterable[Obj]:
        return list(self.objects.values())

    def assume(self, obj: Obj | None, *, gone: Obj | None = None) -> None:
        """Record a write this process just made, before its watch event arrives (so it is not made twice)."""
        if obj is not None:
            self.objects[key_of(obj)] = obj
        elif gone is not None:
            self.objects.pop(key_of(gone), None)


class WorkQueue:
    """Keys to reconcile; a key added while it is being reconciled is reconciled again afterwards."""

    def __init__(self, reconcile: Callable[[Key], Awaitable[None]], *, retry_delay: float = 1.0) -> None:
        self._reconcile = reconcile
        self._retry_delay = retry_delay
        self._pending: dict[Key, None] = {}
        self._wake = asyncio.Event()

    def add(self, key: Key) -> None:
        self._pending[key] = None
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                key = next(iter(self._pending))
                del self._pending[key]
                try:
                    await self._reconcile(key)
                except KubernetesError as err:
                    log.warning("reconcile failed, will retry key=%s/%s error=%s", key[0], key[1], err)
                    asyncio.get_running_loop().call_later(self._retry_delay, self.add, key)
                except Exception:
                    log.exception("reconcile crashed key=%s/%s", key[0], key[1])
