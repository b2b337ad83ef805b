"""The end-to-end harness: the sandbox in-process, the real driver as a child process, the kubelet stand-in.

    async with e2e_environment() as env:          # fresh /tmp work dir, sandbox, driver, kubelet
        await env.kubelet.apply(pod_manifest("web", typical_attributes()))
        await env.kubelet.wait_ready(NAMESPACE, "web")
        files = read_snapshot(env.target("web"))  # one consistent file set, read through `..data`

Everything mounts for real (tmpfs under the data root, read-only bind mounts at the targets), so it
must run as root inside a private mount namespace; `require_private_mount_namespace` fails loudly
otherwise. Leaving the environment unmounts everything beneath its work directory and fails if
anything stays mounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from driver_runner import DriverRunner
from mount_namespace import (
    IN_MOUNT_NS,
    mount_at,
    mounts_under,
    require_private_mount_namespace,
    share_with_peer,
    unmount_everything_under,
    write_fails_read_only,
)
from pod_files import CheckedPair, check_pair, key_matches_certificate, leaf_serial, read_snapshot
from waiting import eventually

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.kube import Backoff
from certcsi.kube._transport import Transport
from certcsi.kube.config import open_transport
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.sandbox.demo import CSIDRIVER_YAML, DRIVER, NODE
from certcsi.sandbox.kubelet import Kubelet, volume_id
from certcsi.volumes.issuance import VOLUME_ID_HASH_LABEL, fnv_hash_label
from certcsi.volumes.store import INMEMFS

# The mount-namespace, pod-file, waiting and driver-process helpers live in tests/support (the image tests
# and the soak benchmark share them); the e2e tests import them from here.
__all__ = [
    "E2E",
    "FAST_BACKOFF",
    "IN_MOUNT_NS",
    "NAMESPACE",
    "CheckedPair",
    "DirectVolume",
    "DriverRunner",
    "P",
    "check_pair",
    "csi_channel",
    "e2e_environment",
    "eventually",
    "key_matches_certificate",
    "leaf_serial",
    "mount_at",
    "mounts_under",
    "pod_info",
    "pod_manifest",
    "publish_outcome",
    "publish_request",
    "read_snapshot",
    "require_private_mount_namespace",
    "scratch_directory",
    "share_with_peer",
    "typical_attributes",
    "unmount_everything_under",
    "write_fails_read_only",
]

NAMESPACE = "e2e"
P = "csi.cert-manager.io/"
# Quicker than kubelet's 0.5 s → 30 s so that retries after a driver restart land within seconds.
FAST_BACKOFF = Backoff(base=0.2, factor=2.0, cap=2.0, jitter=0.0)


# --- manifests ---------------------------------------------------------------------------------------


def typical_attributes(**extra: str) -> dict[str, str]:
    """What most pods ask for (as in upstream's examples); `extra` keys are attribute names without the prefix."""
    attributes = {
        P + "issuer-name": CA_ISSUER,
        P + "issuer-kind": "ClusterIssuer",
        P + "dns-names": "${POD_NAME}.${POD_NAMESPACE}.svc.cluster.local",
        P + "common-name": "${POD_NAME}",
    }
    attributes.update({P + key: value for key, value in extra.items()})
    return attributes


def pod_manifest(
    name: str,
    attributes: Mapping[str, str],
    *,
    fs_group: int | None = None,
    read_only: bool = True,
    namespace: str = NAMESPACE,
    node_name: str | None = None,
) -> dict[str, Any]:
    """A Pod with one csi.cert-manager.io inline volume `tls`, as a user would write it."""
    spec: dict[str, Any] = {
        "containers": [{"name": "app", "image": "busybox", "volumeMounts": [{"name": "tls", "mountPath": "/tls"}]}],
        "volumes": [
            {"name": "tls", "csi": {"driver": DRIVER, "readOnly": read_only, "volumeAttributes": dict(attributes)}}
        ],
    }
    if fs_group is not None:
        spec["securityContext"] = {"fsGroup": fs_group}
    if node_name is not None:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def pod_info(*, name: str, uid: str, namespace: str = NAMESPACE) -> dict[str, str]:
    """What kubelet adds to the volume context when the CSIDriver asks for podInfoOnMount."""
    return {
        "csi.storage.k8s.io/pod.name": name,
        "csi.storage.k8s.io/pod.namespace": namespace,
        "csi.storage.k8s.io/pod.uid": uid,
        "csi.storage.k8s.io/serviceAccount.name": "default",
        "csi.storage.k8s.io/ephemeral": "true",
    }


def publish_request(
    *, volume: str, target: Path, context: Mapping[str, str], readonly: bool = True, mount_group: str = ""
) -> csi_pb2.NodePublishVolumeRequest:
    """A NodePublishVolume as kubelet sends it for an inline volume (mount, single-node writer)."""
    mode = csi_pb2.VolumeCapability.AccessMode
    capability = csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(volume_mount_group=mount_group),
        access_mode=mode(mode=mode.SINGLE_NODE_WRITER),
    )
    return csi_pb2.NodePublishVolumeRequest(
        volume_id=volume,
        target_path=str(target),
        volume_capability=capability,
        readonly=readonly,
        volume_context=dict(context),
    )


def csi_channel(endpoint: str) -> grpc.aio.Channel:
    """A channel to the driver's socket, with the `:authority` kubelet sends."""
    return grpc.aio.insecure_channel(endpoint, options=[("grpc.default_authority", "localhost")])


