"""Shared pieces of the kubelet tests: a recording fake CSI Node service, manifests, polling helpers."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import Sandbox
from certcsi.volumes.clock import FakeClock

DRIVER = "csi.example.io"
NODE = "node-1"
RPC = csi_pb2.NodeServiceCapability.RPC


@dataclass
class Published:
    """One NodePublishVolume as the driver received it, plus what was on disk at that moment."""

    request: csi_pb2.NodePublishVolumeRequest
    parent_existed: bool
    vol_data: dict[str, Any] | None


class FakeNode(csi_pb2_grpc.NodeServicer):
    """Records every call; `errors` are answered (in order) to the next publishes; `gate` holds publishes."""

    def __init__(self) -> None:
        self.published: list[Published] = []
        self.unpublished: list[csi_pb2.NodeUnpublishVolumeRequest] = []
        self.capability_calls = 0
        self.capabilities = [RPC.VOLUME_MOUNT_GROUP]
        self.errors: list[tuple[grpc.StatusCode, str]] = []
        self.unpublish_errors: list[tuple[grpc.StatusCode, str]] = []
        self.gate: asyncio.Event | None = None
        self.publish_started = asyncio.Event()

    async def NodeGetCapabilities(
        self, request: csi_pb2.NodeGetCapabilitiesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> csi_pb2.NodeGetCapabilitiesResponse:
        self.capability_calls += 1
        caps = [csi_pb2.NodeServiceCapability(rpc=RPC(type=kind)) for kind in self.capabilities]
        return csi_pb2.NodeGetCapabilitiesResponse(capabilities=caps)

    async def NodePublishVolume(
        self, request: csi_pb2.NodePublishVolumeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> csi_pb2.NodePublishVolumeResponse:
        target = Path(request.target_path)
        data_file = target.parent / "vol_data.json"
        self.published.append(
            Published(
                request=request,
                parent_existed=target.parent.is_dir(),
                vol_data=json.loads(data_file.read_text()) if data_file.exists() else None,
            )
        )
        self.publish_started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.errors:
            code, message = self.errors.pop(0)
            await context.abort(code, message)
        target.mkdir(exist_ok=True)
        (target / "tls.crt").write_text(request.volume_id)
        return csi_pb2.NodePublishVolumeResponse()

    async def NodeUnpublishVolume(
        self, request: csi_pb2.NodeUnpublishVolumeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> csi_pb2.NodeUnpublishVolumeResponse:
        self.unpublished.append(request)
        if self.unpublish_errors:
            code, message = self.unpublish_errors.pop(0)
            await context.abort(code, message)
        shutil.rmtree(request.target_path, ignore_errors=True)
        return csi_pb2.NodeUnpublishVolumeResponse()


def csidriver(**spec: Any) -> dict[str, Any]:
    body = {"podInfoOnMount": True, "volumeLifecycleModes": ["Ephemeral"], "attachRequired": False, **spec}
    return {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": DRIVER}, "spec": body}


SERVICE_ACCOUNT = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "default"}}

POD_YAML = f"""
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
spec:
  serviceAccountName: app
  securityContext:
    fsGroup: 2000
  containers:
    - name: app
      image: busybox
  volumes:
    - name: tls
      csi:
        driver: {DRIVER}
        readOnly: true
        volumeAttributes:
          csi.cert-manager.io/issuer-name: ca
          csi.storage.k8s.io/pod.name: spoofed
    - name: scratch
      emptyDir: {{}}
"""


async def eventually(check: Callable[[], bool], *, timeout: float = 5.0, what: str = "condition") -> None:
    """Poll `check` (real time, 10 ms steps) for work that runs on the event loop, not on the fake clock."""
    try:
        async with asyncio.timeout(timeout):
            while not check():  # noqa: ASYNC110 - the state polled has no event to wait on
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def advance(clock: FakeClock, seconds: float) -> None:
    """Move the fake clock and give woken tasks a chance to run."""
    clock.advance(seconds)
    for _ in range(5):
        await asyncio.sleep(0)


def events(sandbox: Sandbox, *, reason: str = "FailedMount") -> list[dict[str, Any]]:
    return [e for e in sandbox.store.all_objects(BY_KEY["/events"]) if e.get("reason") == reason]
