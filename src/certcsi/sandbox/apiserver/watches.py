"""Watches on the store: one queue per watcher, each change offered to the watchers of its type (and, for
selector watches, only to those whose label the object carries), events serialised once for all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from certcsi.sandbox.apiserver.encoding import encode
from certcsi.sandbox.apiserver.labelselectors import Requirement
from certcsi.sandbox.apiserver.listoptions import INITIAL_EVENTS_END
from certcsi.sandbox.apiserver.objects import Obj
from certcsi.sandbox.apiserver.resources import ResourceType


class WatchHost(Protocol):
    """What a watch needs of its store: the current version, and to be let go of."""

    resource_version: int

    def _unregister(self, w: Watch) -> None: ...


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: Obj
    _line: bytes | None = field(default=None, repr=False)

    def line(self) -> bytes:
        """The event as one JSON line, serialised once however many watchers receive it."""
        if self._line is None:
            self._line = encode({"type": self.type, "object": self.object}) + b"\n"
        return self._line


@dataclass
class Change:
    rv: int
    key: str
    type: str
    obj: Obj
    old: Obj | None
    event: WatchEvent | None = None  # shared by all watchers that see the change as its own type


class Watch:
    """One watcher: an async iterator of events; `close()` ends it."""

    def __init__(
        self,
        store: WatchHost,
        rt: ResourceType,
        namespace: str | None,
        match: Callable[[Obj], bool],
        *,
        index: tuple[str, str] | None = None,
    ) -> None:
        self._store = store
        self.rt = rt
        self.namespace = namespace
        self.match = match
        # A label (key, value) every matching object carries: lets the store skip this watcher for
        # changes to objects that carry neither it now nor before.
        self.index = index
        self.queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        self.closed = False

    def offer(self, change: Change) -> None:
        if self.namespace is not None and change.obj["metadata"].get("namespace") != self.namespace:
            return
        now_in = self.match(change.obj)
        was_in = change.old is not None and self.match(change.old)
        if change.type == "DELETED":
            kind = "DELETED" if now_in else None
        elif change.type == "ADDED":
            kind = "ADDED" if now_in else None
        elif now_in:
            kind = "MODIFIED" if was_in else "ADDED"
        else:
            kind = "DELETED" if was_in else None
        if kind is None:
            return
        if kind == change.type:
            if change.event is None:
                change.event = WatchEvent(kind, change.obj)
            self.queue.put_nowait(change.event)
        else:
            self.queue.put_nowait(WatchEvent(kind, change.obj))

    def bookmark(self, *, initial_events_end: bool = False) -> None:
        """Queue a BOOKMARK at the store's current version: every earlier event is already queued. The one
        after a replay of the current state says so (WatchList clients wait for it)."""
        metadata: Obj = {"resourceVersion": str(self._store.resource_version)}
        if initial_events_end:
            metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": metadata}
        self.queue.put_nowait(WatchEvent("BOOKMARK", obj))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._store._unregister(self)
            self.queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self

    async def __anext__(self) -> WatchEvent:
        event = await self.queue.get()
        if event is None:
            raise StopAsyncIteration
        return event


def label_index(labels: tuple[Requirement, ...]) -> tuple[str, str] | None:
    for req in labels:
        if req.op in ("=", "in") and len(req.values) == 1:
            return req.key, next(iter(req.values))
    return None


def indexed_candidates(by_label: Mapping[tuple[str, str], set[Watch]], change: Change) -> list[Watch]:
    """The indexed watchers whose label the changed object carries, now or before the change."""
    found: set[Watch] = set()
    for obj in (change.obj, change.old):
        labels = obj["metadata"].get("labels") if obj is not None else None
        if not isinstance(labels, Mapping):
            continue
        for key, value in labels.items():
            if isinstance(value, str) and (watchers := by_label.get((key, value))):
                found.update(watchers)
    return list(found)
