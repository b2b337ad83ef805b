"""bench/apiserver.py (c): the sandbox's CPU per driver-shaped CertificateRequest, whole lifecycle.

The client is the driver's own issuance engine (`certcsi.volumes.issuance.Issuance` over
`certcsi.kube`, the real csi.cert-manager.io plan and request body), minus files and mounts:
one label-filtered watch of this node's requests as the driver's ServiceAccount (the chart's
ClusterRole), each request created with its pod's own bound token (use-token-request), awaited
until Issued, then deleted as unpublish does. Pods, tokens, keys and CSRs are made before the clock.
The sandbox's utime + stime (/proc/<pid>/stat) over the timed part, divided by the volumes, is the figure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from _common import api_client, call, create_namespace
from kubernetes_asyncio.client import ApiClient

from certcsi.drivers.certmanager.driver import CertManagerDriver
from certcsi.kube import connect
from certcsi.volumes.driver import RequestPlan, Volume
from certcsi.volumes.issuance import Issuance

NAMESPACE = "bench-lifecycle"
POD_ACCOUNT = "app"
DRIVER_NAMESPACE = "cert-manager"
DRIVER_ACCOUNT = "cert-manager-csi-driver"
NODE_ID = "bench-node"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RBAC = "/apis/rbac.authorization.k8s.io/v1"
# The chart's driver ClusterRole without useTokenRequest's create (pods create their own requests).
DRIVER_RULES = [
    {"apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"], "verbs": ["list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]
ATTRIBUTES = {
    "csi.cert-manager.io/issuer-name": "sandbox-ca",
    "csi.cert-manager.io/issuer-kind": "ClusterIssuer",
    "csi.cert-manager.io/dns-names": "${POD_NAME}.${POD_NAMESPACE}.svc.cluster.local",
    "csi.cert-manager.io/duration": "24h",
    "csi.cert-manager.io/key-algorithm": "ECDSA",
    "csi.cert-manager.io/key-size": "256",
    "csi.storage.k8s.io/ephemeral": "true",
    "csi.storage.k8s.io/serviceAccount.name": POD_ACCOUNT,
}


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (fields 14 and 15 of /proc/<pid>/stat, after the parenthesised name)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass(frozen=True)
class Prepared:
    volume: Volume
    plan: RequestPlan


@dataclass(frozen=True)
class Lifecycle:
    volumes: int
    seconds: float
    sandbox_cpu: float  # seconds over the timed part
    idle_cpu_rate: float  # sandbox CPU seconds per second before the clock (background work)
    errors: Sequence[str]

    @property
    def cpu_ms_per_volume(self) -> float:
        return self.sandbox_cpu * 1000 / max(1, self.volumes - len(self.errors))


async def _token(api: ApiClient, namespace: str, account: str, pod: dict[str, Any] | None = None) -> str:
    spec: dict[str, Any] = {"audiences": [], "expirationSeconds": 3600}
    if pod is not None:
        meta = pod["metadata"]
        spec["boundObjectRef"] = {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}
    answer = await call(
        api, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
    )  # fmt: skip
    token: str = answer["status"]["token"]
    return token


async def _rbac(api: ApiClient) -> None:
    """The pods' account may create requests in their namespace; the driver gets the chart's rules."""
    for namespace, account in ((NAMESPACE, POD_ACCOUNT), (DRIVER_NAMESPACE, DRIVER_ACCOUNT)):
        await call(api, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", body={"metadata": {"name": account}})
    creator = {"apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"], "verbs": ["create"]}
    role = {"metadata": {"name": "cr"}, "rules": [creator]}
    await call(api, "POST", f"{RBAC}/namespaces/{NAMESPACE}/roles", body=role)
    subject = {"kind": "ServiceAccount", "name": POD_ACCOUNT, "namespace": NAMESPACE}
    await call(
        api, "POST", f"{RBAC}/namespaces/{NAMESPACE}/rolebindings",
        body={"metadata": {"name": "cr"}, "subjects": [subject],
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cr"}},
    )  # fmt: skip
    await call(api, "POST", f"{RBAC}/clusterroles", body={"metadata": {"name": DRIVER_ACCOUNT}, "rules": DRIVER_RULES})
    subject = {"kind": "ServiceAccount", "name": DRIVER_ACCOUNT, "namespace": DRIVER_NAMESPACE}
    await call(
        api, "POST", f"{RBAC}/clusterrolebindings",
        body={"metadata": {"name": DRIVER_ACCOUNT}, "subjects": [subject],
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": DRIVER_ACCOUNT}},
    )  # fmt: skip


async def _pod_volume(api: ApiClient, driver: CertManagerDriver, index: int) -> Prepared:
    """One pod, its bound token, and the volume and plan the driver makes for it (key and CSR included)."""
    # Bound to the benchmark's own node (no Node object): the sandbox's scheduler and kubelet leave
    # such pods alone, so their work is not billed to the requests measured here.
    spec = {"nodeName": NODE_ID, "serviceAccountName": POD_ACCOUNT, "containers": [{"name": "app", "image": "app"}]}
    body = {"metadata": {"name": f"app-{index}"}, "spec": spec}
    pod = await call(api, "POST", f"/api/v1/namespaces/{NAMESPACE}/pods", body=body)
    token = await _token(api, NAMESPACE, POD_ACCOUNT, pod)
    meta = pod["metadata"]
    attributes = {
        **ATTRIBUTES,
        "csi.storage.k8s.io/pod.namespace": NAMESPACE,
        "csi.storage.k8s.io/pod.name": meta["name"],
        "csi.storage.k8s.io/pod.uid": meta["uid"],
    }
    volume = Volume(volume_id=f"csi-{meta['uid']}", target_path=f"/nowhere/{meta['uid']}", attributes=attributes)
    plan = driver.build_request(volume, await driver.generate_key(volume, None))
    return Prepared(volume=volume, plan=dataclasses.replace(plan, token=token))


def _driver_kubeconfig(admin: Path, token: str, path: Path) -> Path:
    config = yaml.safe_load(admin.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


async def measure_lifecycle(
    kubeconfig: Path, *, pid: int, count: int, concurrency: int, profile: Path | None = None
) -> Lifecycle:
    print(f"  {count} pods, bound tokens, ECDSA P-256 keys and CSRs (before the clock) ...", flush=True)
    api = await api_client(kubeconfig)
    try:
        await create_namespace(api, NAMESPACE)
        await _rbac(api)
        driver = CertManagerDriver()
        prepared = [await _pod_volume(api, driver, i) for i in range(count)]
        driver_token = await _token(api, DRIVER_NAMESPACE, DRIVER_ACCOUNT)
    finally:
        await api.close()
    driver_config = _driver_kubeconfig(kubeconfig, driver_token, kubeconfig.with_name("driver.kubeconfig"))
    async with await connect(kubeconfig=str(driver_config), qps=0, burst=1) as kube:
        issuance = Issuance(kube=kube, node_id=NODE_ID)
        await issuance.start()
        try:
            idle_before, idle_start = cpu_seconds(pid), time.perf_counter()
            await asyncio.sleep(1.0)
            idle_rate = (cpu_seconds(pid) - idle_before) / (time.perf_counter() - idle_start)
            spy = await _start_profiler(pid, profile) if profile else None
            errors: list[str] = []
            pending = iter(prepared)

            async def worker() -> None:
                for one in pending:
                    try:
                        name = await issuance.create(one.volume, one.plan)
                        await issuance.wait(one.volume.pod_namespace, name)
                        await issuance.cleanup(one.volume)
                    except Exception as exc:  # counted and shown: this is a measurement
                        errors.append(f"{type(exc).__name__}: {exc}")

            cpu_before, start = cpu_seconds(pid), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            seconds = time.perf_counter() - start
            await asyncio.sleep(0.2)  # the node watch's DELETED events go out after the last answer
            sandbox_cpu = cpu_seconds(pid) - cpu_before - idle_rate * (time.perf_counter() - start)
            if spy is not None:
                _stop_profiler(spy)
        finally:
            await issuance.stop()
    return Lifecycle(count, seconds, sandbox_cpu, idle_rate, errors)


def py_spy() -> str | None:
    """The py-spy command (PyPI), next to the interpreter (the venv) or on PATH; None when missing."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def _start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the sandbox, raw collapsed stacks, until stopped."""
    command = [py_spy() or "py-spy", "record", "--pid", str(pid), "--rate", "500"]
    command += ["--format", "raw", "--output", str(output)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await asyncio.sleep(0.5)  # attached before the clock starts
    return proc


def _stop_profiler(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy writes its output and exits
    proc.wait(timeout=30)
