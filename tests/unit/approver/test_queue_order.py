"""The work queue: each key once, never to two workers, new keys before listed ones, delays that follow the clock."""

from __future__ import annotations

import asyncio

from leader_support import settle

from certcsi.approver.queueing import WorkQueue
from certcsi.volumes.clock import FakeClock


class Recorder:
    """A QueueObserver that keeps what it was told."""

    def __init__(self) -> None:
        self.adds = 0
        self.retries = 0
        self.waits: list[float] = []
        self.works: list[float] = []

    def added(self) -> None:
        self.adds += 1

    def waited(self, seconds: float) -> None:
        self.waits.append(seconds)

    def worked(self, seconds: float) -> None:
        self.works.append(seconds)

    def retried(self) -> None:
        self.retries += 1


async def _drain(queue: WorkQueue[str]) -> list[str]:
    taken = []
    while len(queue):
        key = await queue.get()
        taken.append(key)
        queue.done(key)
    return taken


async def test_a_key_waits_once_however_often_it_is_added() -> None:
    recorder = Recorder()
    queue: WorkQueue[str] = WorkQueue(clock=FakeClock(), observer=recorder)
    for key in ("a", "b", "a", "a"):
        queue.add(key)
    assert len(queue) == 2
    assert await _drain(queue) == ["a", "b"]
    assert recorder.adds == 2


async def test_a_key_added_while_worked_on_comes_back_once_done_and_not_before() -> None:
    queue: WorkQueue[str] = WorkQueue(clock=FakeClock())
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    queue.add("a")
    assert len(queue) == 1
    second = asyncio.create_task(queue.get())
    await settle()
    assert not second.done()  # never to a second worker while the first holds it
    queue.done(key)
    assert await second == "a"


async def test_new_keys_go_before_listed_ones_and_a_listed_key_added_anew_moves_up() -> None:
    queue: WorkQueue[str] = WorkQueue(clock=FakeClock())
    for key in ("old-1", "old-2", "old-3"):
        queue.add(key, low=True)
    queue.add("new")
    queue.add("old-3")
    assert len(queue) == 4
    assert await _drain(queue) == ["new", "old-3", "old-1", "old-2"]


async def test_a_delayed_add_follows_the_clock_and_the_earliest_wins() -> None:
    clock = FakeClock()
    recorder = Recorder()
    queue: WorkQueue[str] = WorkQueue(clock=clock, observer=recorder)
    queue.add_after("a", 5.0)
    queue.add_after("a", 2.0)
    queue.add_after("a", 9.0)
    clock.advance(1.9)
    assert len(queue) == 0
    clock.advance(0.1)
    assert len(queue) == 1
    clock.advance(10.0)
    assert await _drain(queue) == ["a"]
    assert recorder.retries == 3


async def test_rate_limited_adds_use_the_limiter_and_discard_cancels_them() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    assert queue.add_rate_limited("a") == 0.005
    assert queue.add_rate_limited("a") == 0.01
    queue.discard("a")
    clock.advance(1.0)
    assert len(queue) == 0
    assert queue.limiter.failures("a") == 0


async def test_waiting_and_working_times_are_reported() -> None:
    clock = FakeClock()
    recorder = Recorder()
    queue: WorkQueue[str] = WorkQueue(clock=clock, observer=recorder)
    queue.add("a")
    clock.advance(3.0)
    key = await queue.get()
    clock.advance(2.0)
    assert queue.running_for() == [2.0]
    queue.done(key)
    assert (recorder.waits, recorder.works, queue.running_for()) == ([3.0], [2.0], [])
