"""`certcsi sandbox demo --spiffe`: csi-driver-spiffe end to end on one machine, in well under a minute.

cert-manager's built-in approver is off and its webhook's `signers`/`approve` check is on, so only
an account allowed to approve for the SPIFFE CA may decide. `certcsi approver` and
`certcsi spiffe-driver` run as separate processes, each authenticated as its own ServiceAccount
holding exactly the RBAC that the csi-driver-spiffe Helm chart (deploy/charts) renders: every API
call either makes is checked against that least privilege. Two pods of two service accounts get their X.509
SVIDs, talk mTLS with each side checking the other's SPIFFE ID, and a request forged with one
account's token for the other's identity is denied by the approver. The driver also serves the
SPIFFE Workload API in every volume: the two pods fetch their SVIDs over it, talk mTLS with them,
and one pod's open stream receives its renewed SVID (the demo's SVIDs last 30 seconds).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from cryptography import x509

from certcsi.drivers.spiffe.identity import IDENTITY_ANNOTATION, USAGES, spiffe_id
from certcsi.drivers.spiffe.workload.opting import DEFAULT_SOCKET_NAME
from certcsi.kube import connect
from certcsi.pki.certs import certificate_pem, parse_pem_chain
from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.keys import KeySpec, generate_private_key
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.bringup import chart_objects
from certcsi.sandbox.certmanager import install_ca_cluster_issuer
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.demo import (
    NAMESPACE,
    NODE,
    PeerCheck,
    Progress,
    TlsExchange,
    announce_mount_mode,
    child_process,
    describe_certificate,
    driver_process,
    openssl_verify,
    pod_tls_context,
    run_in_workdir,
    show_files,
    tls_exchange,
)
from certcsi.sandbox.demo_workload import files_swapped, open_svid_stream, write_for_ssl
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.store import DATA_LINK

__all__ = ["APPS", "SPIFFE_ISSUER", "TRUST_DOMAIN", "main", "run_spiffe_demo"]

T = TypeVar("T")

TRUST_DOMAIN = "example.org"
SPIFFE_DRIVER = "spiffe.csi.cert-manager.io"
SPIFFE_ISSUER = "spiffe-ca"
CERT_MANAGER = "cert-manager.io"
RBAC = "rbac.authorization.k8s.io"
# Upstream's example app, twice: one ServiceAccount each, each allowed to create CertificateRequests.
APPS = ("example-app-1", "example-app-2")
VOLUME = "spiffe"
MOUNT_PATH = "/var/run/secrets/spiffe.io"
INSTALL_SETS = (f"app.trustDomain={TRUST_DOMAIN}", f"app.issuer.name={SPIFFE_ISSUER}")
# From the chart: the accounts and their RBAC, and the CSIDriver; the workloads run here as processes.
INSTALLED_KINDS = frozenset({"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "CSIDriver"})
REQUESTS = BY_KEY[f"{CERT_MANAGER}/certificaterequests"]
# Short enough that a renewal reaches the Workload API stream while the demo runs (driver and approver agree).
SVID_DURATION = "30s"


def app_manifest(app: str) -> str:
    """Upstream's example-app.yaml in small: the account, its `create certificaterequests` Role, a pod."""
    return f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {app}, namespace: {NAMESPACE}}}
---
apiVersion: {RBAC}/v1
kind: Role
metadata: {{name: {app}, namespace: {NAMESPACE}}}
rules:
  - {{apiGroups: [{CERT_MANAGER}], resources: [certificaterequests], verbs: [create]}}
