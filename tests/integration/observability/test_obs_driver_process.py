"""End to end: the real `certcsi driver` process with the kubelet stand-in against the sandbox.

A pod mounts a volume; then the driver's /metrics, /healthz and /readyz answer over HTTP, the pod
has its Event, `certcsi inspect` (another process, reading the data root only) shows the volume,
and the driver's log is JSON lines at -v=2.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import aiohttp

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.sandbox.demo import CSIDRIVER_YAML, DRIVER, NODE, Progress, driver_process
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.issuance import fnv_hash_label

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


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_driver_process_serves_metrics_probes_events_and_inspect() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="obs-it-", dir="/tmp"))  # short unix socket paths
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        async with Sandbox(approve=True) as cluster:
            admin = workdir / "admin.kubeconfig"
            cluster.write_kubeconfig(admin)
            flags = ["--metrics-bind-address", f"127.0.0.1:{port}", "--logging-format=json", "-v=2"]
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
                    assert await get(f"{base}/healthz") == (200, "ok")
                    assert await get(f"{base}/readyz") == (200, "ok")
                    status, metrics = await get(f"{base}/metrics")
                    command = ["inspect", "--data-root", str(workdir / "csi-data-dir"), "--json"]
                    inspect = await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "certcsi",
                        *command,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.PIPE,
                    )
                    out, err = await inspect.communicate()
                    events = [
                        e
                        for e in cluster.store.all_objects(BY_KEY["/events"])
                        if e.get("reason") == "CertificateIssued"
                    ]
            log_lines = (workdir / "driver.log").read_text().splitlines()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert status == 200
    assert f'certmanager_csi_managed_volume_count{{node="{fnv_hash_label(NODE)}"}} 1.0' in metrics
    assert "certcsi_time_to_first_certificate_seconds_count 1.0" in metrics
    assert inspect.returncode == 0, err.decode()
    (row,) = json.loads(out)
    assert (row["namespace"], row["pod"], row["identity"]) == (NAMESPACE, "web", f"web.{NAMESPACE}.svc")
    assert row["notAfter"] and row["nextRenewal"] and row["problems"] == []
    (event,) = events
    assert event["involvedObject"]["name"] == "web" and event["type"] == "Normal"
    records = [json.loads(line) for line in log_lines if line.startswith("{")]
    assert any(r["msg"] == "volume published" and r["logger"] == "volumes/manager" for r in records)
    assert all({"ts", "logger", "caller", "msg"} <= r.keys() and ("v" in r) != ("err" in r) for r in records)
