"""Scheduler: one heap, one task; order, replace, cancel, bounded concurrency, survives failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from certcsi.volumes.clock import FakeClock
from certcsi.volumes.schedule import Scheduler

START = datetime(2024, 1, 1, tzinfo=UTC)
Settle = Callable[[], Awaitable[None]]


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


class Recorder:
    """A fire callback that records keys; optionally blocks or raises per key."""

    def __init__(self) -> None:
        self.fired: list[str] = []
        self.running = 0
        self.peak = 0
        self.gate: asyncio.Event | None = None
        self.raise_for: set[str] = set()

    async def __call__(self, key: str) -> None:
        self.fired.append(key)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if key in self.raise_for:
                raise RuntimeError(f"boom for {key}")
        finally:
            self.running -= 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
async def sched(clock: FakeClock, rec: Recorder) -> AsyncIterator[Scheduler]:
    s = Scheduler(fire=rec, clock=clock, concurrency=3)
    s.start()
    yield s
    await s.stop()


async def test_thousand_keys_one_task_one_timer(sched: Scheduler, clock: FakeClock, settle: Settle) -> None:
    for i in range(1000):
        sched.schedule(f"vol-{i}", at(100 + i))
    await settle()
    assert len(asyncio.all_tasks()) == 2  # this test and the scheduler
    assert clock.pending_timers == 1
    assert len(sched) == 1000


async def test_fires_in_deadline_order(sched: Scheduler, clock: FakeClock, rec: Recorder, settle: Settle) -> None:
    for key, when in (("c", 3), ("a", 1), ("b", 2), ("a2", 1)):
        sched.schedule(key, at(when))
    await settle()
    clock.advance(0.99)
    await settle()
    assert rec.fired == []
    clock.advance(10)
    await settle()
    assert rec.fired == ["a", "a2", "b", "c"]
    assert len(sched) == 0


async def test_past_deadline_fires_at_once(sched: Scheduler, rec: Recorder, settle: Settle) -> None:
    sched.schedule("late", at(-3600))
    await settle()
    assert rec.fired == ["late"]


async def test_earlier_timer_wakes_the_sleeper(
    sched: Scheduler, clock: FakeClock, rec: Recorder, settle: Settle
) -> None:
    sched.schedule("far", at(1000))
    await settle()
    sched.schedule("near", at(1))
    await settle()
    clock.advance(1)
    await settle()
    assert rec.fired == ["near"]


async def test_reschedule_replaces(sched: Scheduler, clock: FakeClock, rec: Recorder, settle: Settle) -> None:
    sched.schedule("k", at(10))
    sched.schedule("k", at(5))
    sched.schedule("j", at(5))
    sched.schedule("j", at(20))
    assert sched.next_time("k") == at(5)
    assert sched.next_time("j") == at(20)
    await settle()
    clock.advance(15)
    await settle()
    assert rec.fired == ["k"]
    clock.advance(10)
    await settle()
    assert rec.fired == ["k", "j"]


async def test_cancel(sched: Scheduler, clock: FakeClock, rec: Recorder, settle: Settle) -> None:
    sched.schedule("k", at(5))
    sched.cancel("k")
    sched.cancel("never-scheduled")
    assert sched.next_time("k") is None
    assert len(sched) == 0
    clock.advance(10)
    await settle()
    assert rec.fired == []


async def test_failure_is_logged_and_loop_survives(
    sched: Scheduler, clock: FakeClock, rec: Recorder, settle: Settle, caplog: pytest.LogCaptureFixture
) -> None:
    rec.raise_for = {"bad"}
    sched.schedule("bad", at(1))
    sched.schedule("good", at(2))
    with caplog.at_level(logging.ERROR, logger="certcsi.volumes.schedule"):
        clock.advance(5)
        await settle()
    assert rec.fired == ["bad", "good"]
    assert "key=bad" in caplog.text
    sched.schedule("again", at(6))
    clock.advance(1)
    await settle()
    assert rec.fired[-1] == "again"


async def test_concurrency_is_bounded(sched: Scheduler, clock: FakeClock, rec: Recorder, settle: Settle) -> None:
    rec.gate = asyncio.Event()
    for i in range(20):
        sched.schedule(f"k{i}", at(1))
    clock.advance(1)
    await settle()
    assert rec.running == 3
    assert len(sched.firing) == 3
    rec.gate.set()
    await settle()
    assert len(rec.fired) == 20
    assert rec.peak == 3


async def test_key_never_fires_twice_at_once(sched: Scheduler, clock: FakeClock, rec: Recorder, settle: Settle) -> None:
    rec.gate = asyncio.Event()
    sched.schedule("k", at(1))
    clock.advance(1)
    await settle()
    sched.schedule("k", at(1))  # due again while still running
    await settle()
    assert rec.fired == ["k"]
    assert rec.peak == 1
    rec.gate.set()
    await settle()
    assert rec.fired == ["k", "k"]
    assert rec.peak == 1


async def test_callback_reschedules_itself(clock: FakeClock, settle: Settle) -> None:
    fired: list[datetime] = []

    async def renew(key: str) -> None:
        fired.append(clock.now())
        scheduler.schedule(key, clock.now() + timedelta(hours=1))

    scheduler = Scheduler(fire=renew, clock=clock)
    scheduler.schedule("vol", at(0))
    scheduler.start()
    try:
        for _ in range(3):
            await settle()
            clock.advance(3600)
        await settle()
    finally:
        await scheduler.stop()
    assert fired == [at(0), at(3600), at(7200), at(10800)]


class JumpyClock(FakeClock):
    """A clock whose wall time can jump without monotonic time passing (NTP step, VM resume)."""

    def __init__(self) -> None:
        super().__init__(START)
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.offset


async def test_wall_clock_jump_noticed_within_max_sleep(rec: Recorder, settle: Settle) -> None:
    clock = JumpyClock()
    sched = Scheduler(fire=rec, clock=clock, max_sleep=60)
    sched.schedule("k", at(3600))
    sched.start()
    try:
        await settle()
        clock.offset = timedelta(hours=2)
        clock.advance(60)
        await settle()
        assert rec.fired == ["k"]
    finally:
        await sched.stop()


async def test_timers_set_before_start_kept_and_stop_cancels(clock: FakeClock, rec: Recorder, settle: Settle) -> None:
    rec.gate = asyncio.Event()
    sched = Scheduler(fire=rec, clock=clock)
    sched.schedule("k", at(0))
    sched.schedule("later", at(10))
    sched.start()
    with pytest.raises(RuntimeError, match="already started"):
        sched.start()
    await settle()
    assert rec.running == 1
    await sched.stop()
    assert rec.running == 0
    assert len(asyncio.all_tasks()) == 1
    assert sched.next_time("later") == at(10)


async def test_naive_time_refused(sched: Scheduler) -> None:
    with pytest.raises(ValueError, match="when"):
        sched.schedule("k", datetime(2024, 1, 1))


@pytest.mark.parametrize(("kwargs", "field"), [({"concurrency": 0}, "concurrency"), ({"max_sleep": 0}, "max_sleep")])
def test_invalid_parameters(clock: FakeClock, rec: Recorder, kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Scheduler(fire=rec, clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_replaced_timers_do_not_pile_up(sched: Scheduler) -> None:
    # A republish every minute reschedules the same key; the heap must stay proportional to the keys.
    for i in range(10_000):
        sched.schedule("k", at(100 + i))
    assert len(sched._heap) <= 2 * len(sched) + 65


async def test_a_gate_holds_every_fire_then_releases_them_earliest_first(
    clock: FakeClock, rec: Recorder, settle: Settle
) -> None:
    ready = asyncio.Event()

    async def gate() -> None:
        await ready.wait()

    sched = Scheduler(fire=rec, clock=clock, concurrency=1, gate=gate)
    sched.schedule("late", at(5))
    sched.schedule("early", at(1))
    sched.start()
    try:
        clock.advance(10)
        await settle()
        assert rec.fired == []
        ready.set()
        await settle()
        assert rec.fired == ["early", "late"]
    finally:
        await sched.stop()
