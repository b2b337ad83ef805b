"""NodeGetCapabilities advertises VOLUME_MOUNT_GROUP only; NodeGetInfo names the node."""

from __future__ import annotations

import pytest
from csi_harness import NODE_ID, FakeBackend, Harness

from certcsi.csi._gen import csi_pb2
from certcsi.csi.node import NodeServicer


async def test_capabilities_are_volume_mount_group_only(csi: Harness) -> None:
    response = await csi.node.NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest())
    assert [c.rpc.type for c in response.capabilities] == [csi_pb2.NodeServiceCapability.RPC.VOLUME_MOUNT_GROUP]


async def test_info_is_node_id_without_volume_limit_or_topology(csi: Harness) -> None:
    response = await csi.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
    assert response.node_id == NODE_ID
    assert response.max_volumes_per_node == 0
    assert not response.HasField("accessible_topology")


def test_empty_node_id_is_refused() -> None:
    with pytest.raises(ValueError, match="node id"):
        NodeServicer(node_id="", backend=FakeBackend())
