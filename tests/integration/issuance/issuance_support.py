"""Setting the scene in the sandbox: namespaces, service accounts, RBAC, pods, tokens, volumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import CoreV1Api
from kubernetes_asyncio.config import new_client_from_config

from certcsi.kube import Kube
from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.keys import KeySpec, generate_private_key
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.volumes.driver import IssuerRef, RequestPlan, Volume

RBAC = "rbac.authorization.k8s.io"
NAMESPACE = "team-a"
ACCOUNT = "web"


@dataclass
class World:
    sandbox: Sandbox
    kube: Kube
    kubeconfig: Path

    def create(self, resource: str, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        created: dict[str, Any] = self.sandbox.store.create(BY_KEY[resource], obj, namespace=namespace)
        return created

    def request(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.sandbox.store.find(
            BY_KEY["cert-manager.io/certificaterequests"], NAMESPACE, name
        )
        return found

    def pod(self, name: str = "web-0", *, may_create_requests: bool = True) -> dict[str, Any]:
        """Namespace, service account (with or without RBAC to create requests) and a pod using it."""
        if self.sandbox.store.find(BY_KEY["/namespaces"], None, NAMESPACE) is None:
            self.create("/namespaces", {"metadata": {"name": NAMESPACE}})
            self.create("/serviceaccounts", {"metadata": {"name": ACCOUNT}}, NAMESPACE)
        if may_create_requests and self.sandbox.store.find(BY_KEY[f"{RBAC}/roles"], NAMESPACE, "cr-creator") is None:
            rule = {"apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"], "verbs": ["create"]}
            self.create(f"{RBAC}/roles", {"metadata": {"name": "cr-creator"}, "rules": [rule]}, NAMESPACE)
            binding = {
                "metadata": {"name": "cr-creator"},
                "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}],
                "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "cr-creator"},
            }
            self.create(f"{RBAC}/rolebindings", binding, NAMESPACE)
        pod = {
            "metadata": {"name": name},
            "spec": {"serviceAccountName": ACCOUNT, "nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]},
        }
        return self.create("/pods", pod, NAMESPACE)

    async def token_for(self, pod: dict[str, Any]) -> str:
        """A service-account token bound to `pod`, minted through the API's TokenRequest (as kubelet does)."""
        api = await new_client_from_config(config_file=str(self.kubeconfig))
        async with api:
            answer = await CoreV1Api(api).create_namespaced_service_account_token(
                ACCOUNT,
                NAMESPACE,
                {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": {
                        "expirationSeconds": 3600,
                        "boundObjectRef": {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "name": pod["metadata"]["name"],
                            "uid": pod["metadata"]["uid"],
                        },
                    },
                },
            )
        token: str = answer.status.token
        return token


def volume_for(pod: dict[str, Any], volume_id: str = "csi-vol-1") -> Volume:
    return Volume(
        volume_id=volume_id,
        target_path=f"/var/lib/kubelet/pods/{pod['metadata']['uid']}/volumes/kubernetes.io~csi/tls/mount",
        attributes={
            "csi.cert-manager.io/issuer-name": CA_ISSUER,
            "csi.storage.k8s.io/pod.namespace": NAMESPACE,
            "csi.storage.k8s.io/pod.name": pod["metadata"]["name"],
            "csi.storage.k8s.io/pod.uid": pod["metadata"]["uid"],
            "csi.storage.k8s.io/serviceAccount.name": ACCOUNT,
        },
    )


def plan(*, token: str | None = None) -> RequestPlan:
    key = generate_private_key(KeySpec("ECDSA"))
    return RequestPlan(
        csr_pem=build_csr(key, CsrSpec(dns_names=("web-0.team-a.svc.cluster.local",))),
        issuer_ref=IssuerRef(name=CA_ISSUER, kind="ClusterIssuer"),
        duration=timedelta(hours=1),
        is_ca=False,
        usages=("digital signature", "key encipherment", "server auth"),
        token=token,
    )
