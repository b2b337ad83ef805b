"""The approver's RBAC is enough, and cert-manager's `signers`/`approve` check really is enforced."""

from __future__ import annotations

from approver_sandbox_support import (
    APP_NAMESPACE,
    DRIVER,
    RBAC,
    ApproverWorld,
    eventually,
    request_body,
    spiffe_id,
)

from certcsi.sandbox.apiserver.resources import BY_KEY


async def test_every_call_succeeds_with_the_approvers_rbac_alone(world: ApproverWorld) -> None:
    alice = world.account(APP_NAMESPACE, "alice")
    running = await world.approver("replica-1", events="all")
    await world.submit(request_body("alice-1", spiffe_id(APP_NAMESPACE, "alice")), token=alice)

    await eventually(lambda: world.ready_reason("alice-1") == "Issued")
    await eventually(lambda: len(world.sandbox.store.list(BY_KEY["/events"], APP_NAMESPACE)[0]) == 1)

    events = world.sandbox.store.list(BY_KEY["/events"], APP_NAMESPACE)[0]
    assert [(e["reason"], e["involvedObject"]["name"]) for e in events] == [("Approved", "alice-1")]
    lease = world.lease()
    assert lease is not None and lease["metadata"]["name"] == DRIVER
    assert running.approver.alive
    await running.stop()
    assert (world.lease() or {})["spec"]["holderIdentity"] == ""  # released with `update` alone


async def test_without_approve_on_the_signer_nothing_is_decided_and_nothing_is_lost(world: ApproverWorld) -> None:
    alice = world.account(APP_NAMESPACE, "alice")
    role = world.sandbox.store.get(BY_KEY[f"{RBAC}/clusterroles"], None, "csi-driver-spiffe-approver")
    role["rules"] = [r for r in role["rules"] if r["resources"] != ["signers"]]
    running = await world.approver("replica-1")
    await world.submit(request_body("alice-1", spiffe_id(APP_NAMESPACE, "alice")), token=alice)

    retries = running.approver.metrics.retries
    await eventually(lambda: retries.labels(cause="rejected")._value.get() >= 1)
    assert world.decision("alice-1") is None
    assert running.approver.pending == 1  # still pending: it will be decided once RBAC allows it
    await running.stop()
