"""One volume-id rule for publish and unpublish: a single safe path component, checked before the backend runs."""

from __future__ import annotations

import grpc
import pytest
from csi_harness import TARGET, VOLUME_ID, Harness, publish_request

from certcsi.csi._gen import csi_pb2
from certcsi.errors import InvalidVolume

HOSTILE_IDS = ["../etc", "..", ".", "a/b", "/abs", "vol\0id", "x" * 129, "ä" * 65, "line\nbreak", "tab\there", "\x7f"]
# Kubelet's own ids, and the shapes conformance suites and other callers send.
ACCEPTED_IDS = [VOLUME_ID, "sanity-node-full-4F2A", "vol-1", "x" * 128, "...", "..a", "a..", "ä" * 64, "spa ce"]


@pytest.mark.parametrize("volume_id", HOSTILE_IDS)
async def test_unpublish_refuses_a_hostile_volume_id_before_the_backend(csi: Harness, volume_id: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume_id, target_path=TARGET))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith("volume_id ")
    assert csi.backend.unpublished == []


@pytest.mark.parametrize("volume_id", HOSTILE_IDS)
async def test_publish_refuses_a_hostile_volume_id_before_the_backend(csi: Harness, volume_id: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.node.NodePublishVolume(publish_request(volume_id=volume_id))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith("volume_id ")
    assert csi.backend.published == []


@pytest.mark.parametrize("volume_id", ACCEPTED_IDS)
async def test_ordinary_volume_ids_reach_the_backend(csi: Harness, volume_id: str) -> None:
    await csi.node.NodePublishVolume(publish_request(volume_id=volume_id))
    await csi.node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume_id, target_path=TARGET))
    assert [r.volume_id for r in csi.backend.published] == [volume_id]
    assert csi.backend.unpublished == [(volume_id, TARGET)]


def test_the_rule_names_the_field_and_never_echoes_a_huge_value() -> None:
    from certcsi.csi.volume_id import check_volume_id

    with pytest.raises(InvalidVolume) as caught:
        check_volume_id("../" + "x" * 10_000)
    message = str(caught.value)
    assert message.startswith("volume_id ") and "path component" in message
    assert len(message) < 300