---
apiVersion: {RBAC}/v1
kind: RoleBinding
metadata: {{name: {app}, namespace: {NAMESPACE}}}
roleRef: {{apiGroup: {RBAC}, kind: Role, name: {app}}}
subjects: [{{kind: ServiceAccount, name: {app}, namespace: {NAMESPACE}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: {app}, namespace: {NAMESPACE}, labels: {{app: {app}}}}}
spec:
  serviceAccountName: {app}
  containers:
    - name: my-frontend
      image: busybox
      command: [sleep, "1000000"]
      volumeMounts: [{{name: {VOLUME}, mountPath: {MOUNT_PATH}}}]
  volumes:
    - name: {VOLUME}
      csi: {{driver: {SPIFFE_DRIVER}, readOnly: true}}
"""


@dataclass(frozen=True)
class Account:
    namespace: str
    name: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


def installed_objects() -> list[dict[str, Any]]:
    """The chart's INSTALLED_KINDS as `sandbox up --with csi-driver-spiffe` installs them: one rendering in the
    package. These objects do not depend on INSTALL_SETS (a test renders them at those values to prove it)."""
    return [obj for obj in chart_objects("csi-driver-spiffe") if obj["kind"] in INSTALLED_KINDS]


def component_account(objects: Iterable[dict[str, Any]], component: str) -> Account:
    """The chart's ServiceAccount for `component` ("driver" or "approver"; the approver's ends in -approver)."""
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == "ServiceAccount" and meta["name"].endswith("-approver") == (component == "approver"):
            return Account(namespace=meta["namespace"], name=meta["name"])
    raise LookupError(f"the rendered chart has no ServiceAccount for the {component}")


def describe_rules(role: dict[str, Any]) -> str:
    parts = []
    for rule in role.get("rules") or []:
        names = f" [{', '.join(rule['resourceNames'])}]" if rule.get("resourceNames") else ""
        parts.append(f"{'/'.join(rule['resources'])}: {','.join(rule['verbs'])}{names}")
    return "; ".join(parts)


def kubeconfig_for(cluster: Sandbox, account: Account, path: Path) -> Path:
    """A kubeconfig carrying a fresh token of `account` (a TokenRequest, as kubelet mounts for a pod)."""
    token, _ = cluster.authority.mint(
        namespace=account.namespace, service_account=account.name, audiences=None, expiration_seconds=3600
    )
    cluster.api.write_kubeconfig(path, user_token=token)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def eventually(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll `check()` (state in another process: nothing to await) until it returns something."""
    deadline = time.monotonic() + timeout
    while (found := check()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:g}s")
        await asyncio.sleep(0.05)
    return found


async def http_status(session: aiohttp.ClientSession, url: str) -> int | None:
    try:
        async with session.get(url) as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return None


@dataclass(frozen=True)
class RunningApprover:
    pid: int
    endpoint: str  # http://127.0.0.1:<port>: /readyz, /healthz and /metrics


@contextlib.asynccontextmanager
async def approver_process(*, workdir: Path, kubeconfig: Path, namespace: str) -> AsyncIterator[RunningApprover]:
    """`certcsi approver` with the demo's trust domain and issuer, once its /readyz answers 200."""
    address = f"127.0.0.1:{free_port()}"
    args = [
        sys.executable, "-m", "certcsi", "approver",
        "--kubeconfig", str(kubeconfig),
        "--csi-driver-name", SPIFFE_DRIVER,
        "--trust-domain", TRUST_DOMAIN,
        "--issuer-name", SPIFFE_ISSUER, "--issuer-kind", "ClusterIssuer", "--issuer-group", CERT_MANAGER,
        "--certificate-request-duration", SVID_DURATION,
        "--leader-election-namespace", namespace,
        "--readiness-probe-bind-address", address, "--metrics-bind-address", address,
    ]  # fmt: skip
    endpoint = f"http://{address}"
    async with child_process(args, log=workdir / "approver.log") as proc, aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 30
        while await http_status(session, f"{endpoint}/readyz") != 200:
            if proc.returncode is not None:
                raise RuntimeError(f"the approver exited with code {proc.returncode} (see {workdir}/approver.log)")
            if time.monotonic() > deadline:
                raise TimeoutError("the approver did not become ready within 30s")
            await asyncio.sleep(0.1)
        yield RunningApprover(pid=proc.pid, endpoint=endpoint)


def uri_sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(uri) for uri in san.get_values_for_type(x509.UniformResourceIdentifier)]


class PeerIdentityError(Exception):
    """The peer's chain verified, but it is not the workload this side expected to talk to."""


