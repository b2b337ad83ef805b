"""Time as the engine sees it: wall time, monotonic time, timers and sleeping, behind one protocol.

Everything time-based in `certcsi.volumes` (renewal timers, backoff, the issuance rate budget) takes
a `Clock`, so tests drive time with `FakeClock.advance()` instead of waiting for it.

Timers are part of the protocol (not just `now()`), because a fake `now()` is useless if sleeping
still waits on the real event loop: `call_later` and `sleep` must follow the same clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from certcsi.timestamps import require_aware

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Cancellable(Protocol):
    """A pending timer; `cancel()` is idempotent and harmless after it fired."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Wall time (aware, UTC), monotonic seconds, and timers that follow the same time."""

    def now(self) -> datetime:
        """The current wall time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; only differences are meaningful."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        """Run `callback` (synchronously, on the event loop) once `delay` seconds have passed."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for `seconds` of this clock's time."""
        ...


class SystemClock:
    """The real clock: `datetime.now(UTC)`, `time.monotonic()`, the running event loop's timers."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class _FakeTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when told to, for tests.

    `advance(seconds)` moves wall and monotonic time together and runs every timer that falls due,
    in deadline order (ties in creation order), each seeing `now()` equal to its own deadline.
    Tasks woken by those timers run at the test's next `await`.
    """

    def __init__(self, start: datetime = EPOCH) -> None:
        self._start = require_aware(start, name="start")
        self._elapsed = 0.0
        self._seq = itertools.count()
        self._timers: list[tuple[float, int, _FakeTimer]] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        timer = _FakeTimer(callback)
        heapq.heappush(self._timers, (self._elapsed + max(0.0, delay), next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await future
        finally:
            timer.cancel()

    @property
    def pending_timers(self) -> int:
        """Timers not yet fired nor cancelled (lets a test check that something is waiting)."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (≥ 0), firing every timer that falls due on the way."""
        if seconds < 0:
            raise ValueError("seconds: must not be negative (time never goes backwards)")
        target = self._elapsed + seconds
        while self._timers and self._timers[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._elapsed = max(self._elapsed, deadline)
            timer.cancelled = True
            timer.callback()
        self._elapsed = target
