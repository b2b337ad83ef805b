"""The image's driver container, run as the csi-driver chart's DaemonSet runs it, publishes pods' volumes.

The chart (deploy/charts/csi-driver) is rendered by the real Helm engine with the values a node of this
test needs: app.kubeletRootDir and app.driver.csiDataDir in a scratch directory instead of /var/lib/kubelet
and /tmp/cert-manager-csi-driver, hostNetwork so that the container reaches the sandbox API server on the
host's loopback, and the image built here. Its driver container is upstream's, args and all (checked
against upstream's rendered manifest), with certcsi's image and command. Everything comes from the
manifest: the args, `$(NODE_ID)` and `$(CSI_ENDPOINT)` expanded from env as kubelet does, privileged as
root with a read-only root, the plugin directory, the pods directory and the data root as hostPath
mounts, Bidirectional where the manifest says so. The container finds the API as the DaemonSet does,
in-cluster: the KUBERNETES_SERVICE_* variables and the projected token of the chart's ServiceAccount,
bound by the chart's RBAC. The kubelet stand-in runs on the host, calls the container's socket, and the
pods' files are read there.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from helm_charts import container, find, render, upstream_objects
from image_support import BuiltImage, Container, running_container
from mount_namespace import (
    mount_at,
    mounts_under,
    require_private_mount_namespace,
    unmount_everything_under,
    write_fails_read_only,
)
from pod_containers import PodIdentity, podman_run_args
from pod_files import check_pair

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.sandbox.demo import NAMESPACE, PODS_YAML, openssl_verify
from certcsi.sandbox.kubelet import Kubelet, volume_id

pytestmark = [pytest.mark.image, pytest.mark.packaging]

CHART = "csi-driver"
DAEMONSET = "cert-manager-csi-driver"
CONTAINER = "cert-manager-csi-driver"
DRIVER = "csi.cert-manager.io"
NODE = "image-node"


def render_chart(*, kubelet_root: Path, data_dir: Path, image: str) -> list[dict[str, Any]]:
    """The chart's objects for this node: `helm template` with the values the module docstring names."""
    repository, _, tag = image.rpartition(":")
    sets = [f"app.kubeletRootDir={kubelet_root}", f"app.driver.csiDataDir={data_dir}", "hostNetwork=true"]
    return render(CHART, sets=[*sets, f"image.repository={repository}", f"image.tag={tag}"])


def test_the_charts_driver_container_is_upstreams_with_certcsis_image_and_command(tmp_path: Path) -> None:
    ours = container(find(render_chart(kubelet_root=tmp_path, data_dir=tmp_path, image="x:y"), "DaemonSet"), CONTAINER)
    upstream = container(find(upstream_objects(CHART), "DaemonSet"), CONTAINER)
    assert ours["args"] == upstream["args"]
    assert (ours["image"], ours["command"]) == ("x:y", ["certcsi", "driver"])


@contextlib.contextmanager
def shared_scratch_directory() -> Iterator[Path]:
    """A scratch directory bind-mounted onto itself and made rshared, as kubelet makes its root directory:
    Bidirectional mounts need a shared source. Everything mounted beneath it goes on the way out."""
    require_private_mount_namespace()
    # Not pytest's tmp_path: the CSI socket path beneath it must stay under 108 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="img-", dir="/tmp"))
    try:
        subprocess.run(["mount", "--bind", str(workdir), str(workdir)], check=True)
        subprocess.run(["mount", "--make-rshared", str(workdir)], check=True)
        yield workdir
    finally:
        unmount_everything_under(workdir)  # the inmemfs the container left, then the bind itself
        left = mounts_under(workdir)
        if not left:
            shutil.rmtree(workdir, ignore_errors=True)
    assert not left, f"still mounted after the test: {[m.mount_point for m in left]}"


def service_account_files(cluster: Sandbox, directory: Path, *, namespace: str, name: str) -> Path:
    """token, ca.crt and namespace as kubelet projects them for a pod of the ServiceAccount."""
    token, _ = cluster.authority.mint(namespace=namespace, service_account=name, audiences=None)
    directory.mkdir(mode=0o755)
    for file, content in {
        "token": token.encode(),
        "ca.crt": cluster.api.ca_pem,
        "namespace": namespace.encode(),
    }.items():
        (directory / file).write_bytes(content)
        (directory / file).chmod(0o644)
    return directory


def sandbox_ca(cluster: Sandbox, path: Path) -> Path:
    """The CA behind the sandbox's ClusterIssuer, from its Secret: independent of the pod's ca.crt."""
    secret = cluster.store.find(BY_KEY["/secrets"], "cert-manager", CA_ISSUER)
    assert secret is not None
    path.write_bytes(base64.b64decode(secret["data"]["tls.crt"]))
    return path


