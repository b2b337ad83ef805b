"""Only the leader writes; a standby is synced and ready, and decides the backlog once it leads."""

from __future__ import annotations

import asyncio

from approver_support import POLICY
from controller_support import FakeApprovalApi, named, until
from leader_support import NAME, NAMESPACE, advance, advance_until, settle

from certcsi.approver.controller import Approver, ControllerOptions
from certcsi.approver.leader import ElectionConfig
from certcsi.volumes.clock import FakeClock


def _approver(api: FakeApprovalApi, clock: FakeClock, identity: str) -> Approver:
    election = ElectionConfig(namespace=NAMESPACE, name=NAME, identity=identity)
    return Approver(api=api, policy=POLICY, options=ControllerOptions(election=election), clock=clock)


async def test_a_standby_writes_nothing_and_decides_the_backlog_once_it_leads() -> None:
    api, clock = FakeApprovalApi(), FakeClock()
    api.set_holder("other", renew_time=clock.now())
    for n in range(5):
        api.put(named(f"cr-{n}"))
    approver = _approver(api, clock, "me")
    stop = asyncio.Event()
    task = asyncio.create_task(approver.run(stop))
    await settle()

    assert approver.ready and not approver.leading
    assert approver.pending == 5
    await advance(clock, 10.0)
    assert api.writes_attempted == []

    api.set_holder("", renew_time=clock.now())  # the other replica shut down cleanly
    await advance_until(clock, lambda: approver.leading, limit=3.0)
    await until(lambda: all(api.condition(f"cr-{n}") is not None for n in range(5)))
    stop.set()
    await task


async def test_a_clean_stop_releases_the_lease_and_a_kill_does_not() -> None:
    api, clock = FakeApprovalApi(), FakeClock()
    first = _approver(api, clock, "first")
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    await settle()
    assert first.leading
    stop.set()
    await task
    assert api.record().holder == ""

    second = _approver(api, clock, "second")
    task = asyncio.create_task(second.run(asyncio.Event()))
    await settle()
    assert second.leading
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert api.record().holder == "second"
    assert not second.leading


async def test_a_leader_that_loses_the_lease_stops_writing() -> None:
    api, clock = FakeApprovalApi(), FakeClock()
    approver = _approver(api, clock, "me")
    stop = asyncio.Event()
    task = asyncio.create_task(approver.run(stop))
    await settle()
    assert approver.leading
    api.down = True  # renewals fail from now on; the watch (separate) still delivers
    await advance_until(clock, lambda: not approver.leading, limit=11.0)
    api.down = False
    api.set_holder("other", renew_time=clock.now())
    api.put(named("late"))
    await advance(clock, 1.0)

    assert api.writes_attempted == []
    assert approver.pending == 1
    stop.set()
    await task


async def test_a_lapsed_lease_the_elector_has_not_noticed_yet_does_not_busy_loop_the_workers() -> None:
    api, clock = FakeApprovalApi(), FakeClock()
    approver = _approver(api, clock, "me")
    stop = asyncio.Event()
    task = asyncio.create_task(approver.run(stop))
    await settle()
    assert approver.elector is not None and approver.leading
    approver.elector._valid_until = clock.monotonic()  # lapsed this instant; on_stopped not called yet
    api.put(named("cr"))

    await asyncio.sleep(0.05)  # a worker spinning on the key would never let this sleep end

    not_leader = approver.metrics.retries.labels(cause="not-leader")._value.get()
    assert not_leader == 1
    assert api.writes_attempted == []
    approver.elector._valid_until = clock.monotonic() + 10  # the renewal went through after all
    await advance(clock, 0.5)  # the re-check
    await until(lambda: api.condition("cr") is not None)
    stop.set()
    await task
