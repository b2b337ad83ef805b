"""Both drivers on one node share one data root, as upstream's two charts install them (both default to
/tmp/cert-manager-csi-driver): real `certcsi driver` and `certcsi spiffe-driver` processes, started at the
same moment, the kubelet stand-in publishing through both, real tmpfs and bind mounts.

Each starts, serves and restarts without touching the other's volumes; together they mount one tmpfs;
a second process of either driver is still refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import NAMESPACE, check_pair, eventually, pod_manifest, scratch_directory, typical_attributes
from spiffe_node_support import ACCOUNT, CLUSTER_OBJECTS, ca_certificate, pod_yaml
from spiffe_node_support import DRIVER as SPIFFE
from spiffe_node_support import NAMESPACE as SPIFFE_NAMESPACE

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.sandbox.demo import CSIDRIVER_YAML, DRIVER, NODE, Progress, RunningDriver, driver_process
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.mount import read_mountinfo
from certcsi.volumes.store import INMEMFS

pytestmark = pytest.mark.e2e


def command(name: str, *, bundle: Path) -> tuple[str, ...]:
    if name == DRIVER:
        return ("driver", "--driver-name", DRIVER)
    return (
        *("spiffe-driver", "--csi-driver-name", SPIFFE, "--source-ca-bundle", str(bundle)),
        *("--issuer-name", CA_ISSUER, "--issuer-kind", "ClusterIssuer"),
    )


@dataclass
class SharedNode:
    workdir: Path
    cluster: Sandbox
    kubeconfig: Path
    kubelet: Kubelet | None = None
    stacks: dict[str, contextlib.AsyncExitStack] = field(default_factory=dict)
    running: dict[str, RunningDriver] = field(default_factory=dict)

    @property
    def inmemfs(self) -> Path:
        """Under the data root both drivers are given instead of one each in their own work directory."""
        return self.data_root / INMEMFS

    @property
    def data_root(self) -> Path:
        return self.workdir / "shared-data-root"

    @property
    def bundle(self) -> Path:
        return self.workdir / "ca.crt"

    def driver_dir(self, name: str) -> Path:
        return self.workdir / name

    async def _start(self, name: str) -> None:
        directory = self.driver_dir(name)
        shutil.rmtree(directory / "plugins", ignore_errors=True)  # the dead run's socket
        directory.mkdir(exist_ok=True)
        log = directory / "driver.log"
        if log.exists():
            log.rename(directory / f"driver-{len(list(directory.glob('driver-*.log')))}.log")
        stack = contextlib.AsyncExitStack()
        self.running[name] = await stack.enter_async_context(
            driver_process(
                workdir=directory,
                kubeconfig=self.kubeconfig,
                unsafe=False,
                progress=Progress(lambda _line: None),
                # Last wins: both share this data root instead of one each under their work directory.
                extra_args=("--data-root", str(self.data_root)),
                command=command(name, bundle=self.bundle),
                driver_name=name,
            )
        )
        self.stacks[name] = stack

    async def start_both(self) -> None:
        """Both drivers at the same moment, as a node's two DaemonSet pods start after a reboot."""
        await asyncio.gather(self._start(DRIVER), self._start(SPIFFE))

    async def kill_both(self) -> None:
        for name in list(self.stacks):
            os.kill(self.running[name].pid, 9)
            await self.stacks.pop(name).aclose()

    def logs(self, name: str) -> str:
        return b"".join(p.read_bytes() for p in sorted(self.driver_dir(name).glob("driver*.log"))).decode(
            errors="replace"
        )

    def tmpfs_mounts(self) -> int:
        return sum(e.mount_point == os.path.realpath(self.inmemfs) and e.fs_type == "tmpfs" for e in read_mountinfo())

    def requests(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for namespace in (NAMESPACE, SPIFFE_NAMESPACE):
            items, _ = self.cluster.store.list(BY_KEY["cert-manager.io/certificaterequests"], namespace)
            found.extend(items)
        return found


@contextlib.asynccontextmanager
async def shared_node() -> AsyncIterator[SharedNode]:
    with scratch_directory("e2e-shared-") as workdir:
        async with Sandbox(approve=True) as cluster:
            node = SharedNode(workdir=workdir, cluster=cluster, kubeconfig=workdir / "kubeconfig")
            cluster.write_kubeconfig(node.kubeconfig)
            node.bundle.write_bytes(ca_certificate(cluster))
            try:
                await node.start_both()
                drivers = {name: running.endpoint for name, running in node.running.items()}
                # requiresRepublish every second: restarts are met by republishes within the test.
                kubelet = Kubelet(
                    node_name=NODE,
                    root_dir=workdir / "kubelet",
                    drivers=drivers,
                    kubeconfig=node.kubeconfig,
                    republish_period=1.0,
                )
                async with kubelet:
                    node.kubelet = kubelet
                    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
                    await kubelet.apply([namespace])
                    await kubelet.apply(CSIDRIVER_YAML)
                    await kubelet.apply(CLUSTER_OBJECTS)
                    yield node
            finally:
                for stack in node.stacks.values():
                    await stack.aclose()


async def _refused(node: SharedNode, name: str) -> str:
    """A second process of driver `name` on the shared data root: its output (it must exit 1 by itself)."""
    socket = node.workdir / "second" / "csi.sock"
    socket.parent.mkdir(exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "certcsi", *command(name, bundle=node.bundle)),
        *("--node-id", NODE, "--endpoint", f"unix://{socket}", "--data-root", str(node.data_root)),
        *("--kubeconfig", str(node.kubeconfig)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1, output
    assert not socket.exists()
    return output.decode(errors="replace")


async def test_two_drivers_share_one_data_root_through_restarts_and_pod_deletion() -> None:
    async with shared_node() as node:
        kubelet = node.kubelet
        assert kubelet is not None
        await kubelet.apply(pod_manifest("web", typical_attributes()))
        await kubelet.apply(pod_yaml("mesh", ACCOUNT))
        await kubelet.wait_ready(NAMESPACE, "web", timeout=45)
        await kubelet.wait_ready(SPIFFE_NAMESPACE, "mesh", timeout=45)
        web = kubelet.pod_volume_path(NAMESPACE, "web", "tls")
        mesh = kubelet.pod_volume_path(SPIFFE_NAMESPACE, "mesh", "spiffe")
        serials = (check_pair(web).serial, check_pair(mesh).serial)
        volumes = sorted(os.listdir(node.inmemfs))
        requests = len(node.requests())
        assert len(volumes) == 2 and requests == 2 and node.tmpfs_mounts() == 1

        for _ in range(2):  # the node's driver pods die together and come back together
            await node.kill_both()
            await node.start_both()
            await asyncio.sleep(3)  # several republishes through each restarted driver
            assert node.tmpfs_mounts() == 1
            assert sorted(os.listdir(node.inmemfs)) == volumes
            assert (check_pair(web).serial, check_pair(mesh).serial) == serials
            assert len(node.requests()) == requests

        for name in (DRIVER, SPIFFE):
            output = await _refused(node, name)
            assert f"in use by another {name} driver" in output, output
        log = node.logs(SPIFFE)
        assert "left alone" in log and f"{DRIVER}:1" in log, log

        # Unpublishing one driver's volume leaves the other's where it is.
        await kubelet.delete_pod(NAMESPACE, "web")
        await eventually(lambda: len(os.listdir(node.inmemfs)) == 1, timeout=30, what="the web volume removed")
        assert check_pair(mesh).serial == serials[1]
