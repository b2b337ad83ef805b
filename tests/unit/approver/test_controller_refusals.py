"""Decisions the API refuses (403, cert-manager's webhook): a few attempts, one log line, then the request
is skipped until it changes or the backoff cap has passed; transient failures are logged once per run."""

from __future__ import annotations

import logging

import pytest
from approver_support import NS, POLICY
from controller_support import FakeApprovalApi, named, running, until
from leader_support import advance

from certcsi.errors import KubernetesError
from certcsi.volumes.clock import FakeClock

FORBIDDEN = KubernetesError('user "approver" does not have permissions to set approved/denied conditions', status=403)


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level and getattr(r, "request", "") == f"{NS}/cr"]


def _refused_request() -> tuple[FakeApprovalApi, FakeClock, list[bool]]:
    """One request "cr", whose decision is refused (403) while the flag in the list is set."""
    api, clock = FakeApprovalApi(), FakeClock()
    api.put(named("cr"))
    refusing = [True]

    async def hook(namespace: str, name: str) -> None:
        if refusing[0]:
            raise FORBIDDEN

    api.before_write = hook
    return api, clock, refusing


async def test_a_refused_request_is_skipped_after_three_attempts_and_looked_at_again_after_the_cap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="certcsi.approver")
    api, clock, refusing = _refused_request()
    async with running(api, POLICY, clock=clock) as approver:
        await advance(clock, 1.0)
        assert len(api.writes_attempted) == 3
        assert (approver.skipped, approver.pending) == (1, 1)
        await advance(clock, 990.0, step=10.0)
        assert len(api.writes_attempted) == 3  # skipped: left alone
        await advance(clock, 20.0, step=1.0)
        assert len(api.writes_attempted) == 4  # the cap has passed: one more look, refused again
        refusing[0] = False
        await advance(clock, 1001.0, step=10.0)
        await until(lambda: api.condition("cr") is not None)
        assert (approver.skipped, approver.pending) == (0, 0)
        assert approver.metrics.terminal_errors._value.get() == 2

    assert len(_lines(caplog, logging.WARNING)) == 1
    assert len([m for m in _lines(caplog, logging.INFO) if m == "approved request"]) == 1


async def test_a_skipped_request_that_changes_is_looked_at_afresh() -> None:
    api, clock, refusing = _refused_request()
    async with running(api, POLICY, clock=clock) as approver:
        await advance(clock, 1.0)
        assert approver.skipped == 1
        refusing[0] = False
        changed = api.request("cr")
        changed["metadata"]["labels"] = {"edited": "yes"}
        api.put(changed)
        await until(lambda: api.condition("cr") is not None)
        assert approver.skipped == 0
    assert len(api.writes_attempted) == 4


async def test_a_run_of_transient_failures_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="certcsi.approver")
    api, clock = FakeApprovalApi(), FakeClock()
    api.put(named("cr"))
    failures = [KubernetesError("etcdserver: request timed out", status=500) for _ in range(6)]

    async def flaky(namespace: str, name: str) -> None:
        if failures:
            raise failures.pop()

    api.before_write = flaky
    async with running(api, POLICY, clock=clock) as approver:
        await advance(clock, 2.0)
        await until(lambda: api.condition("cr") is not None)
        assert approver.skipped == 0  # never given up on: a timeout is no refusal
    assert len(api.writes_attempted) == 7
    assert _lines(caplog, logging.WARNING) == ["could not write the decision, will retry"]


async def test_a_flood_of_refusals_does_not_hold_back_the_retry_of_a_decidable_request() -> None:
    api, clock = FakeApprovalApi(), FakeClock()
    for n in range(300):
        api.put(named(f"other-{n}"))
    timeouts = [KubernetesError("etcdserver: request timed out", status=500)]

    async def hook(namespace: str, name: str) -> None:
        if name.startswith("other-"):
            raise FORBIDDEN
        if timeouts:
            raise timeouts.pop()

    api.before_write = hook
    async with running(api, POLICY, clock=clock) as approver:
        await until(lambda: approver.metrics.retries.labels(cause="rejected")._value.get() == 300, rounds=5000)
        api.put(named("good"))  # created now; the refusals' retries have taken the whole burst and more
        await until(lambda: not timeouts, rounds=5000)
        await advance(clock, 0.25)
        await until(lambda: api.condition("good") is not None, rounds=5000)
