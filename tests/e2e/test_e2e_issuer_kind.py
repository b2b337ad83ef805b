"""A misspelt issuer-kind for a cert-manager.io issuer is bad input: a FailedMount that names it, no request."""

from __future__ import annotations

import pytest
from e2e_harness import E2E, NAMESPACE, P, eventually, pod_manifest, typical_attributes

pytestmark = pytest.mark.e2e


async def test_misspelt_issuer_kind_fails_as_invalid_argument(env: E2E) -> None:
    await env.kubelet.apply(pod_manifest("typo", typical_attributes(**{"issuer-kind": "Clusterissuer"})))
    await eventually(lambda: env.kubelet.last_failure(NAMESPACE, "typo") is not None, timeout=20, what="FailedMount")
    message = env.kubelet.last_failure(NAMESPACE, "typo") or ""
    assert "code = InvalidArgument" in message and P + "issuer-kind" in message, message
    assert await env.certificate_requests() == []
