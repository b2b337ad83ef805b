"""Renewal times: upstream's vectors, and the documented jitter rule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certcsi.volumes.schedule import default_renewal_time, jittered, renew_before_time

NB = datetime(1970, 1, 1, tzinfo=UTC)
NA = datetime(1970, 1, 4, tzinfo=UTC)


def test_default_is_two_thirds() -> None:
    assert default_renewal_time(NB, NA) == datetime(1970, 1, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (48, datetime(1970, 1, 2, tzinfo=UTC)),
        (100, datetime(1970, 1, 3, tzinfo=UTC)),
        (72, datetime(1970, 1, 3, tzinfo=UTC)),
    ],
)
def test_renew_before_vectors(hours: int, expected: datetime) -> None:
    assert renew_before_time(NB, NA, timedelta(hours=hours)) == expected


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_jitter_extremes() -> None:
    t = default_renewal_time(NB, NA)
    assert jittered(t, not_before=NB, not_after=NA, rng=_Fixed(0.0)) == t
    # u = 0.5: half of 5 % of the 72 h lifetime
    assert jittered(t, not_before=NB, not_after=NA, rng=_Fixed(0.5)) == t - timedelta(hours=1.8)


def test_jitter_never_before_half_life() -> None:
    t = NB + timedelta(hours=37)
    assert jittered(t, not_before=NB, not_after=NA, fraction=0.5, rng=_Fixed(0.99)) == NB + timedelta(hours=36)


def test_early_time_is_left_alone() -> None:
    t = renew_before_time(NB, NA, timedelta(hours=48))  # a third of the way in
    assert jittered(t, not_before=NB, not_after=NA, rng=_Fixed(0.99)) == t


def test_zero_lifetime_and_bad_fraction() -> None:
    assert jittered(NB, not_before=NB, not_after=NB, rng=_Fixed(0.5)) == NB
    with pytest.raises(ValueError, match="fraction"):
        jittered(NB, not_before=NB, not_after=NA, fraction=1.0)


def test_pods_created_together_spread_out() -> None:
    rng = random.Random(7)
    t = default_renewal_time(NB, NA)
    spread = {jittered(t, not_before=NB, not_after=NA, rng=rng) for _ in range(100)}
    assert len(spread) == 100
    assert max(spread) - min(spread) > timedelta(hours=3)


@given(
    lifetime_s=st.integers(min_value=1, max_value=10 * 365 * 86400),
    position=st.floats(min_value=0.0, max_value=1.0),
    fraction=st.floats(min_value=0.0, max_value=0.99),
    u=st.floats(min_value=0.0, max_value=0.999999),
)
def test_jitter_rule_holds(lifetime_s: int, position: float, fraction: float, u: float) -> None:
    lifetime = timedelta(seconds=lifetime_s)
    na = NB + lifetime
    t = NB + lifetime * position
    got = jittered(t, not_before=NB, not_after=na, fraction=fraction, rng=_Fixed(u))
    assert got <= t
    assert t - got <= lifetime * fraction + timedelta(microseconds=1)
    assert got >= min(t, NB + lifetime / 2) - timedelta(microseconds=1)
