"""A SPIFFE node against the sandbox: the real `certcsi spiffe-driver` process, the kubelet stand-in, RBAC.

    async with spiffe_node(tmp) as node:            # sandbox, driver (as its own ServiceAccount), kubelet
        await node.kubelet.apply(pod_yaml("web", ACCOUNT))
        await node.kubelet.wait_ready(NAMESPACE, "web")
        files = node.files("web")

The driver runs with --unsafe-no-mount: these tests are about identity, issuers and the CA bundle,
not about mounts, so they need no root. `spiffe_node(mounts=True)` (the e2e tests, as root in a private
mount namespace) runs it with its real tmpfs and read-only bind mounts instead, and
`node.restart_driver()` kills it (SIGKILL) and starts it again on the same data root and socket.
It authenticates as ServiceAccount cert-manager/spiffe-driver holding only what upstream's chart
grants it (requests list/watch/delete, events, and list/watch on the one runtime ConfigMap by
name), so every API call it makes passes through the sandbox's RBAC.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from certcsi.pki.certs import parse_pem_chain
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.sandbox.demo import NODE, Progress, driver_process
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.mount import SyscallMounter, read_mountinfo

DRIVER = "spiffe.csi.cert-manager.io"
NAMESPACE = "spiffe-it"
ACCOUNT = "app"  # may create CertificateRequests
NO_RBAC_ACCOUNT = "nobody"  # may not
DRIVER_NAMESPACE = "cert-manager"
DRIVER_ACCOUNT = "spiffe-driver"
CONFIGMAP = "spiffe-issuer"
RBAC = "rbac.authorization.k8s.io"
CERT_MANAGER = "cert-manager.io"

CLUSTER_OBJECTS = f"""
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {{name: {DRIVER}}}
spec:
  attachRequired: false
  podInfoOnMount: true
  fsGroupPolicy: File
  volumeLifecycleModes: [Ephemeral]
  tokenRequests: [{{audience: ""}}]
  requiresRepublish: true
---
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {ACCOUNT}, namespace: {NAMESPACE}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {NO_RBAC_ACCOUNT}, namespace: {NAMESPACE}}}
---
apiVersion: {RBAC}/v1
kind: Role
metadata: {{name: create-certificaterequests, namespace: {NAMESPACE}}}
rules:
  - {{apiGroups: [{CERT_MANAGER}], resources: [certificaterequests], verbs: [create]}}
---
apiVersion: {RBAC}/v1
kind: RoleBinding
metadata: {{name: create-certificaterequests, namespace: {NAMESPACE}}}
roleRef: {{apiGroup: {RBAC}, kind: Role, name: create-certificaterequests}}
subjects: [{{kind: ServiceAccount, name: {ACCOUNT}, namespace: {NAMESPACE}}}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {DRIVER_ACCOUNT}, namespace: {DRIVER_NAMESPACE}}}
---
apiVersion: {RBAC}/v1
kind: ClusterRole
metadata: {{name: {DRIVER_ACCOUNT}}}
rules:
  - {{apiGroups: [{CERT_MANAGER}], resources: [certificaterequests], verbs: [list, watch, delete]}}
  - {{apiGroups: [""], resources: [events], verbs: [create, patch, list]}}
---
apiVersion: {RBAC}/v1
kind: ClusterRoleBinding
metadata: {{name: {DRIVER_ACCOUNT}}}
roleRef: {{apiGroup: {RBAC}, kind: ClusterRole, name: {DRIVER_ACCOUNT}}}
subjects: [{{kind: ServiceAccount, name: {DRIVER_ACCOUNT}, namespace: {DRIVER_NAMESPACE}}}]
---
apiVersion: {RBAC}/v1
kind: Role
metadata: {{name: {DRIVER_ACCOUNT}-runtime-issuer, namespace: {DRIVER_NAMESPACE}}}
rules:
  - {{apiGroups: [""], resources: [configmaps], verbs: [list, watch], resourceNames: [{CONFIGMAP}]}}
---
apiVersion: {RBAC}/v1
kind: RoleBinding
metadata: {{name: {DRIVER_ACCOUNT}-runtime-issuer, namespace: {DRIVER_NAMESPACE}}}
roleRef: {{apiGroup: {RBAC}, kind: Role, name: {DRIVER_ACCOUNT}-runtime-issuer}}
subjects: [{{kind: ServiceAccount, name: {DRIVER_ACCOUNT}, namespace: {DRIVER_NAMESPACE}}}]
"""


def pod_yaml(
    name: str, account: str, *, attributes: Mapping[str, str] | None = None, security_context: str | None = None
) -> str:
    """A pod with one spiffe volume at /var/run/secrets/spiffe.io; `security_context` is flow-style YAML."""
    context = f"\n  securityContext: {security_context}" if security_context else ""
    csi = {"driver": DRIVER, "readOnly": True, **({"volumeAttributes": dict(attributes)} if attributes else {})}
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  serviceAccountName: {account}{context}
  containers: [{{name: app, image: busybox, volumeMounts: [{{name: spiffe, mountPath: /var/run/secrets/spiffe.io}}]}}]
  volumes:
    - name: spiffe
      csi: {json.dumps(csi)}
"""


