"""Updating the CA bundle Secret rewrites ca.crt in the live volume; certificate and key stay as they were."""

from __future__ import annotations

from spiffe_node_support import ACCOUNT, NAMESPACE, ca_certificate, eventually, pod_yaml, spiffe_node

from certcsi.pki.certs import certificate_pem
from certcsi.pki.signing import create_ca


async def test_a_bundle_update_reaches_the_running_pod() -> None:
    async with spiffe_node() as node:
        await node.kubelet.apply(pod_yaml("web", ACCOUNT))
        await node.kubelet.wait_ready(NAMESPACE, "web", timeout=30)
        before = node.files("web")
        assert before["ca.crt"] == ca_certificate(node.cluster)

        rotated = ca_certificate(node.cluster) + certificate_pem(create_ca(common_name="next CA")[1])
        node.bundle.update(rotated)
        await eventually(lambda: node.files("web")["ca.crt"] == rotated, timeout=5, what="the new ca.crt in the pod")
        after = node.files("web")
        assert (after["tls.crt"], after["tls.key"]) == (before["tls.crt"], before["tls.key"])
