"""The kubelet's Node object and its heartbeat: registration, node status, the Lease in kube-node-lease.

    NodeRegistration(api, name=..., ...).register()     POST the Node (or adopt the existing one), post status
    await registration.heartbeat_forever()               renew the Lease every 10 s, re-post status every 5 min

As kubelet does: the Node carries the well-known labels (`kubernetes.io/hostname`, `kubernetes.io/os`,
`kubernetes.io/arch` and their beta twins), its status the four kubelet conditions with their reasons
and messages, the addresses, capacity and `nodeInfo`; the Lease (holder = node name, 40 s duration,
owned by the Node) is what says the node is alive between status posts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from certcsi import __version__
from certcsi.errors import KubernetesError
from certcsi.kube._transport import MERGE_PATCH, Obj, Transport, get_or_none
from certcsi.timestamps import rfc3339, rfc3339_micro

log = logging.getLogger(__name__)

NODES = "/api/v1/nodes"
LEASE_NAMESPACE = "kube-node-lease"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases"
LEASE_DURATION_SECONDS = 40
# kubelet renews at a quarter of the lease duration, and reports unchanged status every 5 minutes.
LEASE_RENEW_INTERVAL = LEASE_DURATION_SECONDS / 4
STATUS_REPORT_INTERVAL = 300.0
MAX_PODS = 110
KUBELET_PORT = 10250
_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}

# type, reason, message of each condition kubelet posts for a healthy node (Ready last, as kubelet orders them).
_HEALTHY = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)




def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            return value.strip().strip('"')
    return "<unknown>"


def _memory_kib() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _storage_kib(path: Path) -> int:
    try:
        stat = os.statvfs(path)
    except OSError:
        return 0
    return stat.f_blocks * stat.f_frsize // 1024


@dataclass(frozen=True)
class Machine:
    """What kubelet learns about its machine (cadvisor and the OS) for the Node's status."""

    architecture: str
    kernel_version: str
    os_image: str
    machine_id: str
    boot_id: str
    cpus: int
    memory_kib: int
    storage_kib: int

    @classmethod
    def probe(cls, root: Path) -> Machine:
        machine = platform.machine()
        return cls(
            architecture=_ARCHES.get(machine, machine.lower()),
            kernel_version=platform.release(),
            os_image=_os_image(),
            machine_id=_read("/etc/machine-id"),
            boot_id=_read("/proc/sys/kernel/random/boot_id"),
            cpus=os.cpu_count() or 1,
            memory_kib=_memory_kib(),
            storage_kib=_storage_kib(root),
        )


@dataclass(frozen=True)
class NodeSpec:
    """The node as this kubelet presents it."""

    name: str
    host_ip: str
    machine: Machine
    kubelet_version: str
    annotations: Mapping[str, str] = field(default_factory=dict)

    def labels(self) -> dict[str, str]:
        arch = self.machine.architecture
        return {
            "beta.kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch,
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
        }

    def manifest(self) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": self.labels(),
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                    **self.annotations,
                },
            },
            "spec": {},
        }

    def status(self, *, now: datetime, since: Mapping[str, str]) -> Obj:
        """The full node status; `since` keeps each condition's lastTransitionTime (by type)."""
        stamp = rfc3339(now)
        machine = self.machine
        resources = {
            "cpu": str(machine.cpus),
            "ephemeral-storage": f"{machine.storage_kib}Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": f"{machine.memory_kib}Ki",
            "pods": str(MAX_PODS),
        }
        return {
            "conditions": [
                {
                    "type": kind,
                    "status": value,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": since.get(kind, stamp),
                }
                for kind, value, reason, message in _HEALTHY
            ],
            "addresses": [{"type": "InternalIP", "address": self.host_ip}, {"type": "Hostname", "address": self.name}],
            "capacity": resources,
            "allocatable": dict(resources),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "nodeInfo": {
                "architecture": machine.architecture,
                "bootID": machine.boot_id,
                "containerRuntimeVersion": f"certcsi-sandbox://{__version__}",
                "kernelVersion": machine.kernel_version,
                "kubeProxyVersion": "",
                "kubeletVersion": self.kubelet_version,
                "machineID": machine.machine_id,
                "operatingSystem": "linux",
                "osImage": machine.os_image,
                "systemUUID": machine.machine_id,
            },
        }


