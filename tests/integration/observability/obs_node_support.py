"""A node's engine against the in-process sandbox: real Issuance (one label-selected watch), real Manager,
real Store on a plain directory with FakeMounter, the node's telemetry (metrics, probes, Pod events).

    async with observed_node(tmp_path, approve=False) as node:
        pod = node.pod("web-0")
        await node.manager.publish(node.request(pod))
        text = await node.scrape()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio.client import CoreV1Api
from kubernetes_asyncio.config import new_client_from_config

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.endpoints import BindAddress
from certcsi.kube import Kube, connect
from certcsi.observability.node import NodeTelemetry
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.volumes.clock import Clock, SystemClock
from certcsi.volumes.issuance import Issuance
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.schedule import RateBudget
from certcsi.volumes.store import Store

CSI_OWNER = Owner("csi.cert-manager.io")

NODE_ID = "node-1"
NAMESPACE = "team-a"
ACCOUNT = "web"
RBAC = "rbac.authorization.k8s.io"
REQUESTS = BY_KEY["cert-manager.io/certificaterequests"]


@dataclass(frozen=True)
class Publish:
    """A NodePublishVolume as the engine takes it."""

    volume_id: str
    target_path: str
    volume_context: dict[str, str]
    readonly: bool = True
    secrets: dict[str, str] = field(default_factory=dict)
    volume_mount_group: str = ""


@dataclass
class Node:
    sandbox: Sandbox
    kube: Kube
    kubeconfig: Path
    telemetry: NodeTelemetry
    issuance: Issuance
    manager: Manager
    store: Store
    root: Path

    def create(self, resource: str, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        created: dict[str, Any] = self.sandbox.store.create(BY_KEY[resource], obj, namespace=namespace)
        return created

    def pod(self, name: str = "web-0") -> dict[str, Any]:
        """Namespace, a service account allowed to create CertificateRequests, and a pod on this node."""
        if self.sandbox.store.find(BY_KEY["/namespaces"], None, NAMESPACE) is None:
            self.create("/namespaces", {"metadata": {"name": NAMESPACE}})
            self.create("/serviceaccounts", {"metadata": {"name": ACCOUNT}}, NAMESPACE)
            rule = {"apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"], "verbs": ["create"]}
            self.create(f"{RBAC}/roles", {"metadata": {"name": "cr-creator"}, "rules": [rule]}, NAMESPACE)
            binding = {
                "metadata": {"name": "cr-creator"},
                "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}],
                "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "cr-creator"},
            }
            self.create(f"{RBAC}/rolebindings", binding, NAMESPACE)
        spec = {"serviceAccountName": ACCOUNT, "nodeName": NODE_ID, "containers": [{"name": "c", "image": "x"}]}
        return self.create("/pods", {"metadata": {"name": name}, "spec": spec}, NAMESPACE)

    def publish(self, pod: dict[str, Any], volume_id: str = "csi-vol-1", **attributes: str) -> Publish:
        meta = pod["metadata"]
        target = self.root / "pods" / meta["uid"] / "volumes" / "tls" / "mount"
        target.parent.mkdir(parents=True, exist_ok=True)
        context = {
            "csi.storage.k8s.io/ephemeral": "true",
            "csi.storage.k8s.io/pod.namespace": NAMESPACE,
            "csi.storage.k8s.io/pod.name": meta["name"],
            "csi.storage.k8s.io/pod.uid": meta["uid"],
            "csi.storage.k8s.io/serviceAccount.name": ACCOUNT,
            "csi.cert-manager.io/issuer-name": CA_ISSUER,
            "csi.cert-manager.io/issuer-kind": "ClusterIssuer",
            "csi.cert-manager.io/dns-names": "${POD_NAME}.${POD_NAMESPACE}.svc",
            "csi.cert-manager.io/key-algorithm": "ECDSA",
            "csi.cert-manager.io/duration": "1h",
        }
        context.update({f"csi.cert-manager.io/{k.replace('_', '-')}": v for k, v in attributes.items()})
        return Publish(volume_id=volume_id, target_path=str(target), volume_context=context)

    def token_for(self, pod: dict[str, Any]) -> str:
        """A token for the pod's service account, bound to the pod, as kubelet's TokenRequest returns it."""
        token, _ = self.sandbox.authority.mint(
            namespace=NAMESPACE,
            service_account=ACCOUNT,
            audiences=None,
            bound_pod=(pod["metadata"]["name"], pod["metadata"]["uid"]),
        )
        return token

    def requests(self) -> list[dict[str, Any]]:
        found, _ = self.sandbox.store.list(REQUESTS, NAMESPACE)
        return list(found)

    def deny(self, name: str, message: str) -> None:
        """What an approver does: Denied=True through the status subresource."""

        def change(obj: dict[str, Any]) -> None:
            condition = {
                "type": "Denied",
                "status": "True",
                "reason": "policy.example.io",
                "message": message,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
            obj.setdefault("status", {}).setdefault("conditions", []).append(condition)

        self.sandbox.store.mutate(REQUESTS, NAMESPACE, name, change, subresource="status")

    async def deny_next(self, message: str) -> str:
        """Wait for a request nobody has decided yet (created by another task through the API), deny it."""

        def undecided() -> list[dict[str, Any]]:
            return [
                r
                for r in self.requests()
                if not any(c.get("type") == "Denied" for c in (r.get("status") or {}).get("conditions") or [])
            ]

        async with asyncio.timeout(10):
            while not undecided():  # noqa: ASYNC110 - the engine creates it through the API
                await asyncio.sleep(0.02)
        name = str(undecided()[0]["metadata"]["name"])
        self.deny(name, message)
        return name

    async def pod_events(self, pod: str) -> list[dict[str, Any]]:
        """The pod's Events, listed through the API (as `kubectl describe pod` does)."""
        await self.telemetry.events.flush()
        api = await new_client_from_config(config_file=str(self.kubeconfig))
        async with api:
            listing = await CoreV1Api(api).list_namespaced_event(NAMESPACE, field_selector=f"involvedObject.name={pod}")
            body: dict[str, Any] = api.sanitize_for_serialization(listing)
        return list(body["items"])

    def endpoint(self) -> str:
        (endpoint,) = self.telemetry.endpoints
        return f"http://127.0.0.1:{endpoint.port}"

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(self.endpoint() + path) as response:
            return response.status, await response.text()

    async def scrape(self) -> str:
        status, text = await self.get("/metrics")
        assert status == 200, text
        return text


