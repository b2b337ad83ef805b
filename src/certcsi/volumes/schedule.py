"""When to renew, and how the engine waits for it: renewal math, jitter, backoff, a rate budget, timers.

All renewals of a node share ONE `Scheduler` (one heap, one sleeping task): an idle node does no
work at all, unlike upstream's polling task per volume. Time comes from an injected `Clock`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from certcsi.timestamps import require_aware
from certcsi.volumes.clock import Cancellable, Clock

logger = logging.getLogger(__name__)

# --- renewal math ----------------------------------------------------------------------------------


def default_renewal_time(not_before: datetime, not_after: datetime) -> datetime:
    """Renew when two thirds of the lifetime have passed: NotAfter - (NotAfter - NotBefore)/3."""
    return not_after - (not_after - not_before) / 3


def renew_before_time(not_before: datetime, not_after: datetime, renew_before: timedelta) -> datetime:
    """csi-driver's `renew-before`: NotAfter - d when that still leaves NotBefore + d < NotAfter.

    A `renew-before` as long as the whole lifetime (or longer) would mean renewing at once, forever;
    upstream falls back to the default two-thirds rule then, and so do we.
    """
    if not_before + renew_before < not_after:
        return not_after - renew_before
    return default_renewal_time(not_before, not_after)


def jittered(
    t: datetime,
    *,
    not_before: datetime,
    not_after: datetime,
    fraction: float = 0.05,
    rng: random.Random | None = None,
) -> datetime:
    """Pull the renewal time `t` earlier by a random amount, so pods created together renew apart.

    Rule: with L = NotAfter - NotBefore and u uniform in [0, 1),
    result = max(t - u·fraction·L, min(t, NotBefore + L/2)).
    So the result is never later than `t`, never more than `fraction` of the lifetime earlier, and
    never pulled before the certificate's half-life (a `t` already earlier than that is returned as
    is). A certificate with no positive lifetime returns `t` unchanged.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction: must be in [0, 1) (got {fraction})")
    lifetime = not_after - not_before
    if lifetime <= timedelta(0):
        return t
    u = (rng or random).random()
    floor = min(t, not_before + lifetime / 2)
    return max(t - lifetime * (u * fraction), floor)


# --- backoff ---------------------------------------------------------------------------------------

MIN_DELAY = 1e-3


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: attempt n (1-based) waits about min(cap, base·factor^(n-1)) seconds.

    Jitter pulls each delay DOWN by a uniform fraction up to `jitter` (so 0.5 gives a delay in
    (d/2, d]). Upstream's wait.Backoff adds jitter upwards instead, which lets delays overshoot the
    cap; downwards keeps `cap` a true maximum while still spreading retries that started together.
    A delay is never below MIN_DELAY, even with jitter 1: a zero delay would spin.
    """

    base: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    cap: float = 300.0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("base, cap: need 0 < base <= cap")
        if self.factor < 1.0:
            raise ValueError(f"factor: must be >= 1 (got {self.factor})")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter: must be in [0, 1] (got {self.jitter})")

    def next(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `attempt`-th consecutive failure (attempt ≥ 1)."""
        if attempt < 1:
            raise ValueError(f"attempt: must be >= 1 (got {attempt})")
        # Compare logarithms first: factor**n overflows a float after a long outage.
        exponent = attempt - 1
        if exponent * math.log(self.factor) >= math.log(self.cap / self.base):
            delay = self.cap
        else:
            delay = self.base * self.factor**exponent
        return max(delay * (1.0 - self.jitter * (rng or random).random()), MIN_DELAY)


# After a failed issuance (csi-lib's numbers).
RENEWAL_BACKOFF = Backoff(base=30.0, factor=2.0, jitter=0.5, cap=300.0)
# While the driver says "not ready to request" (e.g. no SPIFFE issuer configured yet): short, so a
# pod starts soon after the condition clears; a little jitter so waiting volumes do not poll in step.
NOT_READY_BACKOFF = Backoff(base=1.0, factor=2.0, jitter=0.2, cap=10.0)


# --- rate budget -----------------------------------------------------------------------------------


class RateBudget:
    """A token bucket shared by every volume: at most `burst` at once, then `qps` per second.

    It caps how fast the node creates CertificateRequests (`--kube-api-qps` / `--kube-api-burst`),
    so a node full of pods created together does not flood the API server. Waiters are served in
    arrival order; a waiter cancelled while waiting takes no token.
    """

    def __init__(self, *, qps: float, burst: int, clock: Clock) -> None:
        if not qps > 0:
            raise ValueError(f"qps: must be > 0 (got {qps})")
        if burst < 1:
            raise ValueError(f"burst: must be >= 1 (got {burst})")
        self._qps = qps
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(float(self._burst), self._tokens + (now - self._stamp) * self._qps)
        self._stamp = now

    def try_acquire(self) -> bool:
        """Take a token if one is free right now and nobody is queued ahead."""
        if self._lock.locked():
            return False
        self._refill()
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    async def acquire(self) -> None:
        """Wait for a token and take it."""
        async with self._lock:
            self._refill()
            if self._tokens < 1.0:
                await self._clock.sleep((1.0 - self._tokens) / self._qps)
                self._refill()
            # After the exact wait float rounding may leave 0.999…; the small debt is repaid next refill.
            self._tokens -= 1.0


# --- the scheduler ---------------------------------------------------------------------------------

Fire = Callable[[str], Awaitable[None]]
Gate = Callable[[], Awaitable[None]]


@dataclass(frozen=True, order=True)
class _Entry:
    when: datetime
    seq: int
    key: str


