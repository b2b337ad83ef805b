"""Every certcsi.errors class reaches the client as its grpc_code and message; anything else as INTERNAL."""

from __future__ import annotations

import inspect
import logging

import grpc
import pytest
from csi_harness import TARGET, VOLUME_ID, Harness, publish_request

from certcsi import errors
from certcsi.csi._gen import csi_pb2
from certcsi.csi.server import INTERNAL_MESSAGE

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"

CASES: list[tuple[errors.CertcsiError, grpc.StatusCode]] = [
    (errors.CertcsiError("engine gave up"), grpc.StatusCode.INTERNAL),
    (errors.InvalidVolume("pod.spec.volumes[].csi.readOnly must be set to 'true'"), grpc.StatusCode.INVALID_ARGUMENT),
    (
        errors.InvalidVolumeAttribute("csi.cert-manager.io/duration", "must be a Go duration such as 24h"),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    (errors.IncompatiblePublish("published here with other attributes"), grpc.StatusCode.ALREADY_EXISTS),
    (errors.UnusableTarget("target_path /t: the target is a symbolic link"), grpc.StatusCode.FAILED_PRECONDITION),
    (errors.StorageExhausted("volume v: no space left on the volume tmpfs"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.NotReady("tmpfs not mounted"), grpc.StatusCode.FAILED_PRECONDITION),
    (errors.IssuanceError("no certificate"), grpc.StatusCode.INTERNAL),
    (errors.IssuanceDenied('request "r" has been denied by the approval plugin: no'), grpc.StatusCode.INTERNAL),
    (errors.IssuanceFailed('request "r" has failed: issuer down'), grpc.StatusCode.INTERNAL),
    (errors.IssuanceTimeout("no terminal state within 60s; last reason Pending"), grpc.StatusCode.DEADLINE_EXCEEDED),
    (errors.IssuerUnavailable("no SPIFFE issuer configured"), grpc.StatusCode.UNAVAILABLE),
    (errors.KubernetesError("api server unreachable"), grpc.StatusCode.UNAVAILABLE),
    (errors.KubernetesError("forbidden", status=403, reason="Forbidden"), grpc.StatusCode.PERMISSION_DENIED),
]


def test_every_error_class_is_covered() -> None:
    declared = {cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.CertcsiError)}
    assert declared == {type(error) for error, _ in CASES}


@pytest.mark.parametrize(("error", "code"), CASES, ids=lambda v: type(v).__name__ if isinstance(v, Exception) else "")
async def test_publish_error_becomes_its_code_and_message(
    csi: Harness, error: errors.CertcsiError, code: grpc.StatusCode
) -> None:
    csi.backend.error = error
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.node.NodePublishVolume(publish_request())
    assert caught.value.code() == code
    assert caught.value.details() == str(error)


async def test_unpublish_errors_are_mapped_the_same_way(csi: Harness) -> None:
    csi.backend.error = errors.KubernetesError("forbidden", status=403)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(volume_id=VOLUME_ID, target_path=TARGET))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_unexpected_exception_is_internal_with_generic_message(
    csi: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    csi.backend.error = RuntimeError(f"bug while holding {JWT}")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.node.NodePublishVolume(publish_request())
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details() == INTERNAL_MESSAGE
    # The traceback is logged for the operator, with the token scrubbed out of it.
    assert "RuntimeError: bug while holding <redacted>" in caplog.text
    assert JWT not in caplog.text


async def test_domain_error_message_is_scrubbed_before_it_leaves(csi: Harness) -> None:
    csi.backend.error = errors.IssuanceFailed(f"request failed for token {JWT}")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.node.NodePublishVolume(publish_request())
    assert caught.value.details() == "request failed for token <redacted>"
