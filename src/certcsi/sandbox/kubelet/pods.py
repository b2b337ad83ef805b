"""One pod's life on the node: mount its volumes, start its containers, report it, republish, tear down.

    run():       status Pending (containers ContainerCreating) → every volume SetUp (in parallel, each
                 retried with kubelet's backoff, each failure a FailedMount event, and every 2m3s
                 while some stay unmounted the pod-level FailedMount) → sandbox ready, pod IP →
                 containers started (Pulled, Created, Started) → status Running → republish forever
    tear_down(): stop run(), let an in-flight SetUp finish (kubelet never cancels one), stop the
                 containers (Killing; SIGTERM, SIGKILL after the grace period), report them
                 terminated, unpublish every volume that is or may be mounted (retried until OK),
                 delete the pod directory, and finish a graceful deletion (grace-0 DELETE)

A SetUp runs as its own task so that deleting the pod waits for it instead of cutting it off: the
driver must never see an unpublish racing the publish of the same volume from kubelet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from certcsi.errors import KubernetesError
from certcsi.kube import Backoff
from certcsi.sandbox.kubelet import paths, podstatus
from certcsi.sandbox.kubelet.addressing import PodAddresses
from certcsi.sandbox.kubelet.api import KubeletApi
from certcsi.sandbox.kubelet.localvolumes import LocalVolumes, Prepared, volume_kind
from certcsi.sandbox.kubelet.mounting import (
    Mounter,
    MountFailure,
    MountState,
    PodVolume,
    TeardownFailure,
    VolumeHandle,
)
from certcsi.sandbox.kubelet.planning import DriverSpec, PodRef, as_dict, inline_volumes
from certcsi.sandbox.kubelet.running import Container, ContainerContext, ContainerState, Placeholder
from certcsi.sandbox.kubelet.starting import ContainerFactory
from certcsi.timestamps import rfc3339
from certcsi.volumes.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_GRACE = 30


def failed_mount_message(volume_name: str, detail: str) -> str:
    """The FailedMount event text, worded as kubelet's operation generator words it."""
    return f'MountVolume.SetUp failed for volume "{volume_name}" : {detail}'


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
    mount_timeout: float = podstatus.MOUNT_TIMEOUT
    local: LocalVolumes | None = None  # non-CSI volumes are set up only when containers can use them
    containers: ContainerFactory | None = None


