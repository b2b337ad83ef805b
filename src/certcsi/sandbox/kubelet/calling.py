"""Calling CSI drivers over their unix sockets, the way kubelet's csi_client does.

One channel per driver, `:authority` localhost, a deadline on every call. NodeGetCapabilities is
asked once per driver (kubelet asks before every publish; the answer never changes while a driver
runs). A failed call becomes `CsiCallError`, whose text is Go's `rpc error: code = X desc = Y`
as it appears in kubelet's events, and which knows whether kubelet would consider the outcome
final (nothing mounted) or uncertain (maybe mounted, so it must be unpublished later).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass

import grpc

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc

DEFAULT_TIMEOUT = 120.0

# kubelet's isFinalError: these codes leave the volume in an uncertain state.
_UNCERTAIN = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)
_GO_NAMES = {grpc.StatusCode.OK: "OK", grpc.StatusCode.CANCELLED: "Canceled"}


def go_code_name(code: grpc.StatusCode) -> str:
    """The name grpc-go prints for a code: `INVALID_ARGUMENT` -> `InvalidArgument`."""
    return _GO_NAMES.get(code) or "".join(part.capitalize() for part in code.name.split("_"))


class CsiCallError(Exception):
    """A CSI call failed; `str()` is the text kubelet puts after `MountVolume.SetUp failed ... : `."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"rpc error: code = {go_code_name(code)} desc = {details}")
        self.code = code
        self.details = details

    @property
    def final(self) -> bool:
        """True when the driver certainly did not (or no longer) publish the volume."""
        return self.code not in _UNCERTAIN


@dataclass(frozen=True)
class NodeCapabilities:
    """The Node service capabilities kubelet acts on for inline volumes."""

    volume_mount_group: bool = False
    single_node_multi_writer: bool = False

    @classmethod
    def from_response(cls, response: csi_pb2.NodeGetCapabilitiesResponse) -> NodeCapabilities:
        kinds = {cap.rpc.type for cap in response.capabilities if cap.HasField("rpc")}
        rpc = csi_pb2.NodeServiceCapability.RPC
        return cls(
            volume_mount_group=rpc.VOLUME_MOUNT_GROUP in kinds,
            single_node_multi_writer=rpc.SINGLE_NODE_MULTI_WRITER in kinds,
        )


def channel_target(endpoint: str) -> str:
    """A gRPC target for a CSI endpoint: `unix:///abs.sock` as given, a bare path made absolute."""
    if endpoint.startswith("unix:"):
        return endpoint
    return "unix://" + os.path.abspath(endpoint)


def _error(exc: grpc.aio.AioRpcError) -> CsiCallError:
    return CsiCallError(exc.code(), exc.details() or "")


class DriverClient:
    """One driver's Node service over one channel."""

    def __init__(self, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self._timeout = timeout
        self._channel = grpc.aio.insecure_channel(
            channel_target(endpoint), options=[("grpc.default_authority", "localhost")]
        )
        self._node = csi_pb2_grpc.NodeStub(self._channel)
        self._capabilities: NodeCapabilities | None = None

    async def capabilities(self) -> NodeCapabilities:
        if self._capabilities is None:
            try:
                response = await self._node.NodeGetCapabilities(
                    csi_pb2.NodeGetCapabilitiesRequest(), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as exc:
                raise _error(exc) from None
            self._capabilities = NodeCapabilities.from_response(response)
        return self._capabilities

    async def publish(self, request: csi_pb2.NodePublishVolumeRequest) -> None:
        try:
            await self._node.NodePublishVolume(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None

    async def unpublish(self, *, volume_id: str, target_path: str) -> None:
        request = csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume_id, target_path=target_path)
        try:
            await self._node.NodeUnpublishVolume(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None

    async def close(self) -> None:
        await self._channel.close(None)


class DriverRegistry:
    """The drivers registered on this node (name -> endpoint), each with a lazily opened client.

    Drivers given at construction are registered for good; the registrar sidecar of a driver's pod
    registers (and, when the pod goes, unregisters) the others.
    """

    def __init__(self, drivers: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._endpoints = dict(drivers)
        self._timeout = timeout
        self._clients: dict[str, DriverClient] = {}
        self._closing: set[asyncio.Future[None]] = set()

    def get(self, driver_name: str) -> DriverClient | None:
        """The client, or None when no such driver registered (kubelet treats that as transient)."""
        client = self._clients.get(driver_name)
        if client is None:
            endpoint = self._endpoints.get(driver_name)
            if endpoint is None:
                return None
            client = self._clients[driver_name] = DriverClient(endpoint, timeout=self._timeout)
        return client

    def register(self, driver_name: str, endpoint: str) -> None:
        """Register `driver_name` at `endpoint`; an empty endpoint unregisters it."""
        old = self._clients.pop(driver_name, None)
        if old is not None:
            self._closing.add(asyncio.ensure_future(old.close()))
        if endpoint:
            self._endpoints[driver_name] = endpoint
        else:
            self._endpoints.pop(driver_name, None)

    async def close(self) -> None:
        await asyncio.gather(*self._closing, return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