async def wait_for_socket(driver: Container, socket: Path, *, timeout: float) -> None:
    """Until the driver serves its socket on the host; fails at once if the container exits."""
    async with asyncio.timeout(timeout):
        while not socket.is_socket():
            state = await driver.state()
            if not state.get("Running"):
                raise AssertionError(
                    f"the driver container exited ({state.get('ExitCode')}) before serving {socket}:\n"
                    f"{await driver.logs()}"
                )
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def node(workdir: Path, image: BuiltImage) -> AsyncIterator[tuple[Sandbox, Kubelet, Container, Path]]:
    """The sandbox, the chart's RBAC and CSIDriver in it, the driver container, and the kubelet stand-in."""
    kubelet_root, data_dir = workdir / "kubelet", workdir / "csi-data-dir"
    documents = render_chart(kubelet_root=kubelet_root, data_dir=data_dir, image=image.tag)
    daemonset = find(documents, "DaemonSet", DAEMONSET)
    pod = daemonset["spec"]["template"]["spec"]
    async with Sandbox() as cluster:
        cluster.write_kubeconfig(workdir / "admin.kubeconfig")
        async with Kubelet(
            node_name=NODE,
            root_dir=kubelet_root,
            drivers={DRIVER: f"unix://{kubelet_root / 'plugins' / DAEMONSET / 'csi.sock'}"},
            kubeconfig=workdir / "admin.kubeconfig",
        ) as kubelet:
            # Everything the chart installs but the DaemonSet, which runs here as a container.
            await kubelet.apply([document for document in documents if document["kind"] != "DaemonSet"])
            (kubelet_root / "pods").mkdir(exist_ok=True)  # kubelet makes it when it starts
            account = pod["serviceAccountName"]
            identity = PodIdentity(
                node_name=NODE,
                pod_name=f"{DAEMONSET}-{uuid.uuid4().hex[:5]}",
                namespace="cert-manager",
                api_host="127.0.0.1",
                api_port=int(cluster.url.rsplit(":", 1)[1]),
                service_account=service_account_files(
                    cluster, workdir / "serviceaccount", namespace="cert-manager", name=account
                ),
            )
            run_args = podman_run_args(
                pod=pod, container=container(daemonset, CONTAINER), name=identity.pod_name, identity=identity
            )
            async with running_container(run_args, name=identity.pod_name) as driver:
                await wait_for_socket(driver, kubelet_root / "plugins" / DAEMONSET / "csi.sock", timeout=60)
                yield cluster, kubelet, driver, data_dir


async def test_driver_container_publishes_verified_volumes(image: BuiltImage) -> None:
    """The demo's two pods (PEM and PKCS#12; a 30 s certificate that renews) get their files from the container."""
    pods = ("my-csi-app", "my-csi-app-short-lived")
    with shared_scratch_directory() as workdir:
        async with node(workdir, image) as (cluster, kubelet, driver, data_dir):
            await kubelet.apply(PODS_YAML)
            await asyncio.gather(*(kubelet.wait_ready(NAMESPACE, pod, timeout=60) for pod in pods))
            ca = sandbox_ca(cluster, workdir / "sandbox-ca.crt")
            for pod in pods:
                target = kubelet.pod_volume_path(NAMESPACE, pod, "tls")
                pair = check_pair(target)  # key matches certificate; openssl verify against the pod's ca.crt
                assert pair.verify_output.endswith(": OK")
                assert openssl_verify(ca, target / "tls.crt") == f"{target / 'tls.crt'}: OK"
                # Made inside the container, seen on the host: the Bidirectional mounts propagated, and the
                # host's copy is read-only too (made read-only before it was attached, so before it propagated).
                bind = mount_at(target)
                volume = volume_id(kubelet.pod_uid(NAMESPACE, pod), "tls")
                assert bind is not None and (bind.fs_type, bind.root) == ("tmpfs", f"/{volume}/data"), bind
                assert bind.options >= {"ro", "nosuid", "nodev", "noexec"}, bind
                assert write_fails_read_only(target)
            assert (kubelet.pod_volume_path(NAMESPACE, pods[0], "tls") / "keystore.p12").stat().st_size > 0
            inmemfs = mount_at(data_dir / "inmemfs")
            assert inmemfs is not None and inmemfs.fs_type == "tmpfs", inmemfs

            # Requested as the DaemonSet's service account: in-cluster configuration, under the chart's RBAC.
            requests = cluster.store.all_objects(BY_KEY["cert-manager.io/certificaterequests"])
            assert {request["spec"]["username"] for request in requests} == {
                "system:serviceaccount:cert-manager:cert-manager-csi-driver"
            }

            for pod in pods:
                target = kubelet.pod_volume_path(NAMESPACE, pod, "tls")
                await kubelet.delete_pod(NAMESPACE, pod, timeout=60)
                assert not target.exists() and mount_at(target) is None

            state = await driver.stop()
            assert (state["ExitCode"], state["OOMKilled"]) == (0, False), await driver.logs()
            assert os.listdir(data_dir / "inmemfs") == []
