"""Acquiring the Lease: create it when absent, take it when released, and never two leaders."""

from __future__ import annotations

from datetime import timedelta

from leader_support import NAME, Candidate, FakeLeases, advance, settle

from certcsi.volumes.clock import FakeClock


async def test_a_missing_lease_is_created_and_held() -> None:
    api, clock = FakeLeases(), FakeClock()
    a = Candidate(api, clock, "a")
    a.start()
    await settle()

    assert a.leading
    assert a.changes == [("started", 0.0)]
    spec = api.leases[NAME]["spec"]
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    assert spec["acquireTime"] == spec["renewTime"] == "1970-01-01T00:00:00.000000Z"
    await a.kill()


async def test_a_released_lease_is_taken_at_once() -> None:
    api, clock = FakeLeases(), FakeClock()
    api.set_holder("", renew_time=clock.now())  # what a clean shutdown leaves behind
    b = Candidate(api, clock, "b")
    b.start()
    await settle()

    assert b.leading
    assert api.record().holder == "b"
    assert api.record().transitions == 1
    await b.kill()


async def test_a_held_lease_is_not_taken_while_it_is_renewed() -> None:
    api, clock = FakeLeases(), FakeClock()
    b = Candidate(api, clock, "b")
    api.set_holder("x", renew_time=clock.now())
    b.start()
    for _ in range(20):  # "x" renews every 2 s for 40 s
        await advance(clock, 2.0)
        api.set_holder("x", renew_time=clock.now())
    assert not b.leading
    assert b.changes == []
    await b.kill()


async def test_two_candidates_started_together_elect_exactly_one() -> None:
    api, clock = FakeLeases(), FakeClock()
    a, b = Candidate(api, clock, "a"), Candidate(api, clock, "b")
    a.start()
    b.start()
    for _ in range(60):
        await advance(clock, 0.5)
        assert [a.leading, b.leading].count(True) == 1
    assert a.leading and api.record().holder == "a"
    assert b.changes == []
    await a.kill()
    await b.kill()


async def test_the_create_race_is_lost_cleanly() -> None:
    api, clock = FakeLeases(), FakeClock()
    a = Candidate(api, clock, "a")

    original_get = api.get_lease

    async def get_then_someone_creates(namespace: str, name: str) -> dict[str, object] | None:
        found = await original_get(namespace, name)
        if found is None:  # "x" creates it between our read and our create
            api.set_holder("x", renew_time=clock.now() + timedelta(seconds=0))
        return found

    api.get_lease = get_then_someone_creates  # type: ignore[method-assign]
    a.start()
    await advance(clock, 5.0)
    assert not a.leading
    assert api.record().holder == "x"
    await a.kill()
