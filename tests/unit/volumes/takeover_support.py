"""Shared by the take-over tests in both directions: pods with bound tokens, volume contexts, and a node
running certcsi's drivers (real Issuance and Manager) over one data root, with a pretend cert-manager."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

from csi_lib_format import PKCS12_PASSWORD, go_time
from signing_kube import Processes

from certcsi.drivers.spiffe import RuntimeIssuer, SpiffeDriver
from certcsi.sandbox.apiserver.authn import PODS, SERVICEACCOUNTS, TokenAuthority
from certcsi.volumes.driver import Driver, IssuerRef
from certcsi.volumes.manager import Manager

CSI = "csi.cert-manager.io"
SPIFFE = "spiffe.csi.cert-manager.io"
NS = "team"
PASSWORD = "p12-secret-4f7e"


class Objects:
    """The pods and service accounts the token authority checks bound tokens against."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, object]] = {}

    def add_pod(self, name: str, uid: str, account: str) -> None:
        self.objects[(SERVICEACCOUNTS, NS, account)] = {"metadata": {"name": account, "namespace": NS, "uid": "sa"}}
        self.objects[(PODS, NS, name)] = {
            "metadata": {"name": name, "namespace": NS, "uid": uid},
            "spec": {"serviceAccountName": account},
        }

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, object] | None:
        return self.objects.get((resource, namespace, name))

    def list(self, resource: str, namespace: str | None) -> list[dict[str, object]]:
        return [o for (r, ns, _), o in self.objects.items() if r == resource and namespace in (None, ns)]


OBJECTS = Objects()
OBJECTS.add_pod("web-0", "uid-web", "web")
OBJECTS.add_pod("mesh-0", "uid-mesh", "mesh")
OBJECTS.add_pod("late-0", "uid-late", "web")
AUTHORITY = TokenAuthority(reader=OBJECTS)


def tokens(pod: str, uid: str, account: str, *, at: datetime) -> str:
    token, _ = AUTHORITY.mint(namespace=NS, service_account=account, audiences=None, bound_pod=(pod, uid))
    return json.dumps({"": {"token": token, "expirationTimestamp": go_time(at + timedelta(hours=1))}})


def pod_context(pod: str, uid: str, account: str) -> dict[str, str]:
    return {
        "csi.storage.k8s.io/ephemeral": "true",
        "csi.storage.k8s.io/pod.name": pod,
        "csi.storage.k8s.io/pod.namespace": NS,
        "csi.storage.k8s.io/pod.uid": uid,
        "csi.storage.k8s.io/serviceAccount.name": account,
    }


def csi_context() -> dict[str, str]:
    return {
        **pod_context("web-0", "uid-web", "web"),
        f"{CSI}/issuer-name": "ca",
        f"{CSI}/issuer-kind": "ClusterIssuer",
        f"{CSI}/dns-names": "web-0.team.svc",
        f"{CSI}/duration": "24h",
        f"{CSI}/key-algorithm": "ECDSA",
        f"{CSI}/pkcs12-enable": "true",
        PKCS12_PASSWORD: PASSWORD,
    }


class Node(Processes):
    """certcsi's driver processes on one node: `start` one per driver, all over `<root>/data`."""

    @property
    def inmemfs(self) -> Path:
        return self.root / "data" / "inmemfs"

    async def start(self, driver: Driver, *, token_request: bool = True) -> Manager:
        """One driver process; csi.cert-manager.io with --use-token-request unless `token_request` is False."""
        return await self.start_driver(driver, use_token_request=token_request and driver.name == CSI, seed=3)

    def creates_for(self, pod: str) -> int:
        return sum(body["metadata"]["ownerReferences"][0]["name"] == pod for body, _ in self.kube.created)

    def metadata(self, volume_id: str) -> dict[str, object]:
        loaded = json.loads((self.inmemfs / volume_id / "metadata.json").read_bytes())
        assert isinstance(loaded, dict)
        return loaded


async def settle() -> None:
    for _ in range(40):
        await asyncio.sleep(0)


def spiffe_driver() -> SpiffeDriver:
    return SpiffeDriver(issuer=RuntimeIssuer(IssuerRef(name="spiffe-ca", kind="ClusterIssuer")))
