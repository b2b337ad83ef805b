"""The work queue's rate limiter: client-go's per-key exponential backoff, maxed with one shared bucket."""

from __future__ import annotations

import pytest

from certcsi.approver.queueing import RateLimiter, RateLimits
from certcsi.volumes.clock import FakeClock


def _limiter(clock: FakeClock, limits: RateLimits | None = None) -> RateLimiter[str]:
    return RateLimiter(limits or RateLimits(), monotonic=clock.monotonic)


def test_the_defaults_are_client_gos_controller_rate_limiter() -> None:
    assert RateLimits() == RateLimits(base_delay=0.005, max_delay=1000.0, qps=10.0, burst=100)


def test_one_key_doubles_from_five_milliseconds_up_to_the_cap() -> None:
    limiter = _limiter(FakeClock())
    delays = [limiter.when("a") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[17] == pytest.approx(655.36)
    assert delays[18:] == [1000.0, 1000.0]
    assert limiter.failures("a") == 20


def test_keys_back_off_independently_and_forget_starts_over() -> None:
    limiter = _limiter(FakeClock())
    limiter.when("a")
    limiter.when("a")
    assert limiter.when("b") == 0.005
    limiter.forget("a")
    assert limiter.when("a") == 0.005


def test_the_shared_bucket_lets_a_burst_through_then_ten_a_second() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    first_tries = [limiter.when(f"key-{n}") for n in range(100)]
    assert set(first_tries) == {0.005}
    assert limiter.when("key-100") == pytest.approx(0.1)  # the bucket, not the key's 5 ms, decides
    assert limiter.when("key-101") == pytest.approx(0.2)
    clock.advance(10.0)  # refilled: 100 tokens again, minus the two borrowed
    assert limiter.when("key-102") == 0.005


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="base_delay"):
        RateLimits(base_delay=0.0)
    with pytest.raises(ValueError, match="qps and burst"):
        RateLimits(qps=0.0)
