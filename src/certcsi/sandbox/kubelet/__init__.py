"""The sandbox kubelet: applies Pod YAML through the API and drives CSI drivers as kubelet does.

    async with Kubelet(kubeconfig=..., node_name="node-1", root_dir=tmp / "kubelet",
                       drivers={"csi.cert-manager.io": "unix:///run/csi.sock"}) as kubelet:
        await kubelet.apply(POD_YAML)
        await kubelet.wait_ready("default", "web")
        files = kubelet.pod_volume_path("default", "web", "tls")
        await kubelet.delete_pod("default", "web")

Modules: node (the Kubelet), pods (one pod's life), mounting (one volume's SetUp/TearDown),
planning (what NodePublishVolume carries), calling (gRPC to drivers), api (calls to the API
server), applying (manifests), paths (on-disk layout and hashes), addressing (pod IPs).
"""

from __future__ import annotations

from certcsi.sandbox.kubelet.applying import ManifestError
from certcsi.sandbox.kubelet.node import PUBLISH_BACKOFF, Kubelet, PodNotReady
from certcsi.sandbox.kubelet.paths import target_path, volume_id
from certcsi.sandbox.kubelet.pods import failed_mount_message

__all__ = [
    "PUBLISH_BACKOFF",
    "Kubelet",
    "ManifestError",
    "PodNotReady",
    "failed_mount_message",
    "target_path",
    "volume_id",
]
