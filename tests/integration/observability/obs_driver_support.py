"""The real `certcsi driver` process and the kubelet stand-in against the sandbox, one pod mounted, the
driver's HTTP side (metrics and probes) on a free loopback port.

    async with driver_with_pod(extra_flags=["-v=2"]) as node:
        status, text = await node.get("/metrics")
    node.log_lines  # the driver's log, complete once the block has ended
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.sandbox.demo import CSIDRIVER_YAML, DRIVER, NODE, Progress, driver_process
from certcsi.sandbox.kubelet import Kubelet

NAMESPACE = "observed"

POD_YAML = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {NAMESPACE}}}
spec:
  containers: [{{name: app, image: busybox, volumeMounts: [{{name: tls, mountPath: /tls}}]}}]
  volumes:
    - name: tls
      csi:
        driver: {DRIVER}
        readOnly: true
        volumeAttributes:
          csi.cert-manager.io/issuer-name: {CA_ISSUER}
          csi.cert-manager.io/issuer-kind: ClusterIssuer
          csi.cert-manager.io/dns-names: ${{POD_NAME}}.${{POD_NAMESPACE}}.svc
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DriverWithPod:
    cluster: Sandbox
    workdir: Path
    base: str
    log_lines: list[str] = field(default_factory=list)

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(self.base + path) as response:
            return response.status, await response.text()


@contextlib.asynccontextmanager
async def driver_with_pod(*, extra_flags: Sequence[str] = ()) -> AsyncIterator[DriverWithPod]:
    workdir = Path(tempfile.mkdtemp(prefix="obs-it-", dir="/tmp"))  # short unix socket paths
    port = free_port()
    try:
        async with Sandbox(approve=True) as cluster:
            admin = workdir / "admin.kubeconfig"
            cluster.write_kubeconfig(admin)
            flags = ["--metrics-bind-address", f"127.0.0.1:{port}", *extra_flags]
            running = DriverWithPod(cluster=cluster, workdir=workdir, base=f"http://127.0.0.1:{port}")
            async with driver_process(
                workdir=workdir, kubeconfig=admin, unsafe=True, progress=Progress(lambda _: None), extra_args=flags
            ) as driver:
                kubelet = Kubelet(
                    node_name=NODE, root_dir=workdir / "kubelet", drivers={DRIVER: driver.endpoint}, kubeconfig=admin
                )
                async with kubelet:
                    await kubelet.apply(CSIDRIVER_YAML)
                    await kubelet.apply(POD_YAML)
                    await kubelet.wait_ready(NAMESPACE, "web")
                    yield running
            running.log_lines = (workdir / "driver.log").read_text().splitlines()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
