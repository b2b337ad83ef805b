"""Switching the runtime issuer ConfigMap moves new issuance to its issuer; deleting it falls back to the flags.

The driver sees the ConfigMap only through its field-selected watch, authorised by a Role with
`resourceNames` (see spiffe_node_support), so this also proves that RBAC shape is enough.
"""

from __future__ import annotations

from spiffe_node_support import (
    ACCOUNT,
    DRIVER_NAMESPACE,
    NAMESPACE,
    SpiffeNode,
    eventually,
    leaf,
    pod_yaml,
    spiffe_node,
)

from certcsi.sandbox.certmanager import install_ca_cluster_issuer

SECOND_ISSUER = "spiffe-ca-2"
CHANGED = "issuer changed; it applies from each volume's next issuance"


async def _issuer_of_new_pod(node: SpiffeNode, pod: str) -> str:
    await node.kubelet.apply(pod_yaml(pod, ACCOUNT))
    await node.kubelet.wait_ready(NAMESPACE, pod, timeout=30)
    return leaf(node.files(pod)).issuer.rfc4514_string()


async def test_new_issuance_follows_the_configmap() -> None:
    async with spiffe_node() as node:
        first_ca = await _issuer_of_new_pod(node, "before")
        install_ca_cluster_issuer(
            node.cluster.store, name=SECOND_ISSUER, namespace=DRIVER_NAMESPACE, common_name="second spiffe CA"
        )

        node.set_runtime_issuer(SECOND_ISSUER)
        await eventually(lambda: node.driver_log().count(CHANGED) == 1, what="the driver to adopt the ConfigMap")
        assert await _issuer_of_new_pod(node, "during") == "CN=second spiffe CA"
        assert leaf(node.files("before")).issuer.rfc4514_string() == first_ca  # applies at the next issuance only
        [during] = [r for r in node.requests() if _for_pod(r, "during")]
        assert during["spec"]["issuerRef"] == {
            "name": SECOND_ISSUER,
            "kind": "ClusterIssuer",
            "group": "cert-manager.io",
        }

        node.set_runtime_issuer(None)
        await eventually(lambda: node.driver_log().count(CHANGED) == 2, what="the driver to fall back to the flags")
        assert await _issuer_of_new_pod(node, "after") == first_ca


def _for_pod(request: dict[str, object], pod: str) -> bool:
    owners = request["metadata"].get("ownerReferences") or []  # type: ignore[attr-defined]
    return any(o.get("name") == pod for o in owners)
