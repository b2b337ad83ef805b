"""Two approver replicas in the sandbox: one leads; a killed leader is replaced within the lease duration."""

from __future__ import annotations

import time

from approver_sandbox_support import (
    APP_NAMESPACE,
    ApproverWorld,
    RunningApprover,
    eventually,
    request_body,
    spiffe_id,
)

LEASE_DURATION = 2.0


def _decided(running: RunningApprover) -> float:
    total = 0.0
    for metric in running.approver.metrics.decisions.collect():
        total += sum(float(sample.value) for sample in metric.samples if sample.name.endswith("_total"))
    return total


async def test_two_replicas_elect_one_leader_and_only_it_decides(world: ApproverWorld) -> None:
    alice = world.account(APP_NAMESPACE, "alice")
    first = await world.approver("replica-1")
    await eventually(lambda: first.approver.leading)
    second = await world.approver("replica-2")
    await eventually(lambda: second.approver.ready)

    for n in range(5):
        await world.submit(request_body(f"alice-{n}", spiffe_id(APP_NAMESPACE, "alice")), token=alice)
    await eventually(lambda: all(world.decision(f"alice-{n}") is not None for n in range(5)))

    assert not second.approver.leading
    assert (world.lease() or {})["spec"]["holderIdentity"] == "replica-1"
    # Counted once the write's answer is back, which may be just after the store has the condition.
    await eventually(lambda: _decided(first) == 5)
    assert _decided(second) == 0
    await first.stop()
    await second.stop()


async def test_a_killed_leader_is_replaced_within_the_lease_duration(world: ApproverWorld) -> None:
    alice = world.account(APP_NAMESPACE, "alice")
    first = await world.approver("replica-1", lease_duration=LEASE_DURATION)
    await eventually(lambda: first.approver.leading)
    second = await world.approver("replica-2", lease_duration=LEASE_DURATION)
    await eventually(lambda: second.approver.ready)
    await eventually(lambda: (world.lease() or {})["spec"]["renewTime"] != "", timeout=1)

    await first.kill()
    killed_at = time.monotonic()
    assert (world.lease() or {})["spec"]["holderIdentity"] == "replica-1"  # not released: it was killed
    await world.submit(request_body("after-kill", spiffe_id(APP_NAMESPACE, "alice")), token=alice)

    await eventually(lambda: second.approver.leading, timeout=5)
    took = time.monotonic() - killed_at

    assert took <= LEASE_DURATION + 0.2, took  # 0.2 s: the test's own polling and scheduling slack
    await eventually(lambda: world.decision("after-kill") is not None)
    lease = world.lease() or {}
    assert (lease["spec"]["holderIdentity"], lease["spec"]["leaseTransitions"]) == ("replica-2", 1)
    await second.stop()


async def test_a_cleanly_stopped_leader_hands_over_at_once(world: ApproverWorld) -> None:
    first = await world.approver("replica-1")
    await eventually(lambda: first.approver.leading)
    second = await world.approver("replica-2")
    await eventually(lambda: second.approver.ready)

    await first.stop()
    stopped_at = time.monotonic()
    assert (world.lease() or {})["spec"]["holderIdentity"] == ""

    await eventually(lambda: second.approver.leading, timeout=5)
    assert time.monotonic() - stopped_at <= 0.25 * 1.2 + 0.2  # one standby poll
    await second.stop()