def expect_spiffe_id(expected: str) -> PeerCheck:
    """A check that the peer's leaf carries exactly one URI SAN, `expected` (after chain verification)."""

    def check(cert: x509.Certificate) -> str:
        found = uri_sans(cert)
        if found != [expected]:
            raise PeerIdentityError(f"peer SPIFFE ID {', '.join(found) or '(none)'} is not {expected}")
        return found[0]

    return check


def spiffe_tls_context(directory: Path, purpose: ssl.Purpose) -> ssl.SSLContext:
    # SVIDs carry no DNS name: identity is the URI SAN, checked after the handshake instead.
    context = pod_tls_context(directory, purpose)
    context.check_hostname = False
    return context


def find_request(cluster: Sandbox, identity: str) -> dict[str, Any] | None:
    """The CertificateRequest in the demo namespace whose identity annotation is `identity`."""
    found, _ = cluster.store.list(REQUESTS, NAMESPACE)
    for request in found:
        if (request["metadata"].get("annotations") or {}).get(IDENTITY_ANNOTATION) == identity:
            result: dict[str, Any] = request
            return result
    return None


def condition(request: dict[str, Any], *types: str) -> dict[str, Any] | None:
    for found in (request.get("status") or {}).get("conditions") or []:
        if found.get("type") in types:
            result: dict[str, Any] = found
            return result
    return None


def forged_request(*, name: str, claimed: str) -> dict[str, Any]:
    """Exactly what the driver would send for `claimed`: P-256, empty subject, one URI SAN, 1h, the usages."""
    csr = build_csr(generate_private_key(KeySpec("ECDSA", 256)), CsrSpec(uris=(claimed,)))
    return {
        "apiVersion": f"{CERT_MANAGER}/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": name, "annotations": {IDENTITY_ANNOTATION: claimed}},
        "spec": {
            "request": base64.b64encode(csr).decode("ascii"),
            "duration": SVID_DURATION,
            "isCA": False,
            "usages": list(USAGES),
            "issuerRef": {"name": SPIFFE_ISSUER, "kind": "ClusterIssuer", "group": CERT_MANAGER},
        },
    }


async def run_spiffe_demo(*, workdir: Path, out: Callable[[str], None] = print) -> None:
    progress = Progress(out)
    unsafe = announce_mount_mode(out)
    progress.step("Starting the sandbox: API server + cert-manager stand-in with its built-in approver OFF")
    async with Sandbox(approve=False) as cluster:
        _, ca = install_ca_cluster_issuer(cluster.store, name=SPIFFE_ISSUER, common_name="csi-driver-spiffe-ca")
        admin = workdir / "admin.kubeconfig"
        cluster.write_kubeconfig(admin)
        progress.info(f"API {cluster.url}; SPIFFE CA ClusterIssuer {SPIFFE_ISSUER} (CN=csi-driver-spiffe-ca)")
        progress.info("cert-manager's webhook lets only holders of `approve` on the issuer's signer decide")
        async with Kubelet(node_name="applier", root_dir=workdir / "applier", drivers={}, kubeconfig=admin) as applier:
            approver, driver = await _install(applier, progress)
        bundle = workdir / "ca-bundle" / "ca.crt"
        bundle.parent.mkdir()
        bundle.write_bytes(certificate_pem(ca))
        await _run_components(
            cluster=cluster,
            workdir=workdir,
            unsafe=unsafe,
            progress=progress,
            accounts=(approver, driver),
            bundle=bundle,
        )
    progress.step("Done: approver and driver stopped, sandbox stopped, nothing left mounted")


async def _install(applier: Kubelet, progress: Progress) -> tuple[Account, Account]:
    """Apply the chart's accounts, RBAC and CSIDriver; the approver's and driver's accounts."""
    progress.step(
        f"Applying what `helm template deploy/charts/csi-driver-spiffe --set {' --set '.join(INSTALL_SETS)}` renders"
    )
    objects = installed_objects()
    await applier.apply(objects)
    for obj in objects:
        if obj["kind"] in ("ClusterRole", "Role"):
            progress.info(f"{obj['kind']} {obj['metadata']['name']}: {describe_rules(obj)}")
    csidriver = next(obj["spec"] for obj in objects if obj["kind"] == "CSIDriver")
    progress.info(
        f"CSIDriver {SPIFFE_DRIVER}: tokenRequests {csidriver['tokenRequests']}, "
        f"requiresRepublish {csidriver['requiresRepublish']}"
    )
    return component_account(objects, "approver"), component_account(objects, "driver")


