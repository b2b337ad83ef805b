"""One pod's life on the node: mount its inline volumes, report it running, republish, tear down.

    run():       status Pending → every volume SetUp (in parallel, each retried with backoff, each
                 failure a FailedMount event) → status Running with a pod IP → republish forever
    tear_down(): stop run(), let an in-flight SetUp finish (kubelet never cancels one), unpublish
                 every volume that is or may be mounted (retried until OK), delete the pod directory

A SetUp runs as its own task so that deleting the pod waits for it instead of cutting it off: the
driver must never see an unpublish racing the publish of the same volume from kubelet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certcsi.errors import KubernetesError
from certcsi.kube import Backoff
from certcsi.sandbox.kubelet import paths
from certcsi.sandbox.kubelet.addressing import PodAddresses
from certcsi.sandbox.kubelet.api import KubeletApi, rfc3339
from certcsi.sandbox.kubelet.mounting import (
    Mounter,
    MountFailure,
    MountState,
    PodVolume,
    TeardownFailure,
    VolumeHandle,
)
from certcsi.sandbox.kubelet.planning import DriverSpec, PodRef, as_dict, inline_volumes
from certcsi.volumes.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def failed_mount_message(volume_name: str, detail: str) -> str:
    """The FailedMount event text, worded as kubelet's operation generator words it."""
    return f'MountVolume.SetUp failed for volume "{volume_name}" : {detail}'


def _conditions(ready: bool) -> list[dict[str, Any]]:
    waiting = {} if ready else {"reason": "ContainersNotReady", "message": "containers with unready status"}
    status = "True" if ready else "False"
    return [
        {"type": "PodReadyToStartContainers", "status": status},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": status, **waiting},
        {"type": "ContainersReady", "status": status, **waiting},
        {"type": "PodScheduled", "status": "True"},
    ]


@dataclass(frozen=True)
class NodeContext:
    """What every pod worker on one node shares."""

    root: Path
    api: KubeletApi
    mounter: Mounter
    clock: Clock
    backoff: Backoff
    republish_period: float
    addresses: PodAddresses
    host_ip: str
    changed: Callable[[], None]


async def retry(
    attempt: Callable[[], Awaitable[None]],
    *,
    node: NodeContext,
    failed: Callable[[Exception], Awaitable[None]],
    errors: tuple[type[Exception], ...],
) -> None:
    """Run `attempt` until it succeeds, awaiting `failed(err)` and a growing backoff after each failure."""
    failures = 0
    while True:
        try:
            await attempt()
            return
        except errors as err:
            await failed(err)
        await node.clock.sleep(node.backoff.delay(failures))
        failures += 1


async def unpublish_all(node: NodeContext, handles: Iterable[VolumeHandle], *, who: str) -> None:
    """TearDown every volume, each retried until the driver says OK and the target is gone."""

    async def one(handle: VolumeHandle) -> None:
        async def failed(err: Exception) -> None:
            log.warning("teardown failed, will retry pod=%s volume=%s error=%s", who, handle.name, err)

        await retry(lambda: node.mounter.tear_down(handle), node=node, failed=failed, errors=(TeardownFailure,))

    await asyncio.gather(*(one(handle) for handle in handles))


async def remove_pod_dir(node: NodeContext, pod_uid: str, *, who: str) -> None:
    async def attempt() -> None:
        paths.remove_pod_dir(paths.pod_dir(node.root, pod_uid))

    async def failed(err: Exception) -> None:
        log.error("cannot remove pod directory, will retry pod=%s error=%s", who, err)

    await retry(attempt, node=node, failed=failed, errors=(paths.StillMounted, OSError))