class SecretBundle:
    """The CA bundle as a mounted Secret: `..<stamp>/ca.crt`, `..data` -> it, `ca.crt` -> `..data/ca.crt`."""

    def __init__(self, root: Path, content: bytes) -> None:
        self.root = root
        self._generation = 0
        root.mkdir(parents=True)
        os.symlink(self._snapshot(content), root / "..data")
        os.symlink("..data/ca.crt", root / "ca.crt")

    @property
    def path(self) -> Path:
        return self.root / "ca.crt"

    def _snapshot(self, content: bytes) -> str:
        self._generation += 1
        name = f"..2026_{self._generation:02d}"
        (self.root / name).mkdir()
        (self.root / name / "ca.crt").write_bytes(content)
        return name

    def update(self, content: bytes) -> None:
        """kubelet's Secret update: new snapshot, temp link renamed over `..data`, old snapshot removed."""
        old = os.readlink(self.root / "..data")
        os.symlink(self._snapshot(content), self.root / "..data_tmp")
        os.rename(self.root / "..data_tmp", self.root / "..data")
        shutil.rmtree(self.root / old)


class _DriverRunner:
    """The spiffe-driver child process, restartable on the same CSI socket and data root."""

    def __init__(self, *, workdir: Path, kubeconfig: Path, args: Sequence[str], unsafe: bool) -> None:
        self._workdir, self._kubeconfig, self._args, self._unsafe = workdir, kubeconfig, tuple(args), unsafe
        self._stack: contextlib.AsyncExitStack | None = None
        self.endpoint = ""
        self.pid = 0
        self.starts = 0

    async def start(self) -> None:
        log = self._workdir / "driver.log"
        if log.exists():  # driver_process truncates it: keep the earlier run's output
            log.rename(self._workdir / f"driver-run-{self.starts}.log")
        # driver_process makes the socket's directory afresh; what is left in it is the dead run's.
        shutil.rmtree(self._workdir / "plugins", ignore_errors=True)
        stack = contextlib.AsyncExitStack()
        running = await stack.enter_async_context(
            driver_process(
                workdir=self._workdir,
                kubeconfig=self._kubeconfig,
                unsafe=self._unsafe,
                progress=Progress(lambda _: None),
                extra_args=self._args,
                command=("spiffe-driver", "--csi-driver-name", DRIVER),
            )
        )
        self._stack, self.endpoint, self.pid = stack, running.endpoint, running.pid
        self.starts += 1

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def kill9(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        await eventually(lambda: not Path(f"/proc/{self.pid}").exists(), what=f"driver pid {self.pid} reaped")
        await self.stop()


@dataclass
class SpiffeNode:
    cluster: Sandbox
    kubelet: Kubelet
    workdir: Path
    bundle: SecretBundle
    driver: _DriverRunner

    async def restart_driver(self) -> None:
        """SIGKILL the driver, as a crash would, and start it again (same data root, same CSI socket)."""
        await self.driver.kill9()
        await self.driver.start()

    def pod_data(self, pod: str, volume: str = "spiffe") -> Path:
        """What kubelet mounted for the pod's volume (the target path)."""
        return self.kubelet.pod_volume_path(NAMESPACE, pod, volume)

    def files(self, pod: str) -> dict[str, bytes]:
        """The files the pod's container sees, read once through `..data` (one consistent set)."""
        target = self.kubelet.pod_volume_path(NAMESPACE, pod, "spiffe")
        snapshot = target / "..data"
        return {p.name: p.read_bytes() for p in sorted(snapshot.iterdir())}

    def driver_log(self) -> str:
        return (self.workdir / "driver.log").read_text(errors="replace")

    def requests(self) -> list[dict[str, Any]]:
        found, _ = self.cluster.store.list(BY_KEY[f"{CERT_MANAGER}/certificaterequests"], NAMESPACE)
        return list(found)

    def failed_mounts(self, pod: str) -> list[str]:
        return [
            str(e.get("message"))
            for e in self.cluster.store.all_objects(BY_KEY["/events"])
            if e.get("reason") == "FailedMount" and (e.get("involvedObject") or {}).get("name") == pod
        ]

    def set_runtime_issuer(self, name: str | None) -> None:
        """Create or replace the runtime issuer ConfigMap (a ClusterIssuer `name`); None deletes it."""
        configmaps = BY_KEY["/configmaps"]
        if self.cluster.store.find(configmaps, DRIVER_NAMESPACE, CONFIGMAP) is not None:
            self.cluster.store.delete(configmaps, DRIVER_NAMESPACE, CONFIGMAP)
        if name is not None:
            data = {"issuer-name": name, "issuer-kind": "ClusterIssuer", "issuer-group": CERT_MANAGER}
            self.cluster.store.create(
                configmaps, {"metadata": {"name": CONFIGMAP}, "data": data}, namespace="cert-manager"
            )


def ca_certificate(cluster: Sandbox, issuer: str = CA_ISSUER) -> bytes:
    """The PEM CA certificate behind a sandbox CA ClusterIssuer (its Secret's ca.crt)."""
    secret = cluster.store.find(BY_KEY["/secrets"], DRIVER_NAMESPACE, issuer)
    assert secret is not None, f"no CA secret for issuer {issuer}"
    return base64.b64decode(secret["data"]["ca.crt"])


def leaf(files: dict[str, bytes]) -> x509.Certificate:
    return parse_pem_chain(files["tls.crt"])[0]


def uri_sans(cert: x509.Certificate) -> list[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]


async def eventually(check: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition") -> None:
    try:
        async with asyncio.timeout(timeout):
            while not check():  # noqa: ASYNC110 - state in another process or on disk: nothing to await
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}") from None


@contextlib.asynccontextmanager
async def spiffe_node(
    *, issuer: str | None = CA_ISSUER, extra_args: Sequence[str] = (), mounts: bool = False
) -> AsyncIterator[SpiffeNode]:
    """Sandbox, cluster objects, the CA bundle Secret, the spiffe driver process and the kubelet.

    `issuer` is the flags' ClusterIssuer (None: `--issuer-name=`, only the runtime ConfigMap).
    `mounts`: the driver's real tmpfs and bind mounts (root, in a private mount namespace).
    """
    # Unix socket paths are limited to 108 bytes; pytest's tmp_path can be longer.
    workdir = Path(tempfile.mkdtemp(prefix="spiffe-it-", dir="/tmp"))
    try:
        async with Sandbox(approve=True) as cluster:
            admin = workdir / "admin.kubeconfig"
            cluster.write_kubeconfig(admin)
            await _create_objects(admin)
            token, _ = cluster.authority.mint(
                namespace=DRIVER_NAMESPACE, service_account=DRIVER_ACCOUNT, audiences=None, expiration_seconds=3600
            )
            driver_kubeconfig = workdir / "driver.kubeconfig"
            cluster.api.write_kubeconfig(driver_kubeconfig, user_token=token)
            bundle = SecretBundle(workdir / "ca-bundle", ca_certificate(cluster))
            args = [
                *(("--issuer-name", issuer, "--issuer-kind", "ClusterIssuer") if issuer else ("--issuer-name=",)),
                "--runtime-issuance-config-map-name", CONFIGMAP,
                "--runtime-issuance-config-map-namespace", DRIVER_NAMESPACE,
                "--source-ca-bundle", str(bundle.path),
                *extra_args,
            ]  # fmt: skip
            driver = _DriverRunner(workdir=workdir, kubeconfig=driver_kubeconfig, args=args, unsafe=not mounts)
            await driver.start()
            try:
                kubelet = Kubelet(
                    node_name=NODE, root_dir=workdir / "kubelet", drivers={DRIVER: driver.endpoint}, kubeconfig=admin
                )
                async with kubelet:
                    yield SpiffeNode(cluster=cluster, kubelet=kubelet, workdir=workdir, bundle=bundle, driver=driver)
            finally:
                await driver.stop()
    finally:
        if mounts:
            _unmount_everything_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def _unmount_everything_under(path: Path) -> None:
    """The data root's tmpfs and every bind mount a test left, deepest first."""
    root = os.path.realpath(path)
    found = [m for m in read_mountinfo() if m.mount_point == root or m.mount_point.startswith(root + "/")]
    mounter = SyscallMounter()
    for entry in sorted(found, key=lambda m: len(m.mount_point), reverse=True):
        mounter.unmount(entry.mount_point)


async def _create_objects(admin: Path) -> None:
    """The cluster-scoped and RBAC objects, through the API as an admin would apply them."""
    applier = Kubelet(node_name="applier", root_dir=admin.parent / "applier", drivers={}, kubeconfig=admin)
    async with applier:
        await applier.apply(CLUSTER_OBJECTS)