async def _run_components(
    *,
    cluster: Sandbox,
    workdir: Path,
    unsafe: bool,
    progress: Progress,
    accounts: tuple[Account, Account],
    bundle: Path,
) -> None:
    approver_account, driver_account = accounts
    progress.step(f"Starting `certcsi approver` as its own process, as ServiceAccount {approver_account.username}")
    approver_config = kubeconfig_for(cluster, approver_account, workdir / "approver.kubeconfig")
    async with approver_process(
        workdir=workdir, kubeconfig=approver_config, namespace=approver_account.namespace
    ) as approver:
        lease = cluster.store.find(BY_KEY["coordination.k8s.io/leases"], approver_account.namespace, SPIFFE_DRIVER)
        holder = ((lease or {}).get("spec") or {}).get("holderIdentity") or "(none)"
        progress.info(f"approver pid {approver.pid} ready ({approver.endpoint}/readyz 200); Lease holder {holder}")
        progress.info(f"it approves only spiffe://{TRUST_DOMAIN}/ns/<ns>/sa/<sa> of the requesting account")

        progress.step(
            f"Starting `certcsi spiffe-driver` as its own process, as ServiceAccount {driver_account.username}"
        )
        driver_config = kubeconfig_for(cluster, driver_account, workdir / "driver.kubeconfig")
        flags = [
            "--trust-domain", TRUST_DOMAIN,
            "--issuer-name", SPIFFE_ISSUER, "--issuer-kind", "ClusterIssuer", "--issuer-group", CERT_MANAGER,
            "--source-ca-bundle", str(bundle),
            "--certificate-request-duration", SVID_DURATION,
            "--workload-api",
        ]  # fmt: skip
        async with driver_process(
            workdir=workdir,
            kubeconfig=driver_config,
            unsafe=unsafe,
            progress=progress,
            extra_args=flags,
            command=("spiffe-driver", "--csi-driver-name", SPIFFE_DRIVER),
            driver_name=SPIFFE_DRIVER,
        ) as driver:
            progress.info(f"--source-ca-bundle {bundle}: the SPIFFE CA, so every volume also gets ca.crt")
            progress.info(f"--workload-api: every volume also serves the SPIFFE Workload API on {DEFAULT_SOCKET_NAME}")
            admin = workdir / "admin.kubeconfig"
            async with Kubelet(
                node_name=NODE, root_dir=workdir / "kubelet", drivers={SPIFFE_DRIVER: driver.endpoint}, kubeconfig=admin
            ) as kubelet:
                await _pods_and_forgery(kubelet=kubelet, cluster=cluster, workdir=workdir, progress=progress)
            await _show_metrics(approver.endpoint, progress)
        progress.step("Stopping the approver (SIGTERM)")
    lease = cluster.store.find(BY_KEY["coordination.k8s.io/leases"], approver_account.namespace, SPIFFE_DRIVER)
    holder = ((lease or {}).get("spec") or {}).get("holderIdentity")
    progress.info(f"Lease {approver_account.namespace}/{SPIFFE_DRIVER} released: holder {holder or '(none)'}")


