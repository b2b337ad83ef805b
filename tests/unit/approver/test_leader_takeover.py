"""A standby taking over from a killed leader: within the lease duration, and never too early."""

from __future__ import annotations

from datetime import timedelta

from leader_support import STEP, Candidate, FakeLeases, SkewedClock, advance, advance_until, settle

from certcsi.volumes.clock import FakeClock


def _last_renewal(api: FakeLeases, holder: str) -> float:
    mine = [w for w in api.writes if w["spec"]["holderIdentity"] == holder]
    stamp = mine[-1]["spec"]["renewTime"]
    hours, minutes, seconds = stamp[11:-1].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


async def test_a_standby_takes_over_within_the_lease_duration_after_a_kill() -> None:
    api, clock = FakeLeases(), FakeClock()
    a, b = Candidate(api, clock, "a"), Candidate(api, clock, "b")
    a.start()
    b.start()
    await advance(clock, 7.0)
    await a.kill()
    last = _last_renewal(api, "a")

    await advance_until(clock, lambda: b.leading, limit=20.0)

    assert last == 6.0
    # Not before the killed leader would have stopped on its own, and within the lease duration.
    assert last + 10.0 < clock.monotonic() <= last + 15.0 + STEP
    record = api.record()
    assert (record.holder, record.transitions) == ("b", 1)


async def test_a_standby_with_a_clock_far_ahead_does_not_take_over_before_the_leader_stopped() -> None:
    base = FakeClock()
    api = FakeLeases()
    a = Candidate(api, base, "a")
    b = Candidate(api, SkewedClock(base, timedelta(hours=1)), "b")  # every renewTime looks an hour old
    a.start()
    b.start()
    await advance(base, 30.0)
    assert a.leading and not b.leading  # renewals keep coming: skew alone never deposes a live leader
    await a.kill()
    last = _last_renewal(api, "a")

    await advance_until(base, lambda: b.leading, limit=20.0)

    assert last + 10.0 < base.monotonic() <= last + 15.0 + 2.4 + STEP


async def test_a_standby_with_a_clock_behind_takes_over_no_later_than_client_go_would() -> None:
    base = FakeClock()
    api = FakeLeases()
    a = Candidate(api, base, "a")
    b = Candidate(api, SkewedClock(base, -timedelta(hours=1)), "b")  # renewTime looks an hour ahead
    a.start()
    b.start()
    await advance(base, 7.0)
    await a.kill()
    last = _last_renewal(api, "a")

    await advance_until(base, lambda: b.leading, limit=20.0)

    assert last + 10.0 < base.monotonic() <= last + 15.0 + 2.2 + STEP


async def test_a_lease_seen_for_the_first_time_is_waited_out_in_full() -> None:
    api, clock = FakeLeases(), FakeClock()
    await advance(clock, 100.0)
    api.set_holder("gone", renew_time=clock.now() - timedelta(hours=1))  # looks long expired
    b = Candidate(api, clock, "b")
    b.start()
    await settle()

    waited = await advance_until(clock, lambda: b.leading, limit=20.0)

    # No local evidence of when "gone" last renewed, so trust nothing but our own clock (client-go).
    assert 15.0 <= waited <= 15.05
