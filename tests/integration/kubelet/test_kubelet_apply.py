"""apply(): real YAML through the API, pods bound to this node unless they name another."""

from __future__ import annotations

import asyncio

import pytest
from kubelet_harness import DRIVER, NODE, FakeNode

from certcsi.errors import KubernetesError
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import Kubelet, ManifestError

MANIFEST = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: api
  namespace: shop
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: cr-reader
  namespace: shop
rules:
  - apiGroups: [cert-manager.io]
    resources: [certificaterequests]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: cr-reader
  namespace: shop
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: cr-reader}}
subjects: [{{kind: ServiceAccount, name: api, namespace: shop}}]
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: {DRIVER}
spec:
  podInfoOnMount: true
  volumeLifecycleModes: [Ephemeral]
---
apiVersion: v1
kind: Pod
metadata:
  name: api
  namespace: shop
spec:
  serviceAccountName: api
  containers: [{{name: app, image: busybox}}]
  volumes:
    - name: tls
      csi:
        driver: {DRIVER}
        readOnly: true
        volumeAttributes:
          csi.cert-manager.io/issuer-name: ca
          csi.cert-manager.io/dns-names: ${{POD_NAME}}.${{POD_NAMESPACE}}.svc.cluster.local
"""


async def test_every_document_is_created_and_the_pod_lands_here(
    kubelet: Kubelet, node: FakeNode, sandbox: Sandbox
) -> None:
    created = await kubelet.apply(MANIFEST)
    assert [obj["kind"] for obj in created] == [
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "CSIDriver",
        "Pod",
    ]
    pod = sandbox.store.get(BY_KEY["/pods"], "shop", "api")
    assert pod["spec"]["nodeName"] == NODE
    await kubelet.wait_ready("shop", "api", timeout=5)
    attributes = node.published[0].request.volume_context
    assert attributes["csi.cert-manager.io/dns-names"] == "${POD_NAME}.${POD_NAMESPACE}.svc.cluster.local"


async def test_existing_objects_are_left_but_a_pod_twice_is_an_error(kubelet: Kubelet) -> None:
    await kubelet.apply(MANIFEST)
    await kubelet.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    with pytest.raises(KubernetesError) as caught:
        await kubelet.apply(MANIFEST.rsplit("---", maxsplit=1)[-1])
    assert caught.value.status == 409


async def test_a_pod_for_another_node_is_not_ours(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    docs = MANIFEST.split("---")
    await kubelet.apply("---".join([*docs[:2], docs[-2]]))  # Namespace, ServiceAccount, CSIDriver
    await kubelet.apply(docs[-1].replace("spec:\n", "spec:\n  nodeName: node-2\n", 1))
    assert sandbox.store.get(BY_KEY["/pods"], "shop", "api")["spec"]["nodeName"] == "node-2"
    with pytest.raises(LookupError):
        kubelet.pod_volume_path("shop", "api", "tls")
    await kubelet.apply(docs[-1].replace("name: api\n  namespace", "name: mine\n  namespace", 1))
    await kubelet.wait_ready("shop", "mine", timeout=5)
    await asyncio.sleep(0.1)
    assert [call.request.volume_context["csi.storage.k8s.io/pod.name"] for call in node.published] == ["mine"]


async def test_unknown_kind_is_refused(kubelet: Kubelet) -> None:
    with pytest.raises(ManifestError, match="no matches for kind"):
        await kubelet.apply({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"}})
