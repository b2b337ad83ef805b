"""NodeUnpublishVolume requires volume_id and target_path, then delegates to the backend."""

from __future__ import annotations

import grpc
import pytest
from csi_harness import TARGET, VOLUME_ID, Harness

from certcsi.csi._gen import csi_pb2


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({}, "volume_id is required"),
        ({"target_path": TARGET}, "volume_id is required"),
        ({"volume_id": VOLUME_ID}, "target_path is required"),
        ({"volume_id": VOLUME_ID, "target_path": "mount"}, "target_path must be an absolute path"),
    ],
)
async def test_missing_field_is_invalid_argument(csi: Harness, request_fields: dict[str, str], message: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(**request_fields))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == message
    assert csi.backend.unpublished == []


async def test_valid_request_reaches_the_backend(csi: Harness) -> None:
    await csi.node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(volume_id=VOLUME_ID, target_path=TARGET))
    assert csi.backend.unpublished == [(VOLUME_ID, TARGET)]
