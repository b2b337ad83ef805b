"""A rate-limited work queue of object keys, with client-go's workqueue semantics and metrics hooks.

- A key waits in the queue at most once however often it is added; a key being worked on is never
  handed to a second worker, and if it is added meanwhile it is queued again when that work is done
  (so the newest version is always looked at, and by one worker at a time).
- Two priorities, as controller-runtime's priority queue: `low=True` for keys that only need a
  look (the initial listing, a takeover's re-queue, retries), taken after every normal key, so a
  request created now is not stuck behind a backlog of old ones.
- `add_rate_limited` delays a key by client-go's default controller rate limiter: the larger of a
  per-key exponential backoff (5 ms doubling per failure up to 1000 s) and one token bucket shared
  by every key (10 per second, bursts of 100), so a flood of failing keys cannot spin the workers.
  `forget` resets a key's backoff (call it when the key was handled).

Counters and histograms go to a `QueueObserver`; the gauges (depth, unfinished work, longest
running processor) are read from the queue when scraped, so the queue runs no timer of its own.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from certcsi.volumes.clock import Cancellable, Clock

__all__ = ["QueueObserver", "RateLimiter", "RateLimits", "WorkQueue"]

K = TypeVar("K", bound=Hashable)

_NORMAL, _LOW = 0, 1


@dataclass(frozen=True)
class RateLimits:
    """client-go's `DefaultTypedControllerRateLimiter`, which controller-runtime controllers use."""

    base_delay: float = 0.005
    max_delay: float = 1000.0
    # The shared bucket: retries per second overall, and how many may go at once.
    qps: float = 10.0
    burst: int = 100

    def __post_init__(self) -> None:
        if not 0 < self.base_delay <= self.max_delay:
            raise ValueError(f"base_delay: must be positive and at most max_delay, got {self.base_delay}")
        if self.qps <= 0 or self.burst < 1:
            raise ValueError(f"qps and burst: must be positive, got {self.qps} and {self.burst}")


