"""The CSI Identity service: who this plugin is, what it offers (nothing beyond Node), whether it is ready."""

from __future__ import annotations

import re
from collections.abc import Callable

from google.protobuf import wrappers_pb2

from certcsi.errors import NotReady

from ._gen import csi_pb2, csi_pb2_grpc
from .server import ServicerContext

# The CSI spec allows 63 characters in domain-name form; csi-sanity further requires a letter at
# both ends, and kubelet matches the name against the CSIDriver object's metadata.name.
_PLUGIN_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9.-]{0,61}[A-Za-z])?")


class IdentityServicer(csi_pb2_grpc.IdentityServicer):
    """Answers GetPluginInfo / GetPluginCapabilities / Probe.

    `not_ready` returns None when the driver can serve, else a short reason (never a secret) that
    Probe reports as FAILED_PRECONDITION.
    """

    def __init__(self, *, name: str, version: str, not_ready: Callable[[], str | None]) -> None:
        if not _PLUGIN_NAME.fullmatch(name):
            raise ValueError(
                f"plugin name {name!r}: must be 1-63 letters, digits, '.' or '-', starting and ending with a letter"
            )
        if not version:
            raise ValueError("plugin version: must not be empty (vendor_version is required)")
        self._name = name
        self._version = version
        self._not_ready = not_ready

    async def GetPluginInfo(
        self, request: csi_pb2.GetPluginInfoRequest, context: ServicerContext
    ) -> csi_pb2.GetPluginInfoResponse:
        return csi_pb2.GetPluginInfoResponse(name=self._name, vendor_version=self._version)

    async def GetPluginCapabilities(
        self, request: csi_pb2.GetPluginCapabilitiesRequest, context: ServicerContext
    ) -> csi_pb2.GetPluginCapabilitiesResponse:
        # Empty on purpose: advertising CONTROLLER_SERVICE makes orchestrators call a controller
        # this plugin does not have.
        return csi_pb2.GetPluginCapabilitiesResponse()

    async def Probe(self, request: csi_pb2.ProbeRequest, context: ServicerContext) -> csi_pb2.ProbeResponse:
        reason = self._not_ready()
        if reason is not None:
            raise NotReady(f"driver not ready: {reason}")
        return csi_pb2.ProbeResponse(ready=wrappers_pb2.BoolValue(value=True))
