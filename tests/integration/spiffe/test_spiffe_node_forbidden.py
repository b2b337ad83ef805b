"""A pod whose account may not create CertificateRequests gets a FailedMount saying so, and no certificate."""

from __future__ import annotations

import pytest
from spiffe_node_support import NAMESPACE, NO_RBAC_ACCOUNT, eventually, pod_yaml, spiffe_node

from certcsi.sandbox.kubelet import PodNotReady


async def test_the_permission_problem_is_named_in_the_pod_events() -> None:
    async with spiffe_node() as node:
        await node.kubelet.apply(pod_yaml("locked-out", NO_RBAC_ACCOUNT))
        await eventually(lambda: bool(node.failed_mounts("locked-out")), what="a FailedMount event")
        [message, *_] = node.failed_mounts("locked-out")
        assert (
            f'User "system:serviceaccount:{NAMESPACE}:{NO_RBAC_ACCOUNT}" cannot create resource "certificaterequests" '
            f'in API group "cert-manager.io" in the namespace "{NAMESPACE}"'
        ) in message
        assert "eyJ" not in message  # no token (JWTs start with a base64 '{"')
        with pytest.raises(PodNotReady):
            await node.kubelet.wait_ready(NAMESPACE, "locked-out", timeout=0.5)
        assert node.requests() == []