def _outcome_dropped(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


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
        if node.local is not None:
            node.local.tear_down(pod_uid)
        paths.remove_pod_dir(paths.pod_dir(node.root, pod_uid))

    async def failed(err: Exception) -> None:
        log.error("cannot remove pod directory, will retry pod=%s error=%s", who, err)

    await retry(attempt, node=node, failed=failed, errors=(paths.StillMounted, OSError))


def _grace_seconds(pod: Obj) -> float:
    """The grace period of a deletion: the one the DELETE set, else the pod's own, else 30 s."""
    meta, spec = as_dict(pod.get("metadata")), as_dict(pod.get("spec"))
    for value in (meta.get("deletionGracePeriodSeconds"), spec.get("terminationGracePeriodSeconds")):
        if isinstance(value, int) and not isinstance(value, bool):
            return float(max(value, 0))
    return float(DEFAULT_GRACE)


class PodWorker:
    """Drives one pod (one UID) on this node."""

    def __init__(self, pod: Obj, node: NodeContext) -> None:
        self.pod = pod
        self.ref = PodRef.parse(pod)
        self._node = node
        self.volumes: dict[str, PodVolume] = {}
        for inline in inline_volumes(pod):
            target = paths.target_path(node.root, self.ref.uid, inline.name)
            handle = VolumeHandle(inline.name, inline.driver, paths.volume_id(self.ref.uid, inline.name), target)
            self.volumes[inline.name] = PodVolume(spec=inline, handle=handle)
        spec = as_dict(pod.get("spec"))
        self._local_specs = [
            as_dict(v)
            for v in spec.get("volumes") or []
            if node.local is not None and as_dict(v).get("name") not in self.volumes and volume_kind(as_dict(v))
        ]
        self._volume_names = [str(as_dict(v).get("name")) for v in spec.get("volumes") or []]
        self.prepared: dict[str, Prepared] = {}
        self.states = [
            ContainerState(name=str(as_dict(c).get("name", "")), image=str(as_dict(c).get("image", "")))
            for c in spec.get("containers") or []
        ]
        self._containers: list[Container] = []
        self.ready = False
        self.sandbox_ready = False
        self.stopped = False
        self.last_failure: str | None = None
        self.gone = asyncio.Event()
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._ips: list[str] = []
        self._events: asyncio.Queue[tuple[str, str, str] | None] = asyncio.Queue()
        self._dirty = asyncio.Event()
        self._status_lock = asyncio.Lock()
        self._run_task: asyncio.Task[None] | None = None
        self._teardown_task: asyncio.Task[None] | None = None
        self._helpers: list[asyncio.Task[None]] = []

    @property
    def who(self) -> str:
        return f"{self.ref.namespace}/{self.ref.name}"

    @property
    def tearing_down(self) -> bool:
        return self._teardown_task is not None

    def start(self) -> None:
        self._run_task = asyncio.create_task(self._run(), name=f"kubelet pod {self.who}")
        self._run_task.add_done_callback(self._log_crash)
        self._helpers = [
            asyncio.create_task(self._record_events(), name=f"kubelet events {self.who}"),
            asyncio.create_task(self._sync_status(), name=f"kubelet status {self.who}"),
        ]

    def _log_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("pod worker crashed pod=%s", self.who, exc_info=task.exception())

    # -- events and status ------------------------------------------------------------------------

    def event(self, kind: str, reason: str, message: str) -> None:
        """Queue an Event on the pod; they are written in order, by one task."""
        self._events.put_nowait((kind, reason, message))

    async def _record_events(self) -> None:
        while (item := await self._events.get()) is not None:
            await self._node.api.event(self.ref, *item)

    def changed(self) -> None:
        self._dirty.set()

    async def _sync_status(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._write_status()

    async def _write_status(self) -> None:
        async def attempt() -> None:
            async with self._status_lock:
                await self._patch_status()

        async def failed(err: Exception) -> None:
            log.warning("cannot update pod status, will retry pod=%s error=%s", self.who, err)

        await retry(attempt, node=self._node, failed=failed, errors=(KubernetesError,))

    async def _patch_status(self) -> None:
        old = as_dict(self.pod.get("status"))
        restart_policy = str(as_dict(self.pod.get("spec")).get("restartPolicy") or "Always")
        phase = podstatus.phase(self.states, stopped=self.stopped, restart_policy=restart_policy)
        status: dict[str, Any] = {
            "phase": phase,
            "hostIP": self._node.host_ip,
            "hostIPs": [{"ip": self._node.host_ip}],
            "startTime": old.get("startTime") or rfc3339(self._node.clock.now()),
            "containerStatuses": [state.to_api() for state in self.states],
        }
        if self.sandbox_ready:
            status.update(podIP=self._ips[0], podIPs=[{"ip": ip} for ip in self._ips])
        conditions = podstatus.conditions(self.pod, sandbox_ready=self.sandbox_ready, containers=self.states)
        updated = await self._node.api.patch_status(self.ref, status=status, conditions=conditions)
        if updated is not None:
            self.pod = updated
        if phase != "Pending" and not self.ready and not self.tearing_down:
            self.ready = True
            self._node.changed()

    # -- running ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        # After a kubelet restart a running pod stays Running while its volumes are set up again.
        if as_dict(self.pod.get("status")).get("phase") != "Running":
            await self._write_status()
        deadline = asyncio.create_task(self._mount_deadline(), name=f"kubelet mount deadline {self.who}")
        try:
            await asyncio.gather(
                *(self._mount(volume) for volume in self.volumes.values()),
                *(self._mount_local(volume) for volume in self._local_specs),
            )
        finally:
            deadline.cancel()
        self._assign_ips()
        self.sandbox_ready = True
        await self._start_containers()
        await self._write_status()
        await asyncio.gather(self._republish_forever(), self._refresh_forever())

    def _assign_ips(self) -> None:
        if as_dict(self.pod.get("spec")).get("hostNetwork") is True:
            self._ips = [self._node.host_ip]
            return
        known = [
            entry.get("ip") for entry in as_dict(self.pod.get("status")).get("podIPs") or [] if isinstance(entry, dict)
        ]
        self._ips = [ip for ip in known if isinstance(ip, str)] or self._node.addresses.allocate()

    def _unmounted(self) -> list[str]:
        mounted = {name for name, volume in self.volumes.items() if volume.state is MountState.MOUNTED}
        mounted |= set(self.prepared)
        counted = set(self.volumes) | {str(v.get("name")) for v in self._local_specs}
        return [name for name in self._volume_names if name in counted and name not in mounted]

    async def _mount_deadline(self) -> None:
        """kubelet gives up waiting for a pod's volumes every 2m3s, and says so in an event, until they mount."""
        while True:
            await self._node.clock.sleep(self._node.mount_timeout)
            unmounted = self._unmounted()
            if not unmounted:
                return
            self.event("Warning", "FailedMount", podstatus.mount_timeout_message(unmounted))

    async def _setup(self, volume: PodVolume, *, republish: bool, driver: DriverSpec | None = None) -> None:
        # Shielded: cancelling the pod's run must not cut off a publish the driver is working on.
        future = asyncio.ensure_future(self._node.mounter.set_up(volume, self.ref, republish=republish, driver=driver))
        # Whoever awaited it may be cancelled meanwhile (the pod deleted, kubelet stopping): its outcome is
        # then nobody's, and must not come back as asyncio's "exception was never retrieved".
        future.add_done_callback(_outcome_dropped)
        self._inflight[volume.spec.name] = future
        await asyncio.shield(future)

    async def _failed_mount(self, volume_name: str, err: Exception) -> None:
        message = failed_mount_message(volume_name, str(err))
        self.last_failure = message
        log.warning("mount failed pod=%s volume=%s error=%s", self.who, volume_name, err)
        self._node.changed()
        self.event("Warning", "FailedMount", message)

    async def _mount(self, volume: PodVolume) -> None:
        async def failed(err: Exception) -> None:
            await self._failed_mount(volume.spec.name, err)

        await retry(
            lambda: self._setup(volume, republish=False), node=self._node, failed=failed, errors=(MountFailure,)
        )

    async def _mount_local(self, volume: Mapping[str, Any]) -> None:
        name = str(volume.get("name"))
        local = self._node.local
        assert local is not None

        async def attempt() -> None:
            self.prepared[name] = await local.set_up(self.pod, volume)

        async def failed(err: Exception) -> None:
            await self._failed_mount(name, err)

        await retry(attempt, node=self._node, failed=failed, errors=(MountFailure, OSError))

    async def _start_containers(self) -> None:
        context = ContainerContext(
            now=self._node.clock.now,
            changed=self.changed,
            event=self.event,
            restart_policy=str(as_dict(self.pod.get("spec")).get("restartPolicy") or "Always"),
            who=f"{self.ref.name}_{self.ref.namespace}({self.ref.uid})",
        )
        specs = [as_dict(c) for c in as_dict(self.pod.get("spec")).get("containers") or []]
        factory = self._node.containers
        for spec, state in zip(specs, self.states, strict=True):
            if factory is None:
                container: Container | None = Placeholder(state, context)
            else:
                container = await factory.build(
                    pod=self.pod,
                    spec=spec,
                    state=state,
                    context=context,
                    volumes=self._volume_paths(),
                    pod_ip=self._ips[0],
                )
            if container is not None:
                self._containers.append(container)
                await container.start()

    def _volume_paths(self) -> dict[str, Path]:
        found = {name: prepared.path for name, prepared in self.prepared.items()}
        found.update({name: volume.handle.target for name, volume in self.volumes.items()})
        return found

    async def _republish_forever(self) -> None:
        """kubelet re-runs SetUp of every mounted volume whose CSIDriver says requiresRepublish."""
        if not self.volumes:
            return
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
                    await self._failed_mount(volume.spec.name, err)

    async def _refresh_forever(self) -> None:
        """Projected service-account tokens are rewritten once 80% of their life has passed."""
        local = self._node.local
        while local is not None:
            due = [p.refresh_at for p in self.prepared.values() if p.refresh_at is not None]
            if not due:
                return
            await self._node.clock.sleep(max((min(due) - self._node.clock.now()).total_seconds(), 0.0))
            for volume in self._local_specs:
                name = str(volume.get("name"))
                prepared = self.prepared.get(name)
                if prepared is None or prepared.refresh_at is None or prepared.refresh_at > self._node.clock.now():
                    continue
                try:
                    self.prepared[name] = await local.set_up(self.pod, volume)
                except (MountFailure, OSError) as err:
                    await self._failed_mount(name, err)
                    self.prepared[name] = Prepared(
                        prepared.path, self._node.clock.now() + timedelta(seconds=self._node.backoff.cap)
                    )

    # -- stopping ---------------------------------------------------------------------------------

    def tear_down(self, *, finalize: bool) -> asyncio.Task[None]:
        """Start (once) the teardown; `finalize` deletes the pod object afterwards (graceful deletion)."""
        if self._teardown_task is None:
            self._teardown_task = asyncio.create_task(self._tear_down(finalize), name=f"kubelet teardown {self.who}")
            self._teardown_task.add_done_callback(self._log_crash)
        return self._teardown_task

    async def _stop_containers(self, grace: float) -> None:
        for state in self.states:
            if state.running or state.state.get("waiting"):
                self.event("Normal", "Killing", f"Stopping container {state.name}")
        await asyncio.gather(*(container.stop(grace) for container in self._containers))
        for state in self.states:
            if "terminated" not in state.state:
                state.terminate(self._node.clock.now(), 0)
        self.stopped = True

    async def _tear_down(self, finalize: bool) -> None:
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
        pending = [future for future in self._inflight.values() if not future.done()]
        if pending:
            await asyncio.wait(pending)
        await self._stop_containers(_grace_seconds(self.pod))
        if finalize:
            with contextlib.suppress(KubernetesError):
                async with self._status_lock:
                    await self._patch_status()
        mounted = [v.handle for v in self.volumes.values() if v.state is not MountState.UNMOUNTED]
        await unpublish_all(self._node, mounted, who=self.who)
        await remove_pod_dir(self._node, self.ref.uid, who=self.who)
        await self._stop_helpers()
        if finalize:
            with contextlib.suppress(KubernetesError):
                await self._node.api.delete_pod(self.ref.namespace, self.ref.name, uid=self.ref.uid, final=True)
        log.info("pod torn down pod=%s uid=%s", self.who, self.ref.uid)
        self.ready = False
        self.gone.set()
        self._node.changed()

    async def _stop_helpers(self) -> None:
        """Write the queued events, then stop the event and status tasks."""
        self._events.put_nowait(None)
        events, status = self._helpers or (None, None)
        if events is not None:
            with contextlib.suppress(Exception):
                await events
        if status is not None:
            status.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await status

    async def halt(self) -> None:
        """kubelet stops, first step: no more work for this pod (mounts, republishes, status); its containers run on."""
        tasks: list[asyncio.Future[None]] = [t for t in (self._run_task, self._teardown_task) if t is not None]
        tasks.extend(self._inflight.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def abandon(self) -> None:
        """kubelet stops, second step (after every pod's `halt`): its containers stop with it, its volumes stay
        mounted (they outlive a kubelet restart)."""
        await asyncio.gather(*(container.stop(2.0) for container in self._containers), return_exceptions=True)
        for helper in self._helpers:
            helper.cancel()
        await asyncio.gather(*self._helpers, return_exceptions=True)
