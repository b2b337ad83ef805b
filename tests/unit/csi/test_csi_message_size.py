"""Sizes: an error message always fits the reply, and oversized volume contexts are refused by name."""

from __future__ import annotations

import json

import grpc
import pytest
from csi_harness import Harness, publish_request

from certcsi import errors
from certcsi.csi.limits import MAX_CONTEXT_BYTES, MAX_VALUE_BYTES

KUBELET_CONTEXT = {
    "csi.storage.k8s.io/ephemeral": "true",
    "csi.storage.k8s.io/pod.namespace": "default",
    "csi.storage.k8s.io/pod.name": "web-0",
    "csi.storage.k8s.io/pod.uid": "0b6c1d5e-7f0a-4c1e-9d55-1b2f3a4b5c6d",
    "csi.storage.k8s.io/serviceAccount.name": "web",
}


async def _error(csi: Harness, **overrides: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await csi.node.NodePublishVolume(publish_request(**overrides))
    return caught.value


@pytest.mark.parametrize("unit", ["x", "é", "\n"])
async def test_a_huge_error_message_still_reaches_the_caller(csi: Harness, unit: str) -> None:
    csi.backend.error = errors.InvalidVolume("bad value " + unit * 70_000)
    error = await _error(csi)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith("bad value " + unit * 10)
    assert len((error.details() or "").encode()) <= 4096


async def test_a_value_over_the_limit_is_refused_by_key_before_the_backend(csi: Harness) -> None:
    key = "csi.cert-manager.io/dns-names"
    context = {**KUBELET_CONTEXT, key: "a" * (MAX_VALUE_BYTES + 1)}
    error = await _error(csi, volume_context=context)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert key in (error.details() or "")
    assert str(MAX_VALUE_BYTES) in (error.details() or "")
    assert len(error.details() or "") < 1000
    assert csi.backend.published == []


async def test_a_context_over_the_limit_is_refused_before_the_backend(csi: Harness) -> None:
    count = MAX_CONTEXT_BYTES // MAX_VALUE_BYTES + 1
    context = {**KUBELET_CONTEXT, **{f"example.com/k{i}": "v" * MAX_VALUE_BYTES for i in range(count)}}
    error = await _error(csi, volume_context=context)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "volume_context" in (error.details() or "")
    assert str(MAX_CONTEXT_BYTES) in (error.details() or "")
    assert csi.backend.published == []


async def test_an_oversized_secret_is_named_by_key_only(csi: Harness) -> None:
    secret = "s3cr3t-" * (MAX_VALUE_BYTES // 7 + 1)
    error = await _error(csi, secrets={"csi.cert-manager.io/pkcs12-password": secret})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "csi.cert-manager.io/pkcs12-password" in (error.details() or "")
    assert "s3cr3t" not in (error.details() or "")
    assert csi.backend.published == []


def _tokens(audiences: int) -> str:
    token = "eyJhbGciOiJSUzI1NiJ9." + "p" * 1200 + "." + "s" * 342  # a bound token's size
    return json.dumps(
        {f"aud-{i}": {"token": token, "expirationTimestamp": "2030-01-01T00:00:00Z"} for i in range(audiences)}
    )


async def test_the_largest_legitimate_pod_passes(csi: Harness) -> None:
    # 2,000 SANs of 253 characters, many audiences' tokens and a long literal subject: big, but a Pod can hold it.
    dns_names = ",".join(f"{i:04d}" + "a" * 249 for i in range(2000))
    context = {
        **KUBELET_CONTEXT,
        "csi.storage.k8s.io/serviceAccount.tokens": _tokens(20),
        "csi.cert-manager.io/issuer-name": "ca",
        "csi.cert-manager.io/dns-names": dns_names,
        "csi.cert-manager.io/literal-subject": "CN=x," + ",".join(f"OU=u{i}" for i in range(2000)),
        "venafi.cert-manager.io/custom-fields": json.dumps(
            [{"name": f"f{i}", "value": "v" * 100} for i in range(1500)]
        ),
    }
    await csi.node.NodePublishVolume(publish_request(volume_context=context, secrets={"k": _tokens(20)}))
    assert len(csi.backend.published) == 1