class RateLimiter(Generic[K]):
    """How long a failed key waits before its next try: max(per-key exponential, shared bucket)."""

    def __init__(self, limits: RateLimits, *, monotonic: Callable[[], float]) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._failures: dict[K, int] = {}
        self._tokens = float(limits.burst)
        self._refilled = monotonic()

    def when(self, key: K) -> float:
        """The delay for this failure of `key` (and one more failure counted)."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        limits = self.limits
        # 2**n overflows float long after the cap is reached; stop doubling there.
        backoff = min(limits.max_delay, limits.base_delay * 2.0 ** min(failures, 64))
        return max(backoff, self._reserve())

    def _reserve(self) -> float:
        # golang.org/x/time/rate's Reserve: a token is always taken; a negative balance is a wait.
        now = self._monotonic()
        limits = self.limits
        self._tokens = min(float(limits.burst), self._tokens + (now - self._refilled) * limits.qps)
        self._refilled = now
        self._tokens -= 1.0
        return max(0.0, -self._tokens / limits.qps)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def count_failure(self, key: K) -> None:
        """A failure retried at once, outside the limiter: the next one backs off as the second."""
        self._failures[key] = self._failures.get(key, 0) + 1

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)


class QueueObserver(Protocol):
    """What the queue reports as it goes (client-go's workqueue metrics provider)."""

    def added(self) -> None:
        """A key was added that was not already waiting (`workqueue_adds_total`)."""

    def waited(self, seconds: float) -> None:
        """A key was handed to a worker after waiting this long (`workqueue_queue_duration_seconds`)."""

    def worked(self, seconds: float) -> None:
        """A worker finished a key after this long (`workqueue_work_duration_seconds`)."""

    def retried(self) -> None:
        """A key was put back with a delay (`workqueue_retries_total`)."""


class WorkQueue(Generic[K]):
    def __init__(
        self,
        *,
        clock: Clock,
        limits: RateLimits | None = None,
        observer: QueueObserver | None = None,
    ) -> None:
        self._clock = clock
        self.limiter: RateLimiter[K] = RateLimiter(limits or RateLimits(), monotonic=clock.monotonic)
        self._observer = observer
        self._lanes: tuple[deque[K], deque[K]] = (deque(), deque())
        self._ready = asyncio.Semaphore(0)  # one permit per waiting key
        self._waiting: dict[K, int] = {}  # key -> its lane
        self._again: dict[K, int] = {}  # added while being worked on -> lane to requeue it in
        self._active: dict[K, float] = {}  # key -> when a worker took it (monotonic)
        self._added_at: dict[K, float] = {}
        self._delayed: dict[K, tuple[float, Cancellable]] = {}

    # -- adding ---------------------------------------------------------------------------------------

    def add(self, key: K, *, low: bool = False) -> None:
        lane = _LOW if low else _NORMAL
        if key in self._active:
            known = key in self._again
            self._again[key] = min(lane, self._again.get(key, _LOW))
            if not known:
                self._note_added(key)
            return
        current = self._waiting.get(key)
        if current is None:
            self._note_added(key)
            self._waiting[key] = lane
            self._lanes[lane].append(key)
            self._ready.release()
        elif lane < current:  # raised to normal: the stale low entry is skipped when reached
            self._waiting[key] = lane
            self._lanes[lane].append(key)

    def add_after(self, key: K, delay: float, *, low: bool = True) -> None:
        """Add `key` once `delay` seconds have passed (an earlier pending add wins)."""
        if self._observer is not None:
            self._observer.retried()
        due = self._clock.monotonic() + delay
        pending = self._delayed.get(key)
        if pending is not None:
            if pending[0] <= due:
                return
            pending[1].cancel()

        def fire() -> None:
            self._delayed.pop(key, None)
            self.add(key, low=low)

        self._delayed[key] = (due, self._clock.call_later(delay, fire))

    def add_rate_limited(self, key: K) -> float:
        """Add `key` after the rate limiter's delay for it; that delay."""
        delay = self.limiter.when(key)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """`key` was handled: its next failure starts the backoff afresh."""
        self.limiter.forget(key)

    def discard(self, key: K) -> None:
        """Drop a pending delayed add and the backoff of `key` (the object is gone)."""
        pending = self._delayed.pop(key, None)
        if pending is not None:
            pending[1].cancel()
        self.limiter.forget(key)

    def _note_added(self, key: K) -> None:
        self._added_at.setdefault(key, self._clock.monotonic())
        if self._observer is not None:
            self._observer.added()

    # -- working --------------------------------------------------------------------------------------

    async def get(self) -> K:
        """The next key (normal before low); the caller must call `done(key)` when finished with it."""
        await self._ready.acquire()
        for lane, keys in enumerate(self._lanes):
            while keys:
                key = keys.popleft()
                if self._waiting.get(key) == lane:
                    del self._waiting[key]
                    return self._start(key)
        raise AssertionError("a permit without a waiting key")  # unreachable: one permit per waiting key

    def _start(self, key: K) -> K:
        now = self._clock.monotonic()
        self._active[key] = now
        added = self._added_at.pop(key, now)
        if self._observer is not None:
            self._observer.waited(now - added)
        return key

    def done(self, key: K) -> None:
        started = self._active.pop(key, None)
        if started is not None and self._observer is not None:
            self._observer.worked(self._clock.monotonic() - started)
        lane = self._again.pop(key, None)
        if lane is not None:
            self._added_at.setdefault(key, self._clock.monotonic())
            self._waiting[key] = lane
            self._lanes[lane].append(key)
            self._ready.release()

    def close(self) -> None:
        """Cancel every delayed add (the queue's owner is stopping)."""
        for _, timer in self._delayed.values():
            timer.cancel()
        self._delayed.clear()

    # -- what the gauges read -------------------------------------------------------------------------

    def __len__(self) -> int:
        """Keys waiting, including those re-added while being worked on (`workqueue_depth`)."""
        return len(self._waiting) + len(self._again)

    def running_for(self) -> list[float]:
        """Seconds each key being worked on has been worked on so far."""
        now = self._clock.monotonic()
        return [now - started for started in self._active.values()]
