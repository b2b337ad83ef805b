"""Holding the Lease: renewals, and stepping down the moment the renew deadline passes."""

from __future__ import annotations

import asyncio

from leader_support import NAME, STEP, Candidate, FakeLeases, advance, advance_until, settle

from certcsi.volumes.clock import FakeClock


async def test_the_leader_renews_every_retry_period_keeping_acquire_time() -> None:
    api, clock = FakeLeases(), FakeClock()
    a = Candidate(api, clock, "a")
    a.start()
    await settle()
    acquired = api.leases[NAME]["spec"]["acquireTime"]

    await advance(clock, 6 + STEP)

    renewals = [w["spec"]["renewTime"] for w in api.writes]
    assert renewals == [
        "1970-01-01T00:00:00.000000Z",
        "1970-01-01T00:00:02.000000Z",
        "1970-01-01T00:00:04.000000Z",
        "1970-01-01T00:00:06.000000Z",
    ]
    assert {w["spec"]["acquireTime"] for w in api.writes} == {acquired}
    assert {w["spec"]["leaseTransitions"] for w in api.writes} == {0}
    assert a.leading
    await a.kill()


async def test_the_leader_steps_down_at_the_renew_deadline_when_renewals_fail() -> None:
    api, clock = FakeLeases(), FakeClock()
    a = Candidate(api, clock, "a")
    a.start()
    await advance(clock, 4 + STEP)  # renewed at 0, 2 and 4
    api.down = True

    await advance(clock, 9.9)  # 13.91: still inside 4 + 10
    assert a.leading
    taken = await advance_until(clock, lambda: not a.leading, limit=1.0)

    assert 14.0 <= clock.monotonic() <= 14.0 + STEP, taken
    assert a.changes[-1][0] == "stopped"
    assert 14.0 <= a.changes[-1][1] <= 14.0 + STEP
    await a.kill()


async def test_a_hanging_renewal_does_not_keep_the_leader_past_the_deadline() -> None:
    api, clock = FakeLeases(), FakeClock()
    a = Candidate(api, clock, "a")
    a.start()
    await advance(clock, 0.01)
    api.hang = asyncio.Event()  # the renewal at t=2 never gets an answer

    await advance_until(clock, lambda: not a.leading, limit=11.0)

    assert 10.0 <= clock.monotonic() <= 10.0 + STEP
    assert a.changes == [("started", 0.0), ("stopped", a.changes[1][1])]
    assert 10.0 <= a.changes[1][1] <= 10.0 + STEP
    api.hang.set()
    await a.kill()


async def test_the_leader_steps_down_at_once_when_another_holds_the_lease() -> None:
    api, clock = FakeLeases(), FakeClock()
    a = Candidate(api, clock, "a")
    a.start()
    await advance(clock, 1.0)
    api.set_holder("intruder", renew_time=clock.now())

    await advance(clock, 1.0 + STEP)  # the renewal at t=2 sees it

    assert not a.leading
    assert a.changes[-1] == ("stopped", a.changes[-1][1]) and a.changes[-1][1] <= 2.0 + STEP
    assert api.record().holder == "intruder"
    await a.kill()


async def test_after_stepping_down_it_leads_again_once_the_api_recovers() -> None:
    api, clock = FakeLeases(), FakeClock()
    a = Candidate(api, clock, "a")
    a.start()
    await advance(clock, 0.01)
    api.down = True
    await advance_until(clock, lambda: not a.leading, limit=11.0)
    api.down = False

    await advance_until(clock, lambda: a.leading, limit=3.0)

    assert [kind for kind, _ in a.changes] == ["started", "stopped", "started"]
    assert api.record().holder == "a"
    assert api.record().transitions == 0  # it was still the holder: a renewal, not a transition
    await a.kill()
