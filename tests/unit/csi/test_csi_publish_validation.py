"""NodePublishVolume checks volume_id, target_path and volume_capability first, before the backend runs."""

from __future__ import annotations

import grpc
import pytest
from csi_harness import Harness, publish_request

from certcsi.csi._gen import csi_pb2

BLOCK = csi_pb2.VolumeCapability(
    block=csi_pb2.VolumeCapability.BlockVolume(),
    access_mode=csi_pb2.VolumeCapability.AccessMode(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER),
)
NO_ACCESS_TYPE = csi_pb2.VolumeCapability(
    access_mode=csi_pb2.VolumeCapability.AccessMode(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER)
)


async def _publish_error(csi: Harness, request: csi_pb2.NodePublishVolumeRequest) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.node.NodePublishVolume(request)
    return caught.value


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"volume_id": ""}, "volume_id is required"),
        ({"target_path": ""}, "target_path is required"),
        ({"target_path": "relative/mount"}, "target_path must be an absolute path"),
        ({"volume_capability": None}, "volume_capability is required"),
        ({"volume_capability": BLOCK}, "block volumes are not supported"),
        ({"volume_capability": NO_ACCESS_TYPE}, "volume_capability.mount is required"),
    ],
)
async def test_bad_csi_field_is_invalid_argument_and_backend_untouched(
    csi: Harness, overrides: dict[str, object], message: str
) -> None:
    error = await _publish_error(csi, publish_request(**overrides))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message
    assert csi.backend.published == []


async def test_volume_id_is_checked_before_target_path_and_capability(csi: Harness) -> None:
    error = await _publish_error(csi, csi_pb2.NodePublishVolumeRequest())
    assert error.details() == "volume_id is required"


async def test_target_path_is_checked_before_capability(csi: Harness) -> None:
    error = await _publish_error(csi, csi_pb2.NodePublishVolumeRequest(volume_id="v"))
    assert error.details() == "target_path is required"


async def test_request_without_volume_context_reaches_the_backend(csi: Harness) -> None:
    # Conformance suites send no context at all: context rules are the backend's, not ours.
    await csi.node.NodePublishVolume(publish_request(volume_context={}, readonly=False))
    assert len(csi.backend.published) == 1
