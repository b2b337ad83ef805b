"""Shared pieces of the CSI tests: constants, the fake backend, a stepping clock, request builders."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.csi.node import PublishRequest
from certcsi.csi.server import CsiServer

DRIVER_NAME = "csi.cert-manager.io"
NODE_ID = "test-node"
VOLUME_ID = "csi-" + "ab" * 32
TARGET = "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/tls/mount"


@dataclass
class FakeBackend:
    """Records every call; raises `error` from both methods when it is set."""

    published: list[PublishRequest] = field(default_factory=list)
    unpublished: list[tuple[str, str]] = field(default_factory=list)
    error: BaseException | None = None

    async def publish(self, request: PublishRequest) -> None:
        self.published.append(request)
        if self.error is not None:
            raise self.error

    async def unpublish(self, *, volume_id: str, target_path: str) -> None:
        self.unpublished.append((volume_id, target_path))
        if self.error is not None:
            raise self.error


class SteppingClock:
    """Each reading is `step` seconds after the previous one."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@dataclass
class Harness:
    server: CsiServer
    channel: grpc.aio.Channel
    identity: csi_pb2_grpc.IdentityAsyncStub  # type-check-only name: annotations are never evaluated
    node: csi_pb2_grpc.NodeAsyncStub
    backend: FakeBackend
    readiness: dict[str, str | None]


def publish_request(**overrides: object) -> csi_pb2.NodePublishVolumeRequest:
    """A NodePublishVolumeRequest as kubelet sends it for an inline volume, with `overrides` applied."""
    fields: dict[str, object] = {
        "volume_id": VOLUME_ID,
        "target_path": TARGET,
        "readonly": True,
        "volume_capability": csi_pb2.VolumeCapability(
            mount=csi_pb2.VolumeCapability.MountVolume(),
            access_mode=csi_pb2.VolumeCapability.AccessMode(
                mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
            ),
        ),
        "volume_context": {
            "csi.storage.k8s.io/ephemeral": "true",
            "csi.storage.k8s.io/pod.namespace": "default",
            "csi.storage.k8s.io/pod.name": "web-0",
        },
    }
    fields.update(overrides)
    return csi_pb2.NodePublishVolumeRequest(**fields)  # type: ignore[arg-type]
