"""`Kubelet`: the sandbox's node agent, a client of the API server and of CSI drivers only.

It watches the Pods bound to its node (one watch, fieldSelector spec.nodeName), and for each pod
runs a `PodWorker` (see pods.py) keyed by UID. A pod that disappears (DELETED, or missing after a
relist) or gets a deletionTimestamp is torn down. After the first list, pod directories left on
disk by pods that no longer exist are torn down from their vol_data.json, as kubelet's volume
reconstruction does after a restart. Stopping the kubelet stops its containers and unmounts nothing.

With `register_node` it registers its Node and keeps it Ready (registering.py). With `host` (the
node's filesystem, see hostpaths.py) it also sets up hostPath, projected, secret, configMap and
emptyDir volumes and runs the containers it can (certcsi's as processes, the registrar sidecar
itself; see starting.py), so the DaemonSet of an install manifest runs on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from certcsi.kube import Backoff, watch
from certcsi.kube._http import HttpTransport
from certcsi.kube._transport import Obj
from certcsi.kube.config import open_transport
from certcsi.sandbox.kubelet import paths
from certcsi.sandbox.kubelet.addressing import PodAddresses
from certcsi.sandbox.kubelet.api import KubeletApi
from certcsi.sandbox.kubelet.applying import Manifest, RestMapper, create_all, documents
from certcsi.sandbox.kubelet.calling import DEFAULT_TIMEOUT, DriverRegistry
from certcsi.sandbox.kubelet.hostpaths import HostFilesystem
from certcsi.sandbox.kubelet.localvolumes import LocalVolumes
from certcsi.sandbox.kubelet.mounting import Mounter, VolumeHandle
from certcsi.sandbox.kubelet.planning import as_dict
from certcsi.sandbox.kubelet.pods import NodeContext, PodWorker, remove_pod_dir, unpublish_all
from certcsi.sandbox.kubelet.podstatus import MOUNT_TIMEOUT
from certcsi.sandbox.kubelet.registering import Machine, NodeRegistration, NodeSpec, server_version
from certcsi.sandbox.kubelet.running import launch_problem
from certcsi.sandbox.kubelet.starting import ContainerFactory
from certcsi.volumes.clock import Clock, SystemClock

log = logging.getLogger(__name__)

# kubelet's exponential backoff for a failed volume operation: 500 ms doubling to 2m2s.
PUBLISH_BACKOFF = Backoff(base=0.5, factor=2.0, cap=122.0, jitter=0.0)
_Key = tuple[str, str]


class PodNotReady(TimeoutError):
    """wait_ready() gave up; the message carries the pod's last FailedMount event, if any."""


