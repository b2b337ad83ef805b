"""`helm install` of certcsi's csi-driver chart into the sandbox (Helm 4's own engine, waiting until the
DaemonSet is ready): its pod runs on the node, its driver registers through the registrar sidecar and
gives a pod applied afterwards its certificate; `helm uninstall` takes the driver away again.

Helm waits with its default waiter (a watch with the WatchList protocol, `sendInitialEvents`), and the
uninstall purges the release (its Secrets deleted with protobuf DeleteOptions)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import helm_python as helm
from helm_charts import CHARTS_DIR

from certcsi.kube.config import open_transport
from certcsi.sandbox.bringup import LocalCluster
from certcsi.sandbox.kubelet.paths import target_path

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "containers": [{"name": "app", "image": "busybox", "volumeMounts": [{"name": "tls", "mountPath": "/tls"}]}],
        "volumes": [
            {
                "name": "tls",
                "csi": {
                    "driver": "csi.cert-manager.io",
                    "readOnly": True,
                    "volumeAttributes": {
                        "csi.cert-manager.io/issuer-name": "sandbox-ca",
                        "csi.cert-manager.io/issuer-kind": "ClusterIssuer",
                        "csi.cert-manager.io/common-name": "web",
                    },
                },
            }
        ],
    },
}


async def until(check: Any, *, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
    return found


async def test_helm_install_runs_the_driver_on_the_node_and_uninstall_removes_it(cluster: LocalCluster) -> None:
    config = helm.Config(kubeconfig_path=str(cluster.kubeconfig), namespace="cert-manager")
    chart = helm.Chart.load(CHARTS_DIR / "csi-driver")
    # metrics off: the driver then binds no TCP port (pods share the machine's network here).
    release = await asyncio.to_thread(
        config.install,
        chart,
        "csi-driver",
        {"metrics": {"enabled": False}},
        namespace="cert-manager",
        wait="watcher",
        timeout=120,
    )
    assert (release["status"], release["chart_name"]) == ("deployed", "cert-manager-csi-driver")
    api = open_transport(kubeconfig=str(cluster.kubeconfig), qps=0, burst=1)
    try:
        # Helm's wait lets a DaemonSet be maxUnavailable (1) short of ready: the status counts tell the rest.
        async def rolled_out() -> dict[str, Any] | None:
            ds = await api.request("GET", "/apis/apps/v1/namespaces/cert-manager/daemonsets/cert-manager-csi-driver")
            return ds if ds["status"].get("numberReady") == 1 else None

        ds = await until(rolled_out, what="the DaemonSet's pod Ready")
        assert {
            k: ds["status"][k] for k in ("desiredNumberScheduled", "updatedNumberScheduled", "observedGeneration")
        } == {
            "desiredNumberScheduled": 1,
            "updatedNumberScheduled": 1,
            "observedGeneration": 1,
        }
        await api.request("POST", "/api/v1/namespaces/default/pods", body=POD)

        async def running() -> dict[str, Any] | None:
            pod = await api.request("GET", "/api/v1/namespaces/default/pods/web")
            return pod if pod["status"].get("phase") == "Running" else None

        pod = await until(running, what="pod web Running")
        assert pod["spec"]["nodeName"] == cluster.node_name
        volume = target_path(cluster.host.kubelet_root, pod["metadata"]["uid"], "tls")
        assert sorted(p.name for p in volume.iterdir() if not p.name.startswith("..")) == [
            "ca.crt",
            "tls.crt",
            "tls.key",
        ]

        await asyncio.to_thread(config.uninstall, "csi-driver", wait="watcher", timeout=120)

        async def driver_gone() -> bool:
            listing = await api.request("GET", "/api/v1/namespaces/cert-manager/pods")
            return not listing["items"]

        await until(driver_gone, what="the driver's pod to go with its DaemonSet")
        releases = await api.request("GET", "/api/v1/namespaces/cert-manager/secrets?labelSelector=owner%3Dhelm")
        assert releases["items"] == [], "the release history is purged"
    finally:
        await api.close()
        config.close()
        chart.close()