async def _pods_and_forgery(*, kubelet: Kubelet, cluster: Sandbox, workdir: Path, progress: Progress) -> None:
    progress.step(f"Applying namespace {NAMESPACE}: {' and '.join(APPS)}, each a ServiceAccount, a Role, a Pod")
    await kubelet.apply(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NAMESPACE}}}\n")
    for app in APPS:
        await kubelet.apply(app_manifest(app))
    progress.info(f"each Role grants only `create certificaterequests` in {NAMESPACE}, as upstream's example does")
    await asyncio.gather(*(kubelet.wait_ready(NAMESPACE, app, timeout=30) for app in APPS))
    ids = {app: spiffe_id(TRUST_DOMAIN, NAMESPACE, app) for app in APPS}
    dirs = {app: kubelet.pod_volume_path(NAMESPACE, app, VOLUME) for app in APPS}
    for app in APPS:
        _show_pod(cluster, progress, app=app, identity=ids[app], directory=dirs[app])

    await _mtls(progress, dirs=dirs, ids=ids)

    await _workload_api(progress, dirs=dirs, ids=ids, workdir=workdir)

    await _forge(cluster=cluster, workdir=workdir, progress=progress, victim=APPS[0], forger=APPS[1])

    progress.step("Deleting the pods: volumes unpublished, their CertificateRequests garbage-collected")
    await asyncio.gather(*(kubelet.delete_pod(NAMESPACE, app) for app in APPS))
    for app, directory in dirs.items():
        progress.info(f"{app}: mount {'still there!' if directory.exists() else 'gone'}")
    left = [request["metadata"]["name"] for request in cluster.store.list(REQUESTS, NAMESPACE)[0]]
    progress.info(f"CertificateRequests left in {NAMESPACE}: {', '.join(left) or 'none'} (the denied one is a record)")


async def _spiffe_exchange(*, server_dir: Path, client_dir: Path, client_id: str, server_id: str) -> TlsExchange:
    """A connection on which the server demands `client_id` of the client, and the client `server_id`."""
    return await tls_exchange(
        server_ctx=spiffe_tls_context(server_dir, ssl.Purpose.CLIENT_AUTH),
        client_ctx=spiffe_tls_context(client_dir, ssl.Purpose.SERVER_AUTH),
        server_hostname=None,
        check_client=expect_spiffe_id(client_id),
        check_server=expect_spiffe_id(server_id),
    )


async def _mtls(progress: Progress, *, dirs: dict[str, Path], ids: dict[str, str]) -> None:
    server, client = APPS
    progress.step(f"mTLS: {server} serves, {client} connects; each side checks the other's SPIFFE ID")
    exchange = await _spiffe_exchange(
        server_dir=dirs[server], client_dir=dirs[client], client_id=ids[client], server_id=ids[server]
    )
    progress.info(f"server {server} verified the client's chain and its SPIFFE ID: {exchange.server_saw}")
    progress.info(f"client {client} verified the server's chain and its SPIFFE ID: {exchange.client_saw}")
    progress.info(f"client read: {exchange.greeting!r}")
    impostor = spiffe_id(TRUST_DOMAIN, NAMESPACE, "someone-else")
    try:
        await _spiffe_exchange(
            server_dir=dirs[server], client_dir=dirs[client], client_id=ids[client], server_id=impostor
        )
        progress.info(f"UNEXPECTED: a client expecting {impostor} accepted {server}")
    except PeerIdentityError as err:
        progress.info(f"a client expecting {impostor} hangs up: {err}")


async def _workload_api(progress: Progress, *, dirs: dict[str, Path], ids: dict[str, str], workdir: Path) -> None:
    server, client = APPS
    socket_env = f"SPIFFE_ENDPOINT_SOCKET=unix://{MOUNT_PATH}/{DEFAULT_SOCKET_NAME}"
    progress.step(f"The SPIFFE Workload API in each pod's volume ({socket_env})")
    async with open_svid_stream(dirs[server]) as server_stream, open_svid_stream(dirs[client]) as client_stream:
        fetched = {server: await server_stream.next(timeout=10), client: await client_stream.next(timeout=10)}
        since = os.readlink(dirs[server] / DATA_LINK)
        for app, svid in fetched.items():
            authorities = ", ".join(ca.subject.rfc4514_string() for ca in svid.bundle)
            progress.info(
                f"{app} fetched over the Workload API: {svid.spiffe_id} (serial {svid.serial}; bundle {authorities})"
            )
        material = {app: write_for_ssl(svid, workdir / "workload-api" / app) for app, svid in fetched.items()}
        exchange = await _spiffe_exchange(
            server_dir=material[server], client_dir=material[client], client_id=ids[client], server_id=ids[server]
        )
        progress.info(f"mTLS with those SVIDs: server {server} verified the client's SPIFFE ID: {exchange.server_saw}")
        progress.info(f"mTLS with those SVIDs: client {client} verified the server's SPIFFE ID: {exchange.client_saw}")

        progress.step(f"Rotation: {server}'s stream stays open; the driver pushes its renewed SVID on it")
        swapped = asyncio.ensure_future(files_swapped(dirs[server], since=since))
        renewed = await server_stream.next(timeout=60)
        written = await asyncio.wait_for(swapped, timeout=5)
        # The files' ctime comes from the kernel's coarse clock (a tick later at most), so a push can look
        # earlier than the write it follows: at most one tick, shown as 0.
        lag_ms = max(renewed.received - written, 0.0) * 1000
        progress.info(
            f"renewed SVID arrived on the same stream {lag_ms:.0f} ms after the driver wrote "
            f"the new files: serial {fetched[server].serial} -> {renewed.serial}"
        )
        write_for_ssl(renewed, material[server])
        again = await _spiffe_exchange(
            server_dir=material[server], client_dir=material[client], client_id=ids[client], server_id=ids[server]
        )
        progress.info(
            f"mTLS with the rotated SVID: client {client} verified the server's SPIFFE ID: {again.client_saw}"
        )