class _Signal:
    """Wakes every waiter whenever some pod's state changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    return as_dict(obj.get("metadata"))


class Kubelet:
    """A kubelet for one node of the sandbox, doing exactly what kubelet does for CSI inline volumes."""

    def __init__(
        self,
        *,
        node_name: str,
        root_dir: Path,
        drivers: Mapping[str, str],
        kubeconfig: Path,
        republish_period: float = 60.0,
        publish_backoff: Backoff = PUBLISH_BACKOFF,
        csi_timeout: float = DEFAULT_TIMEOUT,
        clock: Clock | None = None,
        pod_subnets: Sequence[str] = ("10.244.0.0/16",),
        host_ip: str = "10.0.0.10",
        register_node: bool = False,
        node_annotations: Mapping[str, str] | None = None,
        host: HostFilesystem | None = None,
        containers_dir: Path | None = None,
        mount_timeout: float = MOUNT_TIMEOUT,
    ) -> None:
        if republish_period <= 0:
            raise ValueError("republish_period: must be positive")
        self.node_name = node_name
        self.root_dir = Path(root_dir)
        self._kubeconfig = kubeconfig
        self._drivers = DriverRegistry(drivers, timeout=csi_timeout)
        self._republish_period = republish_period
        self._backoff = publish_backoff
        self._clock: Clock = clock or SystemClock()
        self._addresses = PodAddresses(pod_subnets)
        self._host_ip = host_ip
        self._register_node = register_node
        self._node_annotations = dict(node_annotations or {})
        self._host = host
        self._containers_dir = containers_dir or self.root_dir.parent / "containers"
        self._mount_timeout = mount_timeout
        self.registration: NodeRegistration | None = None
        self._workers: dict[str, PodWorker] = {}  # by pod UID
        self._names: dict[_Key, str] = {}  # (namespace, name) -> UID of the newest pod seen
        self._finished: set[str] = set()  # UIDs torn down
        self._signal = _Signal()
        self._synced = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._watch_task: asyncio.Task[None] | None = None
        self._transport: HttpTransport | None = None
        self._node: NodeContext | None = None
        self._mapper: RestMapper | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, start the pod watch, and return once the pods already bound here are being handled."""
        self._transport = open_transport(
            kubeconfig=str(self._kubeconfig), qps=0, burst=1, user_agent="certcsi-sandbox-kubelet"
        )
        kube_api = KubeletApi(self._transport, node_name=self.node_name, now=self._clock.now)
        self._mapper = RestMapper(self._transport)
        local, factory = self._runtime(kube_api)
        self._node = NodeContext(
            root=self.root_dir,
            api=kube_api,
            mounter=Mounter(api=kube_api, drivers=self._drivers, node_name=self.node_name),
            clock=self._clock,
            backoff=self._backoff,
            republish_period=self._republish_period,
            addresses=self._addresses,
            host_ip=self._host_ip,
            changed=self._signal.fire,
            mount_timeout=self._mount_timeout,
            local=local,
            containers=factory,
        )
        for directory in ("pods", "plugins", "plugins_registry"):
            (self.root_dir / directory).mkdir(parents=True, exist_ok=True)
        if self._register_node:
            await self._register(kube_api)
        self._watch_task = asyncio.create_task(self._watch_pods(), name=f"kubelet {self.node_name} pod watch")
        synced = asyncio.create_task(self._synced.wait())
        await asyncio.wait([synced, self._watch_task], return_when=asyncio.FIRST_COMPLETED)
        synced.cancel()
        if self._watch_task.done():
            self._watch_task.result()  # the watch never ends on its own: surface why it did
        log.info("kubelet started node=%s root=%s", self.node_name, self.root_dir)

    def _runtime(self, api: KubeletApi) -> tuple[LocalVolumes | None, ContainerFactory | None]:
        """Local volumes and containers, when the node has a filesystem of its own (see `host`)."""
        if self._host is None:
            return None, None
        assert self._transport is not None
        server = urlsplit(self._transport.host)
        problem = launch_problem(self._containers_dir)
        if problem is not None:
            log.warning("containers of certcsi's image will not start: %s", problem)
        factory = ContainerFactory(
            api=api,
            host=self._host,
            containers_dir=self._containers_dir,
            api_host=server.hostname or "127.0.0.1",
            api_port=server.port or 443,
            launch_problem=problem,
            register=self._drivers.register,
        )
        if problem is not None:
            return None, factory  # secrets go only to tmpfs, which needs what processes need
        local = LocalVolumes(api=api, kubelet_root=self.root_dir, host=self._host, now=self._clock.now, tmpfs=True)
        return local, factory

    async def _register(self, api: KubeletApi) -> None:
        assert self._transport is not None
        spec = NodeSpec(
            name=self.node_name,
            host_ip=self._host_ip,
            machine=Machine.probe(self.root_dir),
            kubelet_version=await server_version(self._transport),
            annotations=self._node_annotations,
        )
        self.registration = NodeRegistration(self._transport, spec, now=self._clock.now)
        await self.registration.register()
        self._spawn(self.registration.heartbeat_forever(sleep=self._clock.sleep))

    async def stop(self) -> None:
        """Stop watching and working, and the containers; every mount stays, as when a real kubelet stops."""
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
            self._watch_task = None
        workers = list(self._workers.values())
        # Every pod stops working before any container stops: a driver's container stopping first would fail
        # the mounts and republishes of the pods that use it.
        for worker in workers:
            await worker.halt()
        await asyncio.gather(*(worker.abandon() for worker in workers))
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._drivers.close()
        if self._transport is not None:
            await self._transport.close()
            self._transport = None

    async def __aenter__(self) -> Kubelet:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _context(self) -> NodeContext:
        if self._node is None:
            raise RuntimeError("Kubelet: start() first")
        return self._node

    # -- the pod watch -----------------------------------------------------------------------------

    async def _watch_pods(self) -> None:
        assert self._transport is not None
        async for event in watch(self._transport, "/api/v1/pods", field_selector=f"spec.nodeName={self.node_name}"):
            if event.type == "SYNCED":
                if not self._synced.is_set():
                    self._clean_orphans()
                    self._synced.set()
                continue
            meta = _meta(event.object)
            uid = str(meta.get("uid") or "")
            if not uid:
                continue
            if event.type == "DELETED":
                self._tear_down(uid, finalize=False)
            elif meta.get("deletionTimestamp"):
                self._tear_down(uid, finalize=True)
            else:
                self._observe(uid, event.object)

    def _observe(self, uid: str, pod: Obj) -> None:
        worker = self._workers.get(uid)
        if worker is not None:
            if not worker.tearing_down:
                worker.pod = pod
            return
        if uid in self._finished:
            return
        meta = _meta(pod)
        self._names[(str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = uid
        status = as_dict(pod.get("status"))
        self._addresses.reserve(e["ip"] for e in status.get("podIPs") or [] if isinstance(e, dict) and "ip" in e)
        worker = self._workers[uid] = PodWorker(pod, self._context())
        worker.start()
        self._signal.fire()

    def _tear_down(self, uid: str, *, finalize: bool) -> None:
        worker = self._workers.get(uid)
        if worker is None or worker.tearing_down:
            return
        task = worker.tear_down(finalize=finalize)

        def forget(_: asyncio.Task[None]) -> None:
            if self._workers.get(uid) is worker and worker.gone.is_set():
                del self._workers[uid]
                self._finished.add(uid)
                self._signal.fire()

        task.add_done_callback(forget)

    def _clean_orphans(self) -> None:
        """Tear down pod directories whose pod no longer exists (kubelet restarted meanwhile)."""
        pods_root = self.root_dir / "pods"
        if not pods_root.is_dir():
            return
        for entry in pods_root.iterdir():
            if entry.is_dir() and entry.name not in self._workers:
                self._spawn(self._tear_down_orphan(entry.name))

    async def _tear_down_orphan(self, uid: str) -> None:
        node = self._context()
        handles = []
        plugin_dir = paths.pod_dir(self.root_dir, uid) / "volumes" / paths.PLUGIN_DIR
        for volume_path in sorted(plugin_dir.iterdir()) if plugin_dir.is_dir() else []:
            data = paths.read_vol_data(volume_path)
            if data is None or not data.get("volumeHandle") or not data.get("driverName"):
                log.warning("orphaned volume without vol_data.json left alone path=%s", volume_path)
                continue
            handles.append(
                VolumeHandle(volume_path.name, data["driverName"], data["volumeHandle"], volume_path / paths.MOUNT)
            )
        log.info("tearing down orphaned pod directory uid=%s volumes=%d", uid, len(handles))
        await unpublish_all(node, handles, who=f"orphan {uid}")
        await remove_pod_dir(node, uid, who=f"orphan {uid}")

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- what tests and the demo call ---------------------------------------------------------------

    async def apply(self, manifest: Manifest) -> list[Obj]:
        """Create every object of `manifest` through the API; Pods without spec.nodeName land on this node."""
        if self._transport is None or self._mapper is None:
            raise RuntimeError("Kubelet: start() first")

        def prepare(obj: Obj) -> None:
            if obj["kind"] == "Pod" and obj["apiVersion"] == "v1":
                spec = obj.setdefault("spec", {})
                if isinstance(spec, dict) and not spec.get("nodeName"):
                    spec["nodeName"] = self.node_name

        created = await create_all(self._transport, self._mapper, documents(manifest), prepare=prepare)
        for obj in created:
            meta = _meta(obj)
            if obj.get("kind") == "Pod" and as_dict(obj.get("spec")).get("nodeName") == self.node_name:
                self._names[(str(meta.get("namespace")), str(meta.get("name")))] = str(meta.get("uid"))
        return created

    def pod_uid(self, namespace: str, name: str) -> str:
        uid = self._names.get((namespace, name))
        if uid is None:
            raise LookupError(f"pod {namespace}/{name}: not known to the kubelet of node {self.node_name}")
        return uid

    def pod_volume_path(self, namespace: str, name: str, volume: str) -> Path:
        """The target path of the pod's volume: where the pod's container would see its files."""
        return paths.target_path(self.root_dir, self.pod_uid(namespace, name), volume)

    async def wait_ready(self, namespace: str, name: str, timeout: float = 60.0) -> None:
        """Wait until every inline volume of the pod is published and the pod reported Running."""
        try:
            async with asyncio.timeout(timeout):
                while not self._is_ready(namespace, name):
                    await self._signal.wait()
        except TimeoutError:
            worker = self._worker(namespace, name)
            last = worker.last_failure if worker is not None else None
            detail = f"; last FailedMount: {last}" if last else ""
            raise PodNotReady(f"pod {namespace}/{name} not ready after {timeout:g}s{detail}") from None

    async def delete_pod(self, namespace: str, name: str, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Delete the pod through the API; with `wait`, return once its volumes are unpublished and gone."""
        uid = self._names.get((namespace, name))
        await self._context().api.delete_pod(namespace, name)
        if not wait or uid is None:
            return
        async with asyncio.timeout(timeout):
            while uid not in self._finished:
                await self._signal.wait()

    def _worker(self, namespace: str, name: str) -> PodWorker | None:
        uid = self._names.get((namespace, name))
        return self._workers.get(uid) if uid is not None else None

    def _is_ready(self, namespace: str, name: str) -> bool:
        worker = self._worker(namespace, name)
        return worker is not None and worker.ready and not worker.tearing_down

    def last_failure(self, namespace: str, name: str) -> str | None:
        """The pod's most recent FailedMount event message, if any."""
        worker = self._worker(namespace, name)
        return worker.last_failure if worker is not None else None