async def server_version(transport: Transport) -> str:
    """The API server's gitVersion: a kubelet reports its own, which matches its control plane's here."""
    try:
        answer = await transport.request("GET", "/version")
    except KubernetesError:
        return "v0.0.0"
    version = answer.get("gitVersion")
    return version if isinstance(version, str) and version else "v0.0.0"


class NodeRegistration:
    """Registers one Node and keeps it Ready: its Lease renewed, its status re-posted."""

    def __init__(self, transport: Transport, spec: NodeSpec, *, now: Callable[[], datetime]) -> None:
        self._transport = transport
        self.spec = spec
        self._now = now
        self._uid = ""
        self._transitions: dict[str, str] = {}

    @property
    def _path(self) -> str:
        return f"{NODES}/{quote(self.spec.name, safe='')}"

    async def register(self) -> Obj:
        """Create the Node (kubelet's registerWithAPIServer: an existing one is adopted), then post its status."""
        try:
            node = await self._transport.request("POST", NODES, body=self.spec.manifest())
        except KubernetesError as err:
            if err.status != 409:
                raise
            node = await self._transport.request("GET", self._path)
            meta = self.spec.manifest()["metadata"]
            patch = {"metadata": {"labels": meta["labels"], "annotations": meta["annotations"]}}
            node = await self._transport.request("PATCH", self._path, body=patch, content_type=MERGE_PATCH)
        self._uid = str(node.get("metadata", {}).get("uid") or "")
        for condition in (node.get("status") or {}).get("conditions") or []:
            if isinstance(condition, dict) and condition.get("lastTransitionTime"):
                self._transitions[str(condition.get("type"))] = str(condition["lastTransitionTime"])
        await self.post_status()
        await self.renew_lease()
        log.info("node registered node=%s", self.spec.name)
        return node

    async def post_status(self) -> None:
        status = self.spec.status(now=self._now(), since=self._transitions)
        for condition in status["conditions"]:
            self._transitions.setdefault(condition["type"], condition["lastTransitionTime"])
        await self._transport.request(
            "PATCH", self._path + "/status", body={"status": status}, content_type=MERGE_PATCH
        )

    async def renew_lease(self) -> None:
        """Create the node's Lease, or move its renewTime forward (kubelet's node lease controller)."""
        path = f"{LEASES}/{quote(self.spec.name, safe='')}"
        stamp = rfc3339_micro(self._now())
        current = await get_or_none(self._transport, path)
        if current is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": self.spec.name,
                    "namespace": LEASE_NAMESPACE,
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.spec.name, "uid": self._uid}],
                },
                "spec": {
                    "holderIdentity": self.spec.name,
                    "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                    "renewTime": stamp,
                },
            }
            await self._transport.request("POST", LEASES, body=body)
            return
        current.setdefault("spec", {})["renewTime"] = stamp
        await self._transport.request("PUT", path, body=current)

    async def heartbeat_forever(
        self,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
        lease_interval: float = LEASE_RENEW_INTERVAL,
        status_interval: float = STATUS_REPORT_INTERVAL,
    ) -> None:
        """Renew the Lease every `lease_interval` and re-post status every `status_interval`, until cancelled."""
        since_status = 0.0
        while True:
            await sleep(lease_interval)
            since_status += lease_interval
            try:
                await self.renew_lease()
                if since_status >= status_interval:
                    await self.post_status()
                    since_status = 0.0
            except KubernetesError as err:
                log.warning("node heartbeat failed, will retry node=%s error=%s", self.spec.name, err)
