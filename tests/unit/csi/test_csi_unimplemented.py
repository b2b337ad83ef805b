"""Stage/Unstage/GetVolumeStats/Expand and every Controller RPC answer UNIMPLEMENTED."""

from __future__ import annotations

import grpc
import pytest
from csi_harness import VOLUME_ID, Harness

from certcsi.csi._gen import csi_pb2


@pytest.mark.parametrize(
    ("rpc", "request_message"),
    [
        ("NodeStageVolume", csi_pb2.NodeStageVolumeRequest(volume_id=VOLUME_ID, staging_target_path="/s")),
        ("NodeUnstageVolume", csi_pb2.NodeUnstageVolumeRequest(volume_id=VOLUME_ID, staging_target_path="/s")),
        ("NodeGetVolumeStats", csi_pb2.NodeGetVolumeStatsRequest(volume_id=VOLUME_ID, volume_path="/v")),
        ("NodeExpandVolume", csi_pb2.NodeExpandVolumeRequest(volume_id=VOLUME_ID, volume_path="/v")),
    ],
)
async def test_node_rpc_is_unimplemented(csi: Harness, rpc: str, request_message: object) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(csi.node, rpc)(request_message)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert rpc in (caught.value.details() or "")


@pytest.mark.parametrize("rpc", ["CreateVolume", "ControllerGetCapabilities", "ControllerPublishVolume"])
async def test_controller_rpc_is_unimplemented(csi: Harness, rpc: str) -> None:
    # Raw bytes: the Controller service is not in our proto, exactly as a CO would hit it.
    call = csi.channel.unary_unary(f"/csi.v1.Controller/{rpc}", request_serializer=bytes, response_deserializer=bytes)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(b"")
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert f"/csi.v1.Controller/{rpc}" in (caught.value.details() or "")
