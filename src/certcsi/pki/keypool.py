"""Private keys made ahead, off the event loop: a small in-memory pool per key type in use.

A type joins on first use; when keys taken bring it to half its size, one worker thread tops it up, so
an idle node spends nothing and a burst of pods finds keys ready. A key is handed out once and is
only ever in this process's memory: nothing is written, and a restart starts empty.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from certcsi.pki.keys import KeySpec, KeyType, PrivateKey, generate_private_key, key_type

__all__ = ["DEFAULT_POOL_SIZE", "MAX_POOL_SIZE", "KeyPool", "PoolStats"]

DEFAULT_POOL_SIZE = 8
# Keys per type: each one held costs memory and, once taken, a core's time to replace.
MAX_POOL_SIZE = 256
# Types kept at once: a node uses one or two; volumes asking for many RSA sizes must not grow it.
DEFAULT_MAX_TYPES = 8


@dataclass(frozen=True)
class PoolStats:
    """One key type as a metrics scrape sees it."""

    key_type: str
    ready: int
    pooled: int  # keys handed out from the pool
    on_demand: int  # keys made while the caller waited (the pool was empty)


class _Kind:
    """The keys ready for one type, and its counts."""

    def __init__(self, kind: KeyType) -> None:
        self.kind = kind
        self.ready: deque[PrivateKey] = deque()
        self.pooled = 0
        self.on_demand = 0


class KeyPool:
    """Implements `take(spec)`: a key from the pool, else one made now (RSA in a thread).

    Elliptic-curve keys made now are made inline: 10-150 µs, about what handing work to a thread
    costs (measured: P-256 12 µs, a thread hop 35 µs of CPU). RSA takes tens of milliseconds, which
    on the loop would stall every other call; OpenSSL's RSA key generation releases the GIL.
    """

    def __init__(
        self,
        *,
        size: int = DEFAULT_POOL_SIZE,
        max_types: int = DEFAULT_MAX_TYPES,
        generate: Callable[[KeyType], PrivateKey] = generate_private_key,
    ) -> None:
        if not 0 <= size <= MAX_POOL_SIZE or max_types < 1:
            raise ValueError(f"key pool: size must be from 0 to {MAX_POOL_SIZE} and max_types at least 1")
        self._size = size
        self._max_types = max_types
        self._generate = generate
        self._kinds: OrderedDict[KeyType, _Kind] = OrderedDict()  # least recently used first
        self._changed = threading.Condition()
        self._worker: threading.Thread | None = None
        self._now: ThreadPoolExecutor | None = None
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    async def take(self, spec: KeySpec) -> PrivateKey:
        """A key of `spec`'s type that nobody else has; ValueError naming the rule for a bad spec."""
        kind = key_type(spec)
        with self._changed:
            entry = self._entry(kind)
            key = entry.ready.popleft() if entry.ready else None
            if key is not None:
                entry.pooled += 1
            else:
                entry.on_demand += 1
            self._refill(entry)
        if key is not None:
            return key
        if kind.algorithm != "RSA":
            return self._generate(kind)
        return await asyncio.get_running_loop().run_in_executor(self._executor(), self._generate, kind)

    def stats(self) -> list[PoolStats]:
        with self._changed:
            return [PoolStats(str(e.kind), len(e.ready), e.pooled, e.on_demand) for e in self._kinds.values()]

    def close(self) -> None:
        """Drop every key and stop the worker (it finishes the key it is making, then discards it)."""
        with self._changed:
            self._closed = True
            self._kinds.clear()
            self._changed.notify_all()
        if self._now is not None:
            self._now.shutdown(wait=False, cancel_futures=True)
            self._now = None

    # -- under self._changed ------------------------------------------------------------------------

    def _entry(self, kind: KeyType) -> _Kind:
        entry = self._kinds.get(kind)
        if entry is None:
            entry = self._kinds[kind] = _Kind(kind)
            while len(self._kinds) > self._max_types:
                self._kinds.popitem(last=False)  # its keys go with it, never handed out
        else:
            self._kinds.move_to_end(kind)
        return entry

    def _refill(self, entry: _Kind) -> None:
        # Woken when a type falls to half its size, the worker refills it whole: one thread wake-up
        # per size/2 keys, not one per key (a wake-up costs more CPU than a P-256 key).
        if self._size == 0 or self._closed or len(entry.ready) > self._size // 2:
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._fill, name="certcsi-key-pool", daemon=True)
            self._worker.start()
        self._changed.notify()

    def _short(self) -> KeyType | None:
        """The most recently used type below `size`, if any."""
        for entry in reversed(self._kinds.values()):
            if len(entry.ready) < self._size:
                return entry.kind
        return None

    # -- the worker thread ----------------------------------------------------------------------------

    def _fill(self) -> None:
        while True:
            with self._changed:
                kind = None if self._closed else self._short()
                while kind is None and not self._closed:
                    self._changed.wait()
                    kind = None if self._closed else self._short()
                if kind is None:
                    return
            key = self._generate(kind)  # outside the lock: takers never wait for a key being made
            with self._changed:
                entry = self._kinds.get(kind)
                if entry is not None and len(entry.ready) < self._size:
                    entry.ready.append(key)

    def _executor(self) -> ThreadPoolExecutor:
        if self._now is None:
            self._now = ThreadPoolExecutor(max_workers=2, thread_name_prefix="certcsi-keygen")
        return self._now