async def publish_outcome(
    node: csi_pb2_grpc.NodeAsyncStub, request: csi_pb2.NodePublishVolumeRequest
) -> tuple[grpc.StatusCode, str]:
    """The status code and details of one NodePublishVolume (OK and "" on success)."""
    try:
        await node.NodePublishVolume(request, timeout=30)
    except grpc.aio.AioRpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


@dataclass(frozen=True)
class DirectVolume:
    """A volume a test publishes itself over gRPC, for a pod the API knows but no kubelet runs."""

    pod_name: str
    pod_uid: str
    volume_id: str
    target: Path

    def request(
        self, attributes: Mapping[str, str], *, readonly: bool = True, mount_group: str = ""
    ) -> csi_pb2.NodePublishVolumeRequest:
        # As kubelet merges them: pod info wins over a volume attribute of the same name.
        context = dict(attributes) | pod_info(name=self.pod_name, uid=self.pod_uid)
        return publish_request(
            volume=self.volume_id, target=self.target, context=context, readonly=readonly, mount_group=mount_group
        )

    def unpublish_request(self) -> csi_pb2.NodeUnpublishVolumeRequest:
        return csi_pb2.NodeUnpublishVolumeRequest(volume_id=self.volume_id, target_path=str(self.target))


# --- the environment ---------------------------------------------------------------------------------


async def _api_transport(kubeconfig: Path) -> Transport:
    return open_transport(kubeconfig=str(kubeconfig), qps=0, burst=1)


@dataclass
class E2E:
    """One running environment; paths, the API as a client sees it, and pod lookups."""

    workdir: Path
    cluster: Sandbox
    kubeconfig: Path
    driver: DriverRunner
    kubelet: Kubelet
    api: Transport

    @property
    def data_root(self) -> Path:
        return self.workdir / "csi-data-dir"

    @property
    def inmemfs(self) -> Path:
        return self.data_root / INMEMFS

    def target(self, pod: str, namespace: str = NAMESPACE) -> Path:
        return self.kubelet.pod_volume_path(namespace, pod, "tls")

    def volume_dirs(self) -> list[str]:
        return sorted(os.listdir(self.inmemfs))

    async def list_items(self, path: str) -> list[dict[str, Any]]:
        items = (await self.api.request("GET", path)).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    async def certificate_requests(self, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
        return await self.list_items(f"/apis/cert-manager.io/v1/namespaces/{namespace}/certificaterequests")

    async def events(self, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
        return await self.list_items(f"/api/v1/namespaces/{namespace}/events")

    async def owner_pod(self, name: str) -> dict[str, Any]:
        """A pod in the API bound to another node: it owns requests, but our kubelet leaves it alone."""
        [pod] = await self.kubelet.apply(pod_manifest(name, {P + "issuer-name": CA_ISSUER}, node_name="elsewhere"))
        return pod

    def direct_volume(self, pod: Mapping[str, Any], volume_name: str) -> DirectVolume:
        """Kubelet's volume id for (pod, volume name), and a target whose parent exists, as kubelet leaves it."""
        meta = pod["metadata"]
        target = self.workdir / "direct" / meta["uid"] / volume_name / "mount"
        target.parent.mkdir(parents=True)
        return DirectVolume(meta["name"], meta["uid"], volume_id(meta["uid"], volume_name), target)

    async def requests_of_volume(self, volume: str) -> int:
        labels = [r["metadata"].get("labels") or {} for r in await self.certificate_requests()]
        return sum(label.get(VOLUME_ID_HASH_LABEL) == fnv_hash_label(volume) for label in labels)

    async def wait_all_ready(self, names: list[str], *, timeout: float) -> None:
        await asyncio.gather(*(self.kubelet.wait_ready(NAMESPACE, name, timeout=timeout) for name in names))


@contextlib.contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A fresh directory in /tmp (not pytest's tmp_path: socket paths must stay under 108 bytes); on the
    way out everything mounted beneath it is unmounted and it is removed, and anything left mounted fails."""
    require_private_mount_namespace()
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield workdir
    finally:
        unmount_everything_under(workdir)
        left = mounts_under(workdir)
        if not left:
            shutil.rmtree(workdir, ignore_errors=True)
    assert not left, f"still mounted after the test: {[m.mount_point for m in left]}"


@contextlib.asynccontextmanager
async def e2e_environment(*, signing_delay: float = 0.0, driver_args: Sequence[str] = ()) -> AsyncIterator[E2E]:
    with scratch_directory("e2e-") as workdir:
        async with contextlib.AsyncExitStack() as stack:
            cluster = await stack.enter_async_context(Sandbox(signing_delay=signing_delay))
            kubeconfig = workdir / "kubeconfig"
            cluster.write_kubeconfig(kubeconfig)
            driver = DriverRunner(workdir=workdir, kubeconfig=kubeconfig, extra_args=driver_args)
            stack.push_async_callback(driver.stop)
            await driver.start()
            kubelet = Kubelet(
                node_name=NODE,
                root_dir=workdir / "kubelet",
                drivers={DRIVER: driver.endpoint},
                kubeconfig=kubeconfig,
                publish_backoff=FAST_BACKOFF,
            )
            await stack.enter_async_context(kubelet)
            api = await _api_transport(kubeconfig)
            stack.push_async_callback(api.close)
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
            await kubelet.apply([namespace])
            await kubelet.apply(CSIDRIVER_YAML)
            yield E2E(workdir=workdir, cluster=cluster, kubeconfig=kubeconfig, driver=driver, kubelet=kubelet, api=api)