class Scheduler:
    """One timer per key on one heap, served by one task that sleeps until the earliest deadline.

    - `schedule(key, when)` sets (or replaces) the key's timer; `cancel(key)` removes it.
    - When a timer falls due the key is removed and `await fire(key)` runs in its own short-lived
      task, at most `concurrency` at a time; further due keys wait for a free slot.
    - A key never fires twice at once: if it falls due while its previous `fire` still runs, it fires
      again right after that one returns (unless rescheduled or cancelled meanwhile).
    - An exception from `fire` is logged with the key and otherwise ignored; the key is not
      rescheduled, so `fire` should schedule its own retry.
    - Deadlines are wall-clock times. The loop never sleeps longer than `max_sleep` in one go, so a
      jump of the system clock (or a suspended VM, whose monotonic clock stops) is noticed soon.
    - With a `gate`, nothing fires until `await gate()` returns; it is awaited before every fire, so
      keys that fall due while it holds fire afterwards, earliest deadline first.

    Methods other than `start`/`stop` are synchronous and may be called from any coroutine on the
    loop, including from `fire` itself.
    """

    def __init__(
        self,
        *,
        fire: Fire,
        clock: Clock,
        concurrency: int = 8,
        max_sleep: float = 60.0,
        gate: Gate | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency: must be >= 1 (got {concurrency})")
        if max_sleep <= 0:
            raise ValueError(f"max_sleep: must be > 0 (got {max_sleep})")
        self._fire = fire
        self._gate = gate
        self._clock = clock
        self._max_sleep = max_sleep
        self._slots = asyncio.Semaphore(concurrency)
        self._heap: list[_Entry] = []
        self._live: dict[str, _Entry] = {}
        self._seq = itertools.count()
        self._running: set[str] = set()
        self._refire: set[str] = set()
        self._fire_tasks: set[asyncio.Task[None]] = set()
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the public, synchronous surface --

    def schedule(self, key: str, when: datetime) -> None:
        """Fire `key` at `when` (aware datetime), replacing any timer the key had."""
        entry = _Entry(require_aware(when, name="when"), next(self._seq), key)
        self._live[key] = entry
        self._refire.discard(key)
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:
            self._wake()
        self._compact()

    def cancel(self, key: str) -> None:
        """Forget the key's timer (and a pending re-fire); a `fire` already running is not interrupted."""
        self._live.pop(key, None)
        self._refire.discard(key)

    def next_time(self, key: str) -> datetime | None:
        """When `key` will fire, or None when it has no timer."""
        entry = self._live.get(key)
        return None if entry is None else entry.when

    def __len__(self) -> int:
        """Keys with a timer."""
        return len(self._live)

    @property
    def firing(self) -> frozenset[str]:
        """Keys whose `fire` is running now."""
        return frozenset(self._running)

    # -- lifecycle --

    def start(self) -> None:
        """Start the loop task (on the running event loop); timers set before `start` are kept."""
        if self._task is not None:
            raise RuntimeError("Scheduler already started")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="certcsi-scheduler")

    async def stop(self) -> None:
        """Stop the loop and cancel every `fire` still running; timers are kept but no longer fire."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        pending = list(self._fire_tasks)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- internals --

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _compact(self) -> None:
        # Replaced and cancelled entries stay in the heap until they surface; rebuild when they
        # dominate, so a node republishing every minute does not grow the heap without bound.
        if len(self._heap) > 2 * len(self._live) + 64:
            self._heap = list(self._live.values())
            heapq.heapify(self._heap)

    def _head(self) -> _Entry | None:
        while self._heap and self._live.get(self._heap[0].key) is not self._heap[0]:
            heapq.heappop(self._heap)
        return self._heap[0] if self._heap else None

    async def _sleep(self, seconds: float | None) -> None:
        """Sleep `seconds` (None: indefinitely) or until `_wake()`; needs no extra task."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        timer: Cancellable | None = None
        if seconds is not None:
            timer = self._clock.call_later(seconds, self._wake)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _due(self) -> _Entry | None:
        head = self._head()
        if head is not None and head.when <= self._clock.now():
            return head
        return None

    async def _run(self) -> None:
        while True:
            head = self._head()
            if head is None:
                await self._sleep(None)
                continue
            delay = (head.when - self._clock.now()).total_seconds()
            if delay > 0:
                await self._sleep(min(delay, self._max_sleep))
                continue
            await self._slots.acquire()
            if self._gate is not None:
                try:
                    await self._gate()
                except BaseException:
                    self._slots.release()
                    raise
            # The heap may have changed while we waited for a slot (or the gate).
            entry = self._due()
            if entry is None:
                self._slots.release()
                continue
            heapq.heappop(self._heap)
            del self._live[entry.key]
            if entry.key in self._running:
                self._refire.add(entry.key)
                self._slots.release()
                continue
            self._start_fire(entry.key)

    def _start_fire(self, key: str) -> None:
        self._running.add(key)
        task = asyncio.get_running_loop().create_task(self._fire_one(key), name=f"certcsi-fire:{key}")
        self._fire_tasks.add(task)
        task.add_done_callback(self._fire_tasks.discard)

    async def _fire_one(self, key: str) -> None:
        try:
            await self._fire(key)
        except Exception:
            logger.exception("scheduled callback failed: key=%s", key)
        finally:
            self._slots.release()
            self._running.discard(key)
            if key in self._refire:
                self._refire.discard(key)
                if key not in self._live:
                    self.schedule(key, self._clock.now())
