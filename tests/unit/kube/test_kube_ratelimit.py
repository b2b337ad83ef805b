"""The client-side QPS budget: a burst goes through at once, then callers are spaced by 1/qps."""

from __future__ import annotations

import pytest

from certcsi.kube._ratelimit import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_burst_then_spacing() -> None:
    clock = FakeTime()
    limiter = RateLimiter(qps=5, burst=2, monotonic=clock.monotonic, sleep=clock.sleep)
    for _ in range(4):
        await limiter.acquire()
    # Two from the burst, then the 3rd waits 0.2 s and the 4th 0.4 s (its reservation is behind the 3rd).
    assert clock.slept == pytest.approx([0.2, 0.4])


async def test_the_bucket_refills_with_time() -> None:
    clock = FakeTime()
    limiter = RateLimiter(qps=10, burst=1, monotonic=clock.monotonic, sleep=clock.sleep)
    await limiter.acquire()
    clock.now += 0.1
    await limiter.acquire()
    clock.now += 10  # a long pause refills only up to the burst
    await limiter.acquire()
    await limiter.acquire()
    assert clock.slept == pytest.approx([0.1])


async def test_zero_qps_is_unlimited() -> None:
    clock = FakeTime()
    limiter = RateLimiter(qps=0, burst=0, monotonic=clock.monotonic, sleep=clock.sleep)
    for _ in range(100):
        await limiter.acquire()
    assert clock.slept == []


def test_burst_must_be_positive_when_limited() -> None:
    with pytest.raises(ValueError, match="kube-api-burst"):
        RateLimiter(qps=5, burst=0)
