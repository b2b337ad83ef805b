"""FakeClock: time moves only on advance(), and timers and sleeps follow it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from certcsi.volumes.clock import FakeClock, SystemClock

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_now_and_monotonic_advance_together() -> None:
    clock = FakeClock(START)
    clock.advance(90.5)
    assert clock.now() == START + timedelta(seconds=90.5)
    assert clock.monotonic() == 90.5


def test_naive_start_and_negative_advance_refused() -> None:
    with pytest.raises(ValueError, match="start"):
        FakeClock(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="seconds"):
        FakeClock().advance(-1)


def test_timers_fire_in_deadline_order_at_their_own_time() -> None:
    clock = FakeClock(START)
    seen: list[tuple[str, float]] = []
    clock.call_later(3, lambda: seen.append(("c", clock.monotonic())))
    clock.call_later(1, lambda: seen.append(("a", clock.monotonic())))
    cancelled = clock.call_later(2, lambda: seen.append(("x", clock.monotonic())))
    clock.call_later(1, lambda: seen.append(("b", clock.monotonic())))
    cancelled.cancel()
    clock.advance(2.5)
    assert seen == [("a", 1.0), ("b", 1.0)]
    assert clock.pending_timers == 1
    clock.advance(1)
    assert seen[-1] == ("c", 3.0)
    assert clock.monotonic() == 3.5


async def test_sleep_waits_for_advance(settle: Callable[[], Awaitable[None]]) -> None:
    clock = FakeClock(START)
    task = asyncio.create_task(clock.sleep(10))
    await settle()
    clock.advance(9.9)
    await settle()
    assert not task.done()
    clock.advance(0.1)
    await settle()
    assert task.done()


async def test_cancelled_sleep_leaves_no_timer(settle: Callable[[], Awaitable[None]]) -> None:
    clock = FakeClock(START)
    task = asyncio.create_task(clock.sleep(10))
    await settle()
    task.cancel()
    await settle()
    assert clock.pending_timers == 0


async def test_system_clock_is_utc_and_sleeps() -> None:
    clock = SystemClock()
    assert clock.now().tzinfo is UTC
    before = clock.monotonic()
    await clock.sleep(0.01)
    fired = asyncio.Event()
    clock.call_later(0.01, fired.set)
    await asyncio.wait_for(fired.wait(), 1)
    assert clock.monotonic() - before >= 0.02
