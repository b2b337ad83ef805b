"""With no --issuer-name, pods wait (a FailedMount saying how to configure an issuer) until the ConfigMap exists."""

from __future__ import annotations

from spiffe_node_support import ACCOUNT, CONFIGMAP, DRIVER_NAMESPACE, NAMESPACE, eventually, pod_yaml, spiffe_node

from certcsi.sandbox.cluster import CA_ISSUER


async def test_the_pod_waits_for_the_runtime_configmap() -> None:
    async with spiffe_node(issuer=None) as node:
        await node.kubelet.apply(pod_yaml("web", ACCOUNT))
        await eventually(lambda: bool(node.failed_mounts("web")), what="a FailedMount event")
        [message, *_] = node.failed_mounts("web")
        assert "no issuer is configured" in message
        assert f"create the runtime ConfigMap {DRIVER_NAMESPACE}/{CONFIGMAP}" in message
        assert node.requests() == []

        node.set_runtime_issuer(CA_ISSUER)
        await node.kubelet.wait_ready(NAMESPACE, "web", timeout=30)  # kubelet's retry now succeeds
        assert "tls.crt" in node.files("web")
