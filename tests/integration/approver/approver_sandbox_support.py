"""The approver against the in-process sandbox: cert-manager's own approver off, its webhook's
`signers`/`approve` check on, the approver running as a ServiceAccount bound to the approver's RBAC.

Pods are not needed: a request "from account X" is created with a token of X, so the API server
records `system:serviceaccount:<ns>:X` as its requester, exactly as when the driver uses the pod's
token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certcsi.approver.controller import Approver, ControllerOptions, EventPolicy
from certcsi.approver.evaluator import IDENTITY_ANNOTATION, REQUIRED_USAGES, Policy
from certcsi.approver.leader import ElectionConfig
from certcsi.kube import Kube, connect
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.volumes.driver import IssuerRef

RBAC = "rbac.authorization.k8s.io"
CM = "cert-manager.io"
TRUST_DOMAIN = "cluster.local"
DRIVER = "spiffe.csi.cert-manager.io"
APPROVER_NAMESPACE = "cert-manager"
APPROVER_ACCOUNT = "csi-driver-spiffe-approver"
APP_NAMESPACE = "team-a"
SPIFFE_ISSUER = IssuerRef(name=CA_ISSUER, kind="ClusterIssuer", group=CM)
POLICY = Policy(trust_domain=TRUST_DOMAIN, issuer_ref=SPIFFE_ISSUER)
REQUESTS = BY_KEY[f"{CM}/certificaterequests"]


def _rule(group: str, resources: list[str], verbs: list[str], names: Sequence[str] = ()) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": [group], "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = list(names)
    return rule


# Upstream's approver ClusterRole (its signers rule narrowed to the sandbox's issuer).
APPROVER_CLUSTER_RULES = [
    _rule(CM, ["certificaterequests"], ["list", "watch"]),
    _rule(CM, ["certificaterequests/status"], ["update"]),
    _rule(CM, ["signers"], ["approve"], [f"clusterissuers.{CM}/{CA_ISSUER}"]),
    _rule("", ["events"], ["create", "patch"]),
]
# Upstream's approver Role in its own namespace: the Lease named after the driver.
APPROVER_LEASE_RULES = [
    _rule("coordination.k8s.io", ["leases"], ["create"]),
    _rule("coordination.k8s.io", ["leases"], ["get", "update"], [DRIVER]),
]


def spiffe_id(namespace: str, account: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{account}"


def request_body(name: str, uri: str | None, *, annotated: bool = True, issuer: str = CA_ISSUER) -> dict[str, Any]:
    """What csi-driver-spiffe sends: P-256, empty subject, one critical URI SAN, the four usages, 1h."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    san = [x509.UniformResourceIdentifier(uri)] if uri else [x509.DNSName(f"{name}.example.com")]
    builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=True)
    csr = builder.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM)
    metadata: dict[str, Any] = {"name": name}
    if annotated and uri:
        metadata["annotations"] = {IDENTITY_ANNOTATION: uri}
    return {
        "apiVersion": f"{CM}/v1",
        "kind": "CertificateRequest",
        "metadata": metadata,
        "spec": {
            "request": base64.b64encode(csr).decode("ascii"),
            "duration": "1h",
            "isCA": False,
            "usages": list(REQUIRED_USAGES),
            "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": CM},
        },
    }


