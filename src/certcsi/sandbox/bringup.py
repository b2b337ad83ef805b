"""What `certcsi sandbox up` runs: the control plane, the workload controllers and one node that runs pods.

    async with LocalCluster(state_dir=..., kubeconfig=..., installs=("csi-driver",)) as cluster:
        ...   # kubectl apply -f pod.yaml: scheduled on the node, volumes published, Running

The node's filesystem is `<state_dir>/node` (see kubelet/hostpaths.py), made a shared mount so the
mounts a driver container makes (its tmpfs, the pods' bind mounts) reach the kubelet, and so that
`stop()` can unmount everything under the state directory. `installs` are certcsi's charts, as
`helm template` renders them at the values in src/certcsi/sandbox/data/*.chart.yaml: their
DaemonSet and Deployment become pods of the node, certcsi's containers local processes.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from certcsi.sandbox import syscalls
from certcsi.sandbox.certmanager import install_ca_cluster_issuer
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.controllers import ControllerManager
from certcsi.sandbox.kubelet import Kubelet
from certcsi.sandbox.kubelet.hostpaths import HostFilesystem
from certcsi.sandbox.kubelet.running import launch_problem
from certcsi.volumes.mount import read_mountinfo

log = logging.getLogger(__name__)

NODE = "sandbox-node"
NODE_IP = "127.0.0.1"
CHARTS = ("csi-driver", "csi-driver-spiffe")
# The values the sandbox installs each chart with: upstream's defaults, but for one port. Both drivers
# keep upstream's data root (/tmp/cert-manager-csi-driver), as on a real node: each locks its own name
# there. The sandbox's pods share the machine's network, though, where the approver's metrics port
# (9402) is the csi-driver DaemonSet's too; in a cluster the approver has a pod network of its own.
CHART_SETS: dict[str, tuple[str, ...]] = {
    "csi-driver": (),
    "csi-driver-spiffe": ("app.approver.metrics.port=9403",),
}
SPIFFE_ISSUER = "spiffe-ca"
# On the Node: where its filesystem is, and a process in the mount namespace that sees its mounts
# (`certcsi sandbox files` reads a pod's volume through /proc/<pid>/root).
NODE_ROOT_ANNOTATION = "sandbox.certcsi.io/node-root"
PID_ANNOTATION = "sandbox.certcsi.io/pid"


def chart_objects(chart: str) -> list[dict[str, Any]]:
    """certcsi's chart as the sandbox installs it (generated from deploy/charts; a test keeps it current)."""
    if chart not in CHARTS:
        raise ValueError(f"--with: {chart!r} is not one of {', '.join(CHARTS)}")
    text = importlib.resources.files("certcsi.sandbox").joinpath("data", f"{chart}.chart.yaml").read_text("utf-8")
    return [obj for obj in yaml.safe_load_all(text) if obj]


def unmount_under(directory: Path) -> None:
    """Lazily unmount every mount at or below `directory`, deepest first."""
    prefix = str(directory.resolve())
    points = [
        m.mount_point for m in read_mountinfo() if m.mount_point == prefix or m.mount_point.startswith(prefix + "/")
    ]
    for point in sorted(points, key=len, reverse=True):
        with contextlib.suppress(OSError):
            syscalls.unmount(point, lazy=True)


class LocalCluster:
    def __init__(
        self,
        *,
        state_dir: Path,
        kubeconfig: Path,
        port: int = 0,
        approve: bool = True,
        signing_delay: float = 0.0,
        installs: Sequence[str] = (),
        node_name: str = NODE,
        remove_state: bool = False,
    ) -> None:
        for chart in installs:
            chart_objects(chart)  # an unknown name fails here, before anything starts
        self.state_dir = Path(state_dir)
        self.kubeconfig = kubeconfig
        self.installs = tuple(installs)
        self.node_name = node_name
        self.host = HostFilesystem(self.state_dir / "node")
        self.sandbox = Sandbox(port=port, approve=approve, signing_delay=signing_delay)
        self._admin = self.state_dir / "admin.kubeconfig"
        self._remove_state = remove_state
        self._mounted = False
        self.controllers = ControllerManager(kubeconfig=self._admin)
        self.kubelet = Kubelet(
            node_name=node_name,
            root_dir=self.host.kubelet_root,
            drivers={},
            kubeconfig=self._admin,
            host_ip=NODE_IP,
            register_node=True,
            node_annotations={NODE_ROOT_ANNOTATION: str(self.host.root), PID_ANNOTATION: str(os.getpid())},
            host=self.host,
            containers_dir=self.state_dir / "containers",
        )

    @property
    def url(self) -> str:
        return self.sandbox.url

    async def start(self) -> None:
        self.host.root.mkdir(parents=True, exist_ok=True)
        if launch_problem(self.host.root) is None:
            # Mounts made below it by a container (its own mount namespace) propagate back here.
            syscalls.bind(self.host.root, self.host.root)
            syscalls.set_propagation(self.host.root, syscalls.MS_SHARED, recursive=True)
            self._mounted = True
        await self.sandbox.start()
        if "csi-driver-spiffe" in self.installs:
            install_ca_cluster_issuer(self.sandbox.store, name=SPIFFE_ISSUER, common_name="csi-driver-spiffe-ca")
            # As csi-driver-spiffe's install asks of cert-manager: its requests are the approver's to decide.
            approver = self.sandbox.cert_manager.approver
            if approver is not None:
                approver.skip_signers.add(f"clusterissuers.cert-manager.io/{SPIFFE_ISSUER}")
        self.sandbox.write_kubeconfig(self._admin)
        self.sandbox.write_kubeconfig(self.kubeconfig)
        await self.controllers.start()
        await self.kubelet.start()
        for chart in self.installs:
            await self.kubelet.apply(chart_objects(chart))
            log.info("chart installed chart=%s", chart)

    async def stop(self) -> None:
        """Stop the node (its container processes too), the controllers and the control plane; unmount all."""
        await self.kubelet.stop()
        await self.controllers.stop()
        await self.sandbox.stop()
        if self._mounted or os.geteuid() == 0:
            unmount_under(self.state_dir)
        if self._remove_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    async def __aenter__(self) -> LocalCluster:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
