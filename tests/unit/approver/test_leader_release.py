"""Releasing the Lease on a clean shutdown, so the standby takes over at its next look."""

from __future__ import annotations

from leader_support import STEP, Candidate, FakeLeases, advance, advance_until, settle

from certcsi.volumes.clock import FakeClock


async def test_release_empties_the_holder_and_the_standby_takes_over_at_its_next_look() -> None:
    api, clock = FakeLeases(), FakeClock()
    a, b = Candidate(api, clock, "a"), Candidate(api, clock, "b")
    a.start()
    b.start()
    await advance(clock, 5.0)
    await a.kill()
    await a.elector.release()

    spec = api.writes[-1]["spec"]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"]) == ("", 1)
    assert not a.leading
    assert a.changes[-1][0] == "stopped"
    waited = await advance_until(clock, lambda: b.leading, limit=5.0)
    assert waited <= 2.2 + STEP  # one standby poll, not a lease duration
    await b.kill()


async def test_a_leader_that_lost_the_lease_releases_nothing() -> None:
    api, clock = FakeLeases(), FakeClock()
    a = Candidate(api, clock, "a")
    a.start()
    await advance(clock, 1.0)
    api.set_holder("intruder", renew_time=clock.now())
    await advance(clock, 1.5)
    writes = len(api.writes)

    await a.elector.release()

    assert len(api.writes) == writes
    assert api.record().holder == "intruder"
    await a.kill()


async def test_a_candidate_that_never_led_releases_nothing() -> None:
    api, clock = FakeLeases(), FakeClock()
    api.set_holder("x", renew_time=clock.now())
    b = Candidate(api, clock, "b")
    b.start()
    await settle()
    await b.kill()

    await b.elector.release()

    assert len(api.writes) == 1
    assert b.changes == []