def _show_pod(cluster: Sandbox, progress: Progress, *, app: str, identity: str, directory: Path) -> None:
    progress.step(f"Pod {NAMESPACE}/{app} (ServiceAccount {app}) sees at {MOUNT_PATH} ({directory})")
    show_files(progress, directory)
    leaf = parse_pem_chain((directory / "tls.crt").read_bytes())[0]
    progress.info(f"SPIFFE ID: {', '.join(uri_sans(leaf))}")
    for line in describe_certificate((directory / "tls.crt").read_bytes()):
        progress.info(line)
    progress.info("openssl verify: " + openssl_verify(directory / "ca.crt", directory / "tls.crt"))
    request = find_request(cluster, identity)
    if request is not None:
        approved = condition(request, "Approved") or {}
        progress.info(f"requested as {request['spec'].get('username')} with the pod's own token")
        progress.info(f"Approved by the approver: {approved.get('message', '(no condition)')}")


async def _forge(*, cluster: Sandbox, workdir: Path, progress: Progress, victim: str, forger: str) -> None:
    claimed = spiffe_id(TRUST_DOMAIN, NAMESPACE, victim)
    progress.step(f"A forged request: {forger}'s token asks for {victim}'s identity {claimed}")
    token, _ = cluster.authority.mint(namespace=NAMESPACE, service_account=forger, audiences=None)
    name = f"forged-{victim}"
    async with await connect(kubeconfig=str(workdir / "admin.kubeconfig"), qps=0, burst=1) as kube:
        # Authenticated as the forger alone: the token replaces the admin's credentials for this call.
        created = await kube.create_certificate_request(
            NAMESPACE, forged_request(name=name, claimed=claimed), token=token
        )
    progress.info(f"RBAC let {created['spec'].get('username')} create {NAMESPACE}/{name} (URI SAN {claimed})")

    def decided() -> dict[str, Any] | None:
        found: dict[str, Any] = cluster.store.get(REQUESTS, NAMESPACE, name)
        return found if condition(found, "Approved", "Denied") else None

    request = await eventually(decided, timeout=10, what=f"decision on {name}")
    denied = condition(request, "Denied") or {}
    progress.info(f"Denied (reason {denied.get('reason')}): {denied.get('message')}")
    ready = condition(request, "Ready") or {}
    signed = "a certificate was signed!" if (request.get("status") or {}).get("certificate") else "nothing was signed"
    progress.info(f"Ready={ready.get('status')} ({ready.get('reason')}): {signed}")


async def _show_metrics(endpoint: str, progress: Progress) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{endpoint}/metrics") as response:
        text = await response.text()
    decisions = [
        line.removeprefix("certcsi_approver_decisions_total")
        for line in text.splitlines()
        if line.startswith("certcsi_approver_decisions_total{")
    ]
    progress.step("The approver's own count of its decisions (/metrics)")
    for line in decisions:
        progress.info(line)


def main(*, keep: bool = False) -> None:
    run_in_workdir(lambda workdir: run_spiffe_demo(workdir=workdir), keep=keep)
