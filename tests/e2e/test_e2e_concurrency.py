"""Concurrency: many pods at once, and the same volume published twice at the same moment."""

from __future__ import annotations

import asyncio
import hashlib
import time

import grpc
import pytest
from e2e_harness import (
    E2E,
    NAMESPACE,
    check_pair,
    e2e_environment,
    mount_at,
    pod_manifest,
    read_snapshot,
    typical_attributes,
)

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.volumes.issuance import VOLUME_ID_HASH_LABEL, fnv_hash_label

pytestmark = pytest.mark.e2e

PODS = 20


async def test_twenty_pods_at_once_all_become_ready(env: E2E) -> None:
    names = [f"burst-{i:02d}" for i in range(PODS)]
    await env.kubelet.apply([pod_manifest(name, typical_attributes()) for name in names])
    await env.wait_all_ready(names, timeout=60)
    serials = {check_pair(env.target(name)).serial for name in names}
    assert len(serials) == PODS
    assert len(await env.certificate_requests()) == PODS
    assert len(env.volume_dirs()) == PODS


def _publish_request(*, volume: str, target: str, pod: dict[str, str]) -> csi_pb2.NodePublishVolumeRequest:
    context = typical_attributes()
    context.update(
        {
            "csi.storage.k8s.io/pod.name": pod["name"],
            "csi.storage.k8s.io/pod.namespace": NAMESPACE,
            "csi.storage.k8s.io/pod.uid": pod["uid"],
            "csi.storage.k8s.io/serviceAccount.name": "default",
            "csi.storage.k8s.io/ephemeral": "true",
        }
    )
    mode = csi_pb2.VolumeCapability.AccessMode
    capability = csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(), access_mode=mode(mode=mode.SINGLE_NODE_WRITER)
    )
    return csi_pb2.NodePublishVolumeRequest(
        volume_id=volume, target_path=target, volume_capability=capability, readonly=True, volume_context=context
    )


async def test_two_concurrent_publishes_of_one_volume_issue_once() -> None:
    # A signing delay keeps the first publish waiting for its certificate while the second arrives.
    async with e2e_environment(signing_delay=0.5) as env:
        # A pod the API knows (for the owner reference) but that lives on another node: only we publish it.
        [pod] = await env.kubelet.apply(pod_manifest("direct", typical_attributes(), node_name="other-node"))
        meta = pod["metadata"]
        volume = "csi-" + hashlib.sha256(f"{meta['uid']}tls".encode()).hexdigest()
        target = env.workdir / "direct" / "tls" / "mount"
        target.parent.mkdir(parents=True)
        request = _publish_request(volume=volume, target=str(target), pod={"name": meta["name"], "uid": meta["uid"]})

        async with grpc.aio.insecure_channel(
            env.driver.endpoint, options=[("grpc.default_authority", "localhost")]
        ) as channel:
            node = csi_pb2_grpc.NodeStub(channel)

            async def publish() -> tuple[float, float]:
                started = time.monotonic()
                await node.NodePublishVolume(request, timeout=30)
                return started, time.monotonic()

            (start_a, end_a), (start_b, end_b) = await asyncio.gather(publish(), publish())
            assert max(start_a, start_b) < min(end_a, end_b), "the two calls did not overlap"

            requests = await env.certificate_requests()
            labels = [request["metadata"]["labels"][VOLUME_ID_HASH_LABEL] for request in requests]
            assert labels == [fnv_hash_label(volume)]
            mount = mount_at(target)
            assert mount is not None and "ro" in mount.options
            assert set(read_snapshot(target)) == {"tls.crt", "tls.key", "ca.crt"}
            check_pair(target)

            await node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume, target_path=str(target)))
            assert mount_at(target) is None
            assert not target.exists()
            assert env.volume_dirs() == []