@contextlib.asynccontextmanager
async def observed_node(
    tmp_path: Path,
    *,
    approve: bool = True,
    clock: Clock | None = None,
    use_token_request: bool = False,
    issue_timeout: float = 10.0,
    start: bool = True,
) -> AsyncIterator[Node]:
    """Sandbox, the node's telemetry serving on a free loopback port, issuance and engine.

    `start=False` leaves the watch and the engine unstarted (the caller starts them, to see /readyz change).
    """
    engine_clock = clock or SystemClock()
    async with Sandbox(approve=approve) as sandbox:
        kubeconfig = tmp_path / "kubeconfig"
        sandbox.write_kubeconfig(kubeconfig)
        async with await connect(kubeconfig=str(kubeconfig), qps=0, burst=1) as kube:
            telemetry = NodeTelemetry(
                kube=kube,
                node_id=NODE_ID,
                component="csi.cert-manager.io",
                metrics_address=BindAddress(host="127.0.0.1", port=0),
                readiness_address=None,
            )
            issuance = Issuance(kube=telemetry.requests, node_id=NODE_ID, timeout=issue_timeout)
            mounter = FakeMounter()
            store = Store(data_root=tmp_path / "data", mounter=mounter, owner=CSI_OWNER)
            manager = Manager(
                driver=CertManagerDriver(),
                store=store,
                mounter=mounter,
                issuance=issuance,
                clock=engine_clock,
                rate=RateBudget(qps=100, burst=100, clock=engine_clock),
                use_token_request=use_token_request,
                issue_timeout=issue_timeout,
                observer=telemetry.observer,
            )
            telemetry.attach(manager=manager, issuance=issuance, now=engine_clock.now)
            node = Node(sandbox, kube, kubeconfig, telemetry, issuance, manager, store, tmp_path)
            await telemetry.start()
            try:
                if start:
                    await issuance.start()
                    await manager.start()
                yield node
            finally:
                await manager.stop()
                await issuance.stop()
                await telemetry.stop()
