"""Finding a pod of the sandbox and its node's files from outside: what `sandbox files` and `sandbox exec` share.

    pod = await find_pod(transport, "default", "my-csi-app")          # or ds/NAME, deploy/NAME, pod/NAME
    node = await sandbox_node(transport, pod)                          # from the Node's annotations
    node.path("/var/lib/kubelet/pods/...")                             # readable from this process

`certcsi sandbox up` runs in a mount namespace of its own, so its mounts (the pods' volumes, the
drivers' tmpfs) are seen through /proc/<pid>/root of its process, which the Node names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from certcsi.errors import KubernetesError
from certcsi.kube import Transport
from certcsi.kube._transport import get_or_none
from certcsi.sandbox.bringup import NODE_ROOT_ANNOTATION, PID_ANNOTATION
from certcsi.sandbox.kubelet.hostpaths import HostFilesystem

Obj = dict[str, Any]
_WORKLOADS = {
    "daemonset": "daemonsets",
    "daemonsets": "daemonsets",
    "ds": "daemonsets",
    "deployment": "deployments",
    "deployments": "deployments",
    "deploy": "deployments",
}


class NotFound(Exception):
    """What was asked for is not there; the message says what is."""


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def find_pod(transport: Transport, namespace: str, ref: str) -> Obj:
    """The pod named `ref`, or for `ds/NAME` / `deploy/NAME` the first running pod of that workload."""
    kind, slash, name = ref.partition("/")
    if not slash:
        kind, name = "pod", ref
    ns = quote(namespace, safe="")
    if kind in ("pod", "pods", "po"):
        pod = await get_or_none(transport, f"/api/v1/namespaces/{ns}/pods/{quote(name, safe='')}")
        if pod is None:
            raise NotFound(f'pods "{name}" not found in namespace {namespace}')
        return pod
    plural = _WORKLOADS.get(kind.lower())
    if plural is None:
        raise NotFound(f'"{kind}" is not a pod, a DaemonSet (ds) or a Deployment (deploy)')
    workload = await get_or_none(transport, f"/apis/apps/v1/namespaces/{ns}/{plural}/{quote(name, safe='')}")
    if workload is None:
        raise NotFound(f'{plural}.apps "{name}" not found in namespace {namespace}')
    uid = _d(workload.get("metadata")).get("uid")
    listing = await transport.request("GET", f"/api/v1/namespaces/{ns}/pods")
    owned = [
        pod
        for pod in listing.get("items") or []
        if any(_d(r).get("uid") == uid for r in _d(pod.get("metadata")).get("ownerReferences") or [])
        and not _d(pod.get("metadata")).get("deletionTimestamp")
    ]
    owned.sort(key=lambda pod: _d(pod.get("status")).get("phase") != "Running")
    if not owned:
        raise NotFound(f"{plural}.apps/{name} has no pods")
    chosen: Obj = owned[0]
    return chosen


@dataclass(frozen=True)
class SandboxNode:
    name: str
    host: HostFilesystem
    pid: int

    def _through(self) -> Path | None:
        """/proc/<pid>/root when that process is alive and readable here, else None (same mount namespace)."""
        root = Path(f"/proc/{self.pid}/root")
        try:
            if os.access(root, os.R_OK) and (root / str(self.host.root).lstrip("/")).exists():
                return root
        except OSError:
            return None
        return None

    def path(self, host_path: str) -> Path:
        """The node's `host_path`, as this process can read it."""
        local = self.host.path(host_path)
        through = self._through()
        return through / str(local).lstrip("/") if through is not None else local

    def local(self, path: Path) -> Path:
        """A path in the sandbox's own mount namespace, as this process can read it."""
        through = self._through()
        return through / str(path).lstrip("/") if through is not None else path


async def sandbox_node(transport: Transport, pod: Obj) -> SandboxNode:
    name = str(_d(pod.get("spec")).get("nodeName") or "")
    meta = _d(pod.get("metadata"))
    if not name:
        raise NotFound(f"pod {meta.get('namespace')}/{meta.get('name')} is not scheduled to a node yet")
    try:
        node = await get_or_none(transport, f"/api/v1/nodes/{quote(name, safe='')}")
    except KubernetesError as err:
        raise NotFound(f"cannot read node {name}: {err}") from None
    annotations = _d(_d((node or {}).get("metadata")).get("annotations"))
    root, pid = annotations.get(NODE_ROOT_ANNOTATION), annotations.get(PID_ANNOTATION)
    if node is None or not root or not str(pid or "").isdigit():
        raise NotFound(f"node {name} is not a node of `certcsi sandbox up` (it has no {NODE_ROOT_ANNOTATION})")
    return SandboxNode(name=name, host=HostFilesystem(Path(root)), pid=int(str(pid)))
