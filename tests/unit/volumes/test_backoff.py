"""Backoff: exponential, capped, jitter pulls delays down."""

from __future__ import annotations

import random

import pytest

from certcsi.volumes.schedule import NOT_READY_BACKOFF, RENEWAL_BACKOFF, Backoff


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_renewal_backoff_without_jitter_draw() -> None:
    zero = _Fixed(0.0)
    assert [RENEWAL_BACKOFF.next(n, rng=zero) for n in range(1, 7)] == [30, 60, 120, 240, 300, 300]


def test_jitter_pulls_down_by_at_most_half() -> None:
    assert RENEWAL_BACKOFF.next(1, rng=_Fixed(0.999)) == pytest.approx(15.015)
    rng = random.Random(1)
    delays = [RENEWAL_BACKOFF.next(5, rng=rng) for _ in range(200)]
    assert all(150 < d <= 300 for d in delays)
    assert len(set(delays)) == 200


def test_not_ready_backoff_1s_to_10s() -> None:
    zero = _Fixed(0.0)
    assert [NOT_READY_BACKOFF.next(n, rng=zero) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_huge_attempt_does_not_overflow() -> None:
    assert Backoff(jitter=0.0).next(10_000) == 300
    assert Backoff(base=5, factor=1.0, jitter=0.0, cap=10).next(10**9) == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"base": 0}, "base"), ({"cap": 1}, "cap"), ({"factor": 0.5}, "factor"), ({"jitter": 1.5}, "jitter")],
)
def test_invalid_parameters(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Backoff(**kwargs)


def test_attempt_starts_at_one() -> None:
    with pytest.raises(ValueError, match="attempt"):
        RENEWAL_BACKOFF.next(0)