@dataclass
class ApproverWorld:
    sandbox: Sandbox
    workdir: Path
    admin: Kube
    approver_kubeconfig: Path
    _clients: list[Kube] = field(default_factory=list)

    def create(self, resource: str, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        created: dict[str, Any] = self.sandbox.store.create(BY_KEY[resource], obj, namespace=namespace)
        return created

    def account(self, namespace: str, name: str, *, may_request: bool = True) -> str:
        """A ServiceAccount (allowed to create CertificateRequests) and a token for it."""
        if self.sandbox.store.find(BY_KEY["/namespaces"], None, namespace) is None:
            self.create("/namespaces", {"metadata": {"name": namespace}})
        if self.sandbox.store.find(BY_KEY["/serviceaccounts"], namespace, name) is None:
            self.create("/serviceaccounts", {"metadata": {"name": name}}, namespace)
        if may_request:
            self._bind(
                namespace,
                f"{name}-requests",
                name,
                [_rule(CM, ["certificaterequests"], ["create"])],
                cluster=False,
            )
        token, _ = self.sandbox.authority.mint(namespace=namespace, service_account=name, audiences=None)
        return token

    def _bind(self, namespace: str, role: str, account: str, rules: list[dict[str, Any]], *, cluster: bool) -> None:
        kind = "ClusterRole" if cluster else "Role"
        scope = None if cluster else namespace
        self.create(f"{RBAC}/{kind.lower()}s", {"metadata": {"name": role}, "rules": rules}, scope)
        binding = {
            "metadata": {"name": role},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
            "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
        }
        self.create(f"{RBAC}/{kind.lower()}bindings", binding, scope)

    def approve_for_every_signer(self) -> None:
        """What the approver's ClusterRole grants with --auto-approve-non-spiffe: `approve` on any signer."""
        role = self.sandbox.store.get(BY_KEY[f"{RBAC}/clusterroles"], None, APPROVER_ACCOUNT)
        for rule in role["rules"]:
            if rule["resources"] == ["signers"]:
                rule.pop("resourceNames", None)

    async def submit(self, body: dict[str, Any], *, token: str, namespace: str = APP_NAMESPACE) -> dict[str, Any]:
        return await self.admin.create_certificate_request(namespace, body, token=token)

    def stored(self, name: str, namespace: str = APP_NAMESPACE) -> dict[str, Any]:
        found: dict[str, Any] = self.sandbox.store.get(REQUESTS, namespace, name)
        return found

    def decision(self, name: str, namespace: str = APP_NAMESPACE) -> dict[str, Any] | None:
        for condition in (self.stored(name, namespace).get("status") or {}).get("conditions") or []:
            if condition.get("type") in ("Approved", "Denied"):
                found: dict[str, Any] = condition
                return found
        return None

    def ready_reason(self, name: str, namespace: str = APP_NAMESPACE) -> str | None:
        for condition in (self.stored(name, namespace).get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Ready":
                return str(condition.get("reason"))
        return None

    def lease(self) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.sandbox.store.find(
            BY_KEY["coordination.k8s.io/leases"], APPROVER_NAMESPACE, DRIVER
        )
        return found

    async def approver_client(self) -> Kube:
        """A Kube authenticated as the approver's ServiceAccount (and nothing more)."""
        kube = await connect(kubeconfig=str(self.approver_kubeconfig), qps=0, burst=1)
        self._clients.append(kube)
        return kube

    async def approver(
        self,
        identity: str,
        *,
        policy: Policy = POLICY,
        lease_duration: float = 2.0,
        renew_deadline: float = 1.0,
        retry_period: float = 0.25,
        events: EventPolicy = "denials",
    ) -> RunningApprover:
        election = ElectionConfig(
            namespace=APPROVER_NAMESPACE,
            name=DRIVER,
            identity=identity,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
        )
        approver = Approver(
            api=await self.approver_client(),
            policy=policy,
            options=ControllerOptions(election=election, workers=8, events=events),
        )
        return RunningApprover.start(approver)

    async def close(self) -> None:
        for kube in self._clients:
            await kube.close()


@dataclass
class RunningApprover:
    approver: Approver
    stop_event: asyncio.Event
    task: asyncio.Task[None]

    @classmethod
    def start(cls, approver: Approver) -> RunningApprover:
        stop = asyncio.Event()
        return cls(approver=approver, stop_event=stop, task=asyncio.create_task(approver.run(stop)))

    @property
    def identity(self) -> str:
        assert self.approver.elector is not None
        return self.approver.elector.identity

    async def stop(self) -> None:
        """A clean shutdown (SIGTERM): stop deciding, release the Lease."""
        self.stop_event.set()
        await self.task

    async def kill(self) -> None:
        """Cancel everything without releasing the Lease: what SIGKILL leaves behind."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def eventually(condition: Callable[[], bool], *, timeout: float = 10.0, interval: float = 0.02) -> float:
    """Wait (really) until `condition()` holds; the seconds it took. AssertionError after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
    return time.monotonic() - started


@contextlib.asynccontextmanager
async def approver_world(workdir: Path) -> AsyncIterator[ApproverWorld]:
    async with Sandbox(approve=False) as sandbox:
        admin_config = workdir / "admin.kubeconfig"
        sandbox.write_kubeconfig(admin_config)
        async with await connect(kubeconfig=str(admin_config), qps=0, burst=1) as admin:
            world = ApproverWorld(
                sandbox=sandbox, workdir=workdir, admin=admin, approver_kubeconfig=workdir / "approver.kubeconfig"
            )
            token = world.account(APPROVER_NAMESPACE, APPROVER_ACCOUNT, may_request=False)
            world._bind(APPROVER_NAMESPACE, APPROVER_ACCOUNT, APPROVER_ACCOUNT, APPROVER_CLUSTER_RULES, cluster=True)
            world._bind(
                APPROVER_NAMESPACE, f"{APPROVER_ACCOUNT}-lease", APPROVER_ACCOUNT, APPROVER_LEASE_RULES, cluster=False
            )
            sandbox.api.write_kubeconfig(world.approver_kubeconfig, user_token=token)
            try:
                yield world
            finally:
                await world.close()
