"""Against the real sandbox: an approver's denial ends the wait with upstream's message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from issuance_support import NAMESPACE, World, plan, volume_for

from certcsi.errors import IssuanceDenied, IssuanceTimeout
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.volumes.issuance import Issuance

REQUESTS = BY_KEY["cert-manager.io/certificaterequests"]


def deny(world: World, name: str, message: str) -> None:
    """What an approver does: set Denied=True through the status subresource."""

    def change(obj: dict[str, Any]) -> None:
        status = obj.setdefault("status", {})
        status.setdefault("conditions", []).append(
            {
                "type": "Denied",
                "status": "True",
                "reason": "policy.example.io",
                "message": message,
                "lastTransitionTime": "2025-01-01T00:00:00Z",
            }
        )

    world.sandbox.store.mutate(REQUESTS, NAMESPACE, name, change, subresource="status")


async def test_denied_while_waiting(world_without_approver: World) -> None:
    world = world_without_approver
    pod = world.pod()
    issuance = Issuance(kube=world.kube, node_id="node-1", timeout=10)
    await issuance.start()
    try:
        name = await issuance.create(volume_for(pod), plan())
        waiting = asyncio.create_task(issuance.wait(NAMESPACE, name))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # not approved: keep waiting
        deny(world, name, "SAN web-0.team-a.svc.cluster.local is not allowed")
        with pytest.raises(IssuanceDenied) as caught:
            await waiting
    finally:
        await issuance.stop()
    assert str(caught.value) == (
        f'request "{name}" has been denied by the approval plugin: SAN web-0.team-a.svc.cluster.local is not allowed'
    )


async def test_unapproved_request_times_out_naming_what_was_seen(world_without_approver: World) -> None:
    world = world_without_approver
    pod = world.pod()
    issuance = Issuance(kube=world.kube, node_id="node-1")
    await issuance.start()
    try:
        name = await issuance.create(volume_for(pod), plan())
        with pytest.raises(IssuanceTimeout) as caught:
            await issuance.wait(NAMESPACE, name, timeout=0.2)
    finally:
        await issuance.stop()
    assert str(caught.value).startswith(f'waiting for request "{name}" timed out after 0.2s: ')
