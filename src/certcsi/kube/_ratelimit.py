"""The client-side request budget (`--kube-api-qps`, `--kube-api-burst`), shared by every call.

A token bucket in the style of Go's `rate.Limiter.Wait`: a caller takes its token up front (the
balance may go negative) and sleeps until the bucket would have refilled to it. Callers are served
in arrival order, and no lock or background task is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """`qps` tokens a second, at most `burst` saved up; `qps <= 0` means unlimited."""

    def __init__(
        self,
        *,
        qps: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if burst < 1 and qps > 0:
            raise ValueError(f"kube-api-burst: must be at least 1 when kube-api-qps is set, got {burst}")
        self._qps = qps
        self._burst = float(max(burst, 1))
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = self._burst
        self._stamp = monotonic()

    async def acquire(self) -> None:
        if self._qps <= 0:
            return
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._qps)
        self._stamp = now
        self._tokens -= 1.0
        if self._tokens < 0:
            await self._sleep(-self._tokens / self._qps)
