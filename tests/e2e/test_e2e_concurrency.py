"""Concurrency: many pods at once, and the same volume published twice at the same moment."""

from __future__ import annotations

import asyncio
import time

import pytest
from e2e_harness import (
    E2E,
    check_pair,
    csi_channel,
    e2e_environment,
    mount_at,
    pod_manifest,
    read_snapshot,
    typical_attributes,
)

from certcsi.csi._gen import csi_pb2_grpc

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


async def test_two_concurrent_publishes_of_one_volume_issue_once() -> None:
    # A signing delay keeps the first publish waiting for its certificate while the second arrives.
    async with e2e_environment(signing_delay=0.5) as env:
        direct = env.direct_volume(await env.owner_pod("direct"), "tls")
        request = direct.request(typical_attributes())

        async with csi_channel(env.driver.endpoint) as channel:
            node = csi_pb2_grpc.NodeStub(channel)

            async def publish() -> tuple[float, float]:
                started = time.monotonic()
                await node.NodePublishVolume(request, timeout=30)
                return started, time.monotonic()

            (start_a, end_a), (start_b, end_b) = await asyncio.gather(publish(), publish())
            assert max(start_a, start_b) < min(end_a, end_b), "the two calls did not overlap"

            assert await env.requests_of_volume(direct.volume_id) == 1
            assert len(await env.certificate_requests()) == 1
            mount = mount_at(direct.target)
            assert mount is not None and "ro" in mount.options
            assert set(read_snapshot(direct.target)) == {"tls.crt", "tls.key", "ca.crt"}
            check_pair(direct.target)

            await node.NodeUnpublishVolume(direct.unpublish_request())
            assert mount_at(direct.target) is None
            assert not direct.target.exists()
            assert env.volume_dirs() == []
