"""Identity service: plugin info, an empty capability list, and Probe readiness."""

from __future__ import annotations

import grpc
import pytest
from csi_harness import DRIVER_NAME, Harness

from certcsi.csi._gen import csi_pb2
from certcsi.csi.identity import IdentityServicer


async def test_plugin_info_names_the_driver_and_version(csi: Harness) -> None:
    info = await csi.identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest())
    assert info.name == DRIVER_NAME
    assert info.vendor_version == "v0.1.0"
    assert dict(info.manifest) == {}


async def test_plugin_capabilities_are_empty(csi: Harness) -> None:
    response = await csi.identity.GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest())
    assert list(response.capabilities) == []


async def test_probe_reports_ready_explicitly(csi: Harness) -> None:
    response = await csi.identity.Probe(csi_pb2.ProbeRequest())
    assert response.HasField("ready")
    assert response.ready.value is True


async def test_probe_when_not_ready_is_failed_precondition_with_reason(csi: Harness) -> None:
    csi.readiness["reason"] = "tmpfs not mounted"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.identity.Probe(csi_pb2.ProbeRequest())
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == "driver not ready: tmpfs not mounted"


@pytest.mark.parametrize("name", ["csi.cert-manager.io", "spiffe.csi.cert-manager.io", "a"])
def test_accepts_names_csi_sanity_accepts(name: str) -> None:
    IdentityServicer(name=name, version="1", not_ready=lambda: None)


@pytest.mark.parametrize("name", ["", "-csi.io", "csi.io.", "csi-driver-2", "a" * 64, "csi_driver"])
def test_rejects_names_csi_sanity_rejects(name: str) -> None:
    with pytest.raises(ValueError, match="plugin name"):
        IdentityServicer(name=name, version="1", not_ready=lambda: None)


def test_rejects_empty_version() -> None:
    with pytest.raises(ValueError, match="version"):
        IdentityServicer(name=DRIVER_NAME, version="", not_ready=lambda: None)
