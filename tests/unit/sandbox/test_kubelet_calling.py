"""gRPC failures worded as kubelet's events word them, and judged final or uncertain as kubelet does."""

from __future__ import annotations

import grpc
import pytest

from certcsi.sandbox.kubelet.calling import CsiCallError, channel_target, go_code_name


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (grpc.StatusCode.OK, "OK"),
        (grpc.StatusCode.CANCELLED, "Canceled"),
        (grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgument"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "DeadlineExceeded"),
        (grpc.StatusCode.FAILED_PRECONDITION, "FailedPrecondition"),
        (grpc.StatusCode.UNAVAILABLE, "Unavailable"),
        (grpc.StatusCode.UNAUTHENTICATED, "Unauthenticated"),
        (grpc.StatusCode.DATA_LOSS, "DataLoss"),
    ],
)
def test_go_code_names(code: grpc.StatusCode, name: str) -> None:
    assert go_code_name(code) == name


def test_error_text_is_grpc_go_style() -> None:
    err = CsiCallError(grpc.StatusCode.INVALID_ARGUMENT, "volume_id: required")
    assert str(err) == "rpc error: code = InvalidArgument desc = volume_id: required"


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    ],
)
def test_uncertain_codes(code: grpc.StatusCode) -> None:
    assert not CsiCallError(code, "").final


@pytest.mark.parametrize("code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN])
def test_final_codes(code: grpc.StatusCode) -> None:
    assert CsiCallError(code, "").final


def test_channel_target() -> None:
    assert channel_target("unix:///run/csi/csi.sock") == "unix:///run/csi/csi.sock"
    assert channel_target("/run/csi/csi.sock") == "unix:///run/csi/csi.sock"
