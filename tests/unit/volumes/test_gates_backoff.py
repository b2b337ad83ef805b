"""`--gate-backoff-*`: upstream's defaults and flag rules; the delay grows, is capped, and jitters downwards."""

from __future__ import annotations

import random

import pytest

from certcsi.volumes.gates import DEFAULT_GATE_BACKOFF, GateFlagError, gate_backoff
from certcsi.volumes.schedule import Backoff

UPSTREAM = {"duration": 1.0, "factor": 2.0, "jitter": 0.5, "cap": 10.0}


def test_defaults_are_upstreams() -> None:
    assert gate_backoff(**UPSTREAM) == DEFAULT_GATE_BACKOFF == Backoff(base=1.0, factor=2.0, jitter=0.5, cap=10.0)


def test_without_jitter_the_delay_doubles_up_to_the_cap() -> None:
    backoff = gate_backoff(duration=1.0, factor=2.0, jitter=0.0, cap=10.0)
    assert [backoff.next(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jitter_only_pulls_delays_down_so_the_cap_holds() -> None:
    backoff = gate_backoff(**UPSTREAM)
    rng = random.Random(3)
    delays = [backoff.next(10, rng=rng) for _ in range(200)]
    assert all(5.0 < d <= 10.0 for d in delays)
    assert max(delays) - min(delays) > 2.0  # really spread


def test_full_jitter_never_gives_a_zero_delay() -> None:
    class One(random.Random):
        def random(self) -> float:
            return 1.0

    assert gate_backoff(**(UPSTREAM | {"jitter": 1.0})).next(1, rng=One()) > 0


def test_cap_zero_means_no_cap_but_stays_a_representable_timer() -> None:
    backoff = gate_backoff(duration=1.0, factor=2.0, jitter=0.0, cap=0.0)
    assert backoff.next(8) == 128.0
    assert backoff.next(10_000) == 86400.0  # no OverflowError after a very long wait


def test_factor_one_keeps_the_delay_constant() -> None:
    backoff = gate_backoff(duration=3.0, factor=1.0, jitter=0.0, cap=0.0)
    assert backoff.next(1) == backoff.next(50) == 3.0


@pytest.mark.parametrize(
    ("kwargs", "flag", "rule"),
    [
        ({"duration": 0.0}, "--gate-backoff-duration", "must be > 0"),
        ({"duration": -1.0}, "--gate-backoff-duration", "must be > 0"),
        ({"factor": 0.5}, "--gate-backoff-factor", "must be >= 1"),
        ({"jitter": -0.1}, "--gate-backoff-jitter", "must be in [0, 1]"),
        ({"jitter": 1.1}, "--gate-backoff-jitter", "must be in [0, 1]"),
        (
            {"duration": 30.0, "cap": 10.0},
            "--gate-backoff-cap",
            "must be 0 (no cap) or >= --gate-backoff-duration (30s)",
        ),
        ({"cap": -1.0}, "--gate-backoff-cap", "must be 0 (no cap)"),
    ],
)
def test_bad_values_name_the_flag_and_the_rule(kwargs: dict[str, float], flag: str, rule: str) -> None:
    with pytest.raises(GateFlagError) as info:
        gate_backoff(**(UPSTREAM | kwargs))
    assert info.value.flag == flag
    assert rule in str(info.value)


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="attempt"):
        DEFAULT_GATE_BACKOFF.next(0)
