"""The CSI Node service: validate the CSI-level fields of each call, then hand it to the volume engine.

Only NodePublishVolume / NodeUnpublishVolume do work (kubelet calls nothing else for ephemeral
inline volumes). Volume-context rules (ephemeral, read-only, attributes) belong to the backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from certcsi.errors import InvalidVolume

from ._gen import csi_pb2, csi_pb2_grpc
from .limits import check_sizes
from .server import ServicerContext, Unimplemented
from .volume_id import check_volume_id


@dataclass(frozen=True, repr=False)
class PublishRequest:
    """One NodePublishVolume call whose CSI-level fields are valid.

    `volume_context` may still hold the service-account tokens and driver secrets (e.g. a PKCS#12
    password); the repr shows its keys only, and `secrets` not at all.
    """

    volume_id: str
    target_path: str
    readonly: bool
    volume_context: Mapping[str, str]
    secrets: Mapping[str, str] = field(repr=False)
    volume_mount_group: str
    access_mode: int  # csi_pb2.VolumeCapability.AccessMode.Mode value
    fs_type: str

    def __repr__(self) -> str:
        return (
            f"PublishRequest(volume_id={self.volume_id!r}, target_path={self.target_path!r}, "
            f"readonly={self.readonly!r}, volume_context_keys={sorted(self.volume_context)!r}, "
            f"secret_keys={sorted(self.secrets)!r}, volume_mount_group={self.volume_mount_group!r}, "
            f"access_mode={self.access_mode!r}, fs_type={self.fs_type!r})"
        )


class NodeBackend(Protocol):
    """What the Node service needs from the volume engine; it raises certcsi.errors on failure."""

    async def publish(self, request: PublishRequest) -> None: ...

    async def unpublish(self, *, volume_id: str, target_path: str) -> None: ...


def _require(value: str, name: str) -> None:
    if not value:
        raise InvalidVolume(f"{name} is required")


def _require_volume_id(volume_id: str) -> None:
    _require(volume_id, "volume_id")
    check_volume_id(volume_id)


def _require_target_path(target_path: str) -> None:
    _require(target_path, "target_path")
    if not os.path.isabs(target_path):
        raise InvalidVolume("target_path must be an absolute path")


def _publish_request(request: csi_pb2.NodePublishVolumeRequest) -> PublishRequest:
    """Checks volume_id, target_path and volume_capability, in that order, before anything else; then sizes."""
    _require_volume_id(request.volume_id)
    _require_target_path(request.target_path)
    if not request.HasField("volume_capability"):
        raise InvalidVolume("volume_capability is required")
    capability = request.volume_capability
    access_type = capability.WhichOneof("access_type")
    if access_type == "block":
        raise InvalidVolume("block volumes are not supported")
    if access_type != "mount":
        raise InvalidVolume("volume_capability.mount is required")
    check_sizes(volume_context=request.volume_context, secrets=request.secrets)
    return PublishRequest(
        volume_id=request.volume_id,
        target_path=request.target_path,
        readonly=request.readonly,
        volume_context=MappingProxyType(dict(request.volume_context)),
        secrets=MappingProxyType(dict(request.secrets)),
        volume_mount_group=capability.mount.volume_mount_group,
        access_mode=capability.access_mode.mode,
        fs_type=capability.mount.fs_type,
    )


def _not_served(rpc: str) -> Unimplemented:
    return Unimplemented(f"{rpc} is not implemented: this plugin serves CSI ephemeral inline volumes only")


class NodeServicer(csi_pb2_grpc.NodeServicer):
    """The Node service of one node; `backend` does the volume work."""

    def __init__(self, *, node_id: str, backend: NodeBackend) -> None:
        if not node_id:
            raise ValueError("node id: must not be empty (NodeGetInfo.node_id is required)")
        self._node_id = node_id
        self._backend = backend

    async def NodePublishVolume(
        self, request: csi_pb2.NodePublishVolumeRequest, context: ServicerContext
    ) -> csi_pb2.NodePublishVolumeResponse:
        await self._backend.publish(_publish_request(request))
        return csi_pb2.NodePublishVolumeResponse()

    async def NodeUnpublishVolume(
        self, request: csi_pb2.NodeUnpublishVolumeRequest, context: ServicerContext
    ) -> csi_pb2.NodeUnpublishVolumeResponse:
        # Before anything is unmounted or deleted: the id names a directory under the data root.
        _require_volume_id(request.volume_id)
        _require_target_path(request.target_path)
        await self._backend.unpublish(volume_id=request.volume_id, target_path=request.target_path)
        return csi_pb2.NodeUnpublishVolumeResponse()

    async def NodeGetCapabilities(
        self, request: csi_pb2.NodeGetCapabilitiesRequest, context: ServicerContext
    ) -> csi_pb2.NodeGetCapabilitiesResponse:
        # VOLUME_MOUNT_GROUP: kubelet then sends the pod's fsGroup and leaves ownership to us.
        mount_group = csi_pb2.NodeServiceCapability.RPC(type=csi_pb2.NodeServiceCapability.RPC.VOLUME_MOUNT_GROUP)
        return csi_pb2.NodeGetCapabilitiesResponse(capabilities=[csi_pb2.NodeServiceCapability(rpc=mount_group)])

    async def NodeGetInfo(
        self, request: csi_pb2.NodeGetInfoRequest, context: ServicerContext
    ) -> csi_pb2.NodeGetInfoResponse:
        return csi_pb2.NodeGetInfoResponse(node_id=self._node_id, max_volumes_per_node=0)

    async def NodeStageVolume(
        self, request: csi_pb2.NodeStageVolumeRequest, context: ServicerContext
    ) -> csi_pb2.NodeStageVolumeResponse:
        raise _not_served("NodeStageVolume")

    async def NodeUnstageVolume(
        self, request: csi_pb2.NodeUnstageVolumeRequest, context: ServicerContext
    ) -> csi_pb2.NodeUnstageVolumeResponse:
        raise _not_served("NodeUnstageVolume")

    async def NodeGetVolumeStats(
        self, request: csi_pb2.NodeGetVolumeStatsRequest, context: ServicerContext
    ) -> csi_pb2.NodeGetVolumeStatsResponse:
        raise _not_served("NodeGetVolumeStats")

    async def NodeExpandVolume(
        self, request: csi_pb2.NodeExpandVolumeRequest, context: ServicerContext
    ) -> csi_pb2.NodeExpandVolumeResponse:
        raise _not_served("NodeExpandVolume")