class PodWorker:
    """Drives one pod (one UID) on this node."""

    def __init__(self, pod: Obj, node: NodeContext) -> None:
        self.pod = pod
        self.ref = PodRef.parse(pod)
        self._node = node
        self.volumes: dict[str, PodVolume] = {}
        for spec in inline_volumes(pod):
            target = paths.target_path(node.root, self.ref.uid, spec.name)
            handle = VolumeHandle(spec.name, spec.driver, paths.volume_id(self.ref.uid, spec.name), target)
            self.volumes[spec.name] = PodVolume(spec=spec, handle=handle)
        self.ready = False
        self.last_failure: str | None = None
        self.gone = asyncio.Event()
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._ips: list[str] = []
        self._run_task: asyncio.Task[None] | None = None
        self._teardown_task: asyncio.Task[None] | None = None

    @property
    def who(self) -> str:
        return f"{self.ref.namespace}/{self.ref.name}"

    @property
    def tearing_down(self) -> bool:
        return self._teardown_task is not None

    def start(self) -> None:
        self._run_task = asyncio.create_task(self._run(), name=f"kubelet pod {self.who}")
        self._run_task.add_done_callback(self._log_crash)

    def _log_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("pod worker crashed pod=%s", self.who, exc_info=task.exception())

    async def _run(self) -> None:
        # After a kubelet restart a running pod stays Running while its volumes are set up again.
        if as_dict(self.pod.get("status")).get("phase") != "Running":
            await self._report(ready=False)
        await asyncio.gather(*(self._mount(volume) for volume in self.volumes.values()))
        await self._report(ready=True)
        self.ready = True
        self._node.changed()
        await self._republish_forever()

    async def _report(self, *, ready: bool) -> None:
        async def attempt() -> None:
            await self._patch_status(ready=ready)

        async def failed(err: Exception) -> None:
            log.warning("cannot update pod status, will retry pod=%s error=%s", self.who, err)

        await retry(attempt, node=self._node, failed=failed, errors=(KubernetesError,))

    async def _patch_status(self, *, ready: bool) -> None:
        old = as_dict(self.pod.get("status"))
        status: dict[str, Any] = {
            "phase": "Running" if ready else "Pending",
            "hostIP": self._node.host_ip,
            "hostIPs": [{"ip": self._node.host_ip}],
            "startTime": old.get("startTime") or rfc3339(self._node.clock.now()),
        }
        if ready:
            if not self._ips:
                known = [entry.get("ip") for entry in old.get("podIPs") or [] if isinstance(entry, dict)]
                self._ips = [ip for ip in known if isinstance(ip, str)] or self._node.addresses.allocate()
            status.update(podIP=self._ips[0], podIPs=[{"ip": ip} for ip in self._ips])
        updated = await self._node.api.patch_status(self.ref, status=status, conditions=_conditions(ready))
        if updated is not None:
            self.pod = updated

    async def _setup(self, volume: PodVolume, *, republish: bool, driver: DriverSpec | None = None) -> None:
        # Shielded: cancelling the pod's run must not cut off a publish the driver is working on.
        future = asyncio.ensure_future(self._node.mounter.set_up(volume, self.ref, republish=republish, driver=driver))
        self._inflight[volume.spec.name] = future
        await asyncio.shield(future)

    async def _failed_mount(self, volume: PodVolume, err: MountFailure) -> None:
        message = failed_mount_message(volume.spec.name, str(err))
        self.last_failure = message
        log.warning("mount failed pod=%s volume=%s error=%s", self.who, volume.spec.name, err)
        self._node.changed()
        await self._node.api.failed_mount(self.ref, message)

    async def _mount(self, volume: PodVolume) -> None:
        async def failed(err: Exception) -> None:
            assert isinstance(err, MountFailure)
            await self._failed_mount(volume, err)

        await retry(
            lambda: self._setup(volume, republish=False), node=self._node, failed=failed, errors=(MountFailure,)
        )

    async def _republish_forever(self) -> None:
        """kubelet re-runs SetUp of every mounted volume whose CSIDriver says requiresRepublish."""
        while True:
            await self._node.clock.sleep(self._node.republish_period)
            specs: dict[str, DriverSpec] = {}
            for volume in self.volumes.values():
                try:
                    if volume.spec.driver not in specs:
                        specs[volume.spec.driver] = await self._node.mounter.driver_spec(volume.spec.driver)
                    if specs[volume.spec.driver].requires_republish:
                        await self._setup(volume, republish=True, driver=specs[volume.spec.driver])
                except MountFailure as err:
                    await self._failed_mount(volume, err)

    def tear_down(self, *, finalize: bool) -> asyncio.Task[None]:
        """Start (once) the teardown; `finalize` deletes the pod object afterwards (graceful deletion)."""
        if self._teardown_task is None:
            self._teardown_task = asyncio.create_task(self._tear_down(finalize), name=f"kubelet teardown {self.who}")
            self._teardown_task.add_done_callback(self._log_crash)
        return self._teardown_task

    async def _tear_down(self, finalize: bool) -> None:
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
        pending = [future for future in self._inflight.values() if not future.done()]
        if pending:
            await asyncio.wait(pending)
        mounted = [v.handle for v in self.volumes.values() if v.state is not MountState.UNMOUNTED]
        await unpublish_all(self._node, mounted, who=self.who)
        await remove_pod_dir(self._node, self.ref.uid, who=self.who)
        if finalize:
            with contextlib.suppress(KubernetesError):
                await self._node.api.delete_pod(self.ref.namespace, self.ref.name, uid=self.ref.uid, final=True)
        log.info("pod torn down pod=%s uid=%s", self.who, self.ref.uid)
        self.ready = False
        self.gone.set()
        self._node.changed()

    async def abandon(self) -> None:
        """kubelet stops: cancel everything, unmount nothing (volumes outlive a kubelet restart)."""
        tasks: list[asyncio.Future[None]] = [t for t in (self._run_task, self._teardown_task) if t is not None]
        tasks.extend(self._inflight.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
