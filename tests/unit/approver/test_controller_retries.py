"""Failures that are not verdicts: retried with backoff, never turned into a final Denied."""

from __future__ import annotations

from approver_support import OWN_SA_POLICY, POLICY, owner_pods
from controller_support import FakeApprovalApi, named, running, until
from leader_support import advance

from certcsi.approver.queueing import RateLimits
from certcsi.errors import KubernetesError
from certcsi.volumes.clock import FakeClock

RETRY = RateLimits(base_delay=1.0, max_delay=30.0)


async def test_a_failed_pod_lookup_is_retried_never_denied() -> None:
    api, clock = FakeApprovalApi(), FakeClock()
    api.add_pod(account="app")
    request = named("cr", username=OWN_SA_POLICY.own_service_account)
    request["metadata"]["ownerReferences"] = list(owner_pods("app-7d9c"))
    api.put(request)
    api.pod_failures = 2
    async with running(api, OWN_SA_POLICY, clock=clock, retry=RETRY) as approver:
        await until(lambda: api.pod_failures == 1)
        assert api.condition("cr") is None
        await advance(clock, 0.9)
        assert api.pod_failures == 1  # not before the 1 s backoff
        await advance(clock, 0.2)
        assert api.pod_failures == 0 and api.condition("cr") is None  # second failure: now 2 s
        await advance(clock, 2.1)
        await until(lambda: api.condition("cr") is not None)
        assert approver.metrics.retries.labels(cause="pod-lookup")._value.get() == 2

    assert api.condition("cr")["type"] == "Approved"  # type: ignore[index]
    assert api.writes_attempted == [("sandbox", "cr")]


async def test_a_failed_write_is_retried_after_the_backoff() -> None:
    api, clock = FakeApprovalApi(), FakeClock()
    api.put(named("good"))
    failures = [KubernetesError("etcdserver: request timed out", status=500)]

    async def flaky(namespace: str, name: str) -> None:
        if failures:
            raise failures.pop()

    api.before_write = flaky
    async with running(api, POLICY, clock=clock, retry=RETRY):
        await until(lambda: len(api.writes_attempted) == 1)
        await advance(clock, 0.9)
        assert len(api.writes_attempted) == 1
        await advance(clock, 0.2)
        await until(lambda: api.condition("good") is not None)

    assert len(api.writes_attempted) == 2


async def test_a_forbidden_write_is_retried_a_few_times_not_dropped() -> None:
    api, clock = FakeApprovalApi(), FakeClock()
    api.put(named("good"))
    forbidden = KubernetesError(
        'user "approver" does not have permissions to set approved/denied conditions', status=403
    )
    failures = [forbidden, forbidden]

    async def rbac_fixed_later(namespace: str, name: str) -> None:
        if failures:
            raise failures.pop()

    api.before_write = rbac_fixed_later
    async with running(api, POLICY, clock=clock, retry=RETRY) as approver:
        await advance(clock, 3.5)
        await until(lambda: api.condition("good") is not None)
        assert approver.metrics.retries.labels(cause="rejected")._value.get() == 2
