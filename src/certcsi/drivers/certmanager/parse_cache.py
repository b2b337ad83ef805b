"""Parsed attributes kept per volume, so an issuance's callbacks parse its context once.

One entry per volume, replaced when its context changes and dropped when the engine forgets the
volume (unpublished, or its first publish failed). A parse that raises is never kept. The total
size of the contexts kept is bounded: past `max_bytes` the least recently used entries go (they are
parsed again when next needed), so a flood of huge contexts cannot grow the driver's memory.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ContextKey", "ParseCache"]

ContextKey = tuple[tuple[tuple[str, str], ...], str | None]  # (sorted context items, pod IP)
T = TypeVar("T")


def _size(key: ContextKey) -> int:
    items, pod_ip = key
    return sum(len(k) + len(v) for k, v in items) + len(pod_ip or "")


class ParseCache(Generic[T]):
    """A per-volume memo of `parse(key)` whose kept contexts hold at most `max_bytes` characters in all."""

    def __init__(self, parse: Callable[[ContextKey], T], *, max_bytes: int) -> None:
        self._parse = parse
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[ContextKey, T, int]] = OrderedDict()
        self._bytes = 0

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def get(self, volume_id: str, key: ContextKey) -> T:
        """The parse of `key` for this volume: kept from before, or parsed now (a raise keeps nothing)."""
        entry = self._entries.get(volume_id)
        if entry is not None and entry[0] == key:
            self._entries.move_to_end(volume_id)
            return entry[1]
        value = self._parse(key)
        self.forget(volume_id)
        size = _size(key)
        if size <= self._max_bytes:
            self._entries[volume_id] = (key, value, size)
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, (_, _, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted
        return value

    def forget(self, volume_id: str) -> None:
        entry = self._entries.pop(volume_id, None)
        if entry is not None:
            self._bytes -= entry[2]
