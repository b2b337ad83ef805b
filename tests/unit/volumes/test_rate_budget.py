"""RateBudget: burst at once, then qps per second, first come first served."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from certcsi.volumes.clock import FakeClock
from certcsi.volumes.schedule import RateBudget

Settle = Callable[[], Awaitable[None]]


async def test_burst_then_rate(settle: Settle) -> None:
    clock = FakeClock()
    budget = RateBudget(qps=2, burst=3, clock=clock)
    for _ in range(3):
        await asyncio.wait_for(budget.acquire(), 0.1)
    fourth = asyncio.create_task(budget.acquire())
    await settle()
    assert not fourth.done()
    clock.advance(0.49)
    await settle()
    assert not fourth.done()
    clock.advance(0.01)
    await settle()
    assert fourth.done()


async def test_waiters_served_in_order(settle: Settle) -> None:
    clock = FakeClock()
    budget = RateBudget(qps=1, burst=1, clock=clock)
    await budget.acquire()
    order: list[int] = []

    async def take(i: int) -> None:
        await budget.acquire()
        order.append(i)

    tasks = [asyncio.create_task(take(i)) for i in range(3)]
    await settle()
    for expected in ([0], [0, 1], [0, 1, 2]):
        clock.advance(1)
        await settle()
        assert order == expected
    await asyncio.gather(*tasks)


async def test_idle_refills_only_to_burst(settle: Settle) -> None:
    clock = FakeClock()
    budget = RateBudget(qps=10, burst=2, clock=clock)
    clock.advance(3600)
    assert budget.try_acquire()
    assert budget.try_acquire()
    assert not budget.try_acquire()


async def test_cancelled_waiter_takes_no_token(settle: Settle) -> None:
    clock = FakeClock()
    budget = RateBudget(qps=1, burst=1, clock=clock)
    await budget.acquire()
    waiter = asyncio.create_task(budget.acquire())
    await settle()
    waiter.cancel()
    await settle()
    clock.advance(1)
    assert budget.try_acquire()


async def test_try_acquire_does_not_jump_the_queue(settle: Settle) -> None:
    clock = FakeClock()
    budget = RateBudget(qps=1, burst=1, clock=clock)
    await budget.acquire()
    waiter = asyncio.create_task(budget.acquire())
    await settle()
    assert not budget.try_acquire()
    clock.advance(1)
    await settle()
    assert waiter.done()


@pytest.mark.parametrize(("qps", "burst", "field"), [(0, 1, "qps"), (-1, 1, "qps"), (1, 0, "burst")])
def test_invalid_parameters(qps: float, burst: int, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RateBudget(qps=qps, burst=burst, clock=FakeClock())
