"""Deleting a pod: its mount, its volume directory and its CertificateRequests all go."""

from __future__ import annotations

import pytest
from e2e_harness import (
    E2E,
    NAMESPACE,
    check_pair,
    csi_channel,
    eventually,
    mount_at,
    pod_info,
    pod_manifest,
    publish_request,
    typical_attributes,
)

from certcsi.csi._gen import csi_pb2_grpc
from certcsi.sandbox.kubelet import volume_id

pytestmark = pytest.mark.e2e


async def test_deleted_pod_leaves_no_mount_no_volume_and_no_request(env: E2E) -> None:
    await env.kubelet.apply([pod_manifest(name, typical_attributes()) for name in ("doomed", "survivor")])
    await env.wait_all_ready(["doomed", "survivor"], timeout=30)
    target = env.target("doomed")
    doomed_volume = volume_id(env.kubelet.pod_uid(NAMESPACE, "doomed"), "tls")
    survivor_volume = volume_id(env.kubelet.pod_uid(NAMESPACE, "survivor"), "tls")
    check_pair(target)
    assert mount_at(target) is not None
    assert env.volume_dirs() == sorted([doomed_volume, survivor_volume])
    assert len(await env.certificate_requests()) == 2

    await env.kubelet.delete_pod(NAMESPACE, "doomed", timeout=30)

    assert mount_at(target) is None
    assert not target.parent.exists()  # the kubelet removed the (empty) volume directory after unpublish
    assert env.volume_dirs() == [survivor_volume]
    owners: list[list[str]] = []

    async def only_survivor_requests() -> bool:
        requests = await env.certificate_requests()
        owners[:] = [[ref["name"] for ref in r["metadata"].get("ownerReferences") or []] for r in requests]
        return owners == [["survivor"]]

    await eventually(
        only_survivor_requests, timeout=10, what=lambda: f"only the survivor's request, got owners {owners}"
    )
    # The survivor is untouched.
    check_pair(env.target("survivor"))
    assert mount_at(env.target("survivor")) is not None


async def test_unpublish_deletes_the_requests_of_a_volume_without_pod_uid(env: E2E) -> None:
    # No pod uid in the context, so no owner reference: only the driver's clean-up deletes the request.
    direct = env.direct_volume(await env.owner_pod("no-uid"), "tls")
    context = {k: v for k, v in pod_info(name="no-uid", uid="unused").items() if not k.endswith("pod.uid")}
    request = publish_request(volume=direct.volume_id, target=direct.target, context=typical_attributes() | context)
    async with csi_channel(env.driver.endpoint) as channel:
        node = csi_pb2_grpc.NodeStub(channel)
        await node.NodePublishVolume(request, timeout=30)
        [created] = await env.certificate_requests()
        assert not created["metadata"].get("ownerReferences")
        await node.NodeUnpublishVolume(direct.unpublish_request(), timeout=30)

    async def gone() -> bool:
        return await env.requests_of_volume(direct.volume_id) == 0

    await eventually(gone, timeout=10, what="the volume's CertificateRequest deleted")
