"""One inline volume's SetUp and TearDown, step for step as kubelet's CSI plugin runs them.

SetUp: driver registered? → CSIDriver (lifecycle mode) → parent dir 0750 → nodePublishSecretRef →
pod info → tokens → NodeGetCapabilities → vol_data.json → NodePublishVolume.
TearDown: NodeUnpublishVolume → remove the empty target, vol_data.json and the volume directory.

A failure is a `MountFailure` whose text is what kubelet prints after `MountVolume.SetUp failed for
volume "<name>" : `. The volume's state follows kubelet's actual-state bookkeeping: a publish whose
outcome is uncertain (timeout, cancel, unavailable...) counts as maybe-mounted and is unpublished at
teardown; a final error on the first publish removes the mount directory; on a republish nothing
is removed and the volume stays mounted (unlike kubelet, see kubernetes#121271).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from pathlib import Path

from certcsi.csi._gen import csi_pb2
from certcsi.errors import KubernetesError
from certcsi.sandbox.kubelet import paths
from certcsi.sandbox.kubelet.api import KubeletApi
from certcsi.sandbox.kubelet.calling import CsiCallError, DriverClient, DriverRegistry
from certcsi.sandbox.kubelet.planning import (
    PLUGIN_PREFIX,
    DriverSpec,
    InlineVolume,
    PodRef,
    lifecycle_problem,
    publish_request,
)

log = logging.getLogger(__name__)


class MountState(enum.Enum):
    UNMOUNTED = "unmounted"
    UNCERTAIN = "uncertain"  # a publish was sent and may have succeeded
    MOUNTED = "mounted"


class MountFailure(Exception):
    """A SetUp attempt failed; the text is kubelet's, `final` says nothing is left mounted by it."""

    def __init__(self, detail: str, *, final: bool) -> None:
        super().__init__(detail)
        self.final = final


class TeardownFailure(Exception):
    """NodeUnpublishVolume failed, or the driver left something at the target; kubelet retries."""


@dataclass(frozen=True)
class VolumeHandle:
    """What teardown needs, which is also what vol_data.json preserves across kubelet restarts."""

    name: str
    driver: str
    volume_id: str
    target: Path


@dataclass
class PodVolume:
    """One inline volume of one pod, and what kubelet believes about it."""

    spec: InlineVolume
    handle: VolumeHandle
    state: MountState = MountState.UNMOUNTED


class Mounter:
    """Runs SetUp / TearDown against the registered drivers and the API."""

    def __init__(self, *, api: KubeletApi, drivers: DriverRegistry, node_name: str) -> None:
        self._api = api
        self._drivers = drivers
        self._node = node_name

    def _client(self, driver_name: str, step: str) -> DriverClient:
        client = self._drivers.get(driver_name)
        if client is None:
            raise MountFailure(
                f"{PLUGIN_PREFIX}{step} failed to get CSI client: driver name {driver_name} not found in the list "
                "of registered CSI drivers",
                final=False,
            )
        return client

    async def driver_spec(self, driver_name: str) -> DriverSpec:
        try:
            return DriverSpec.parse(driver_name, await self._api.csidriver(driver_name))
        except KubernetesError as err:
            raise MountFailure(
                f"{PLUGIN_PREFIX}mounter.SetupAt failed to check volume lifecycle mode: {err}", final=False
            ) from None

    async def set_up(
        self, volume: PodVolume, pod: PodRef, *, republish: bool, driver: DriverSpec | None = None
    ) -> None:
        client = self._client(volume.spec.driver, "mounter.SetUpAt")
        if driver is None:
            driver = await self.driver_spec(volume.spec.driver)
        if (problem := lifecycle_problem(driver)) is not None:
            raise MountFailure(problem, final=False)
        request = await self._prepare(volume, pod, driver, client)
        if volume.state is not MountState.MOUNTED:
            volume.state = MountState.UNCERTAIN
        try:
            await client.publish(request)
        except CsiCallError as err:
            if err.final and volume.state is MountState.UNCERTAIN:
                volume.state = MountState.UNMOUNTED
                self._remove_after_failure(volume.handle)
            raise MountFailure(str(err), final=err.final) from None
        volume.state = MountState.MOUNTED
        log.info(
            "volume published pod=%s/%s volume=%s volume_id=%s republish=%s",
            pod.namespace,
            pod.name,
            volume.spec.name,
            volume.handle.volume_id,
            republish,
        )

    async def _prepare(
        self, volume: PodVolume, pod: PodRef, driver: DriverSpec, client: DriverClient
    ) -> csi_pb2.NodePublishVolumeRequest:
        spec, handle = volume.spec, volume.handle
        try:
            handle.target.parent.mkdir(mode=paths.DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise MountFailure(
                f"{PLUGIN_PREFIX}mounter.SetUpAt failed to create dir {str(handle.target.parent)!r}: {exc}",
                final=False,
            ) from None
        secret_data: dict[str, str] = {}
        if spec.secret_ref is not None:
            try:
                secret_data = await self._api.secret_data(pod.namespace, spec.secret_ref)
            except KubernetesError as err:
                raise MountFailure(
                    f"fetching NodePublishSecretRef {pod.namespace}/{spec.secret_ref} failed: {err}", final=False
                ) from None
        try:
            tokens_json = await self._api.tokens_json(pod, driver.token_requests)
        except KubernetesError as err:
            raise MountFailure(
                f"{PLUGIN_PREFIX}mounter.SetUpAt failed to get service account token attributes: {err}", final=False
            ) from None
        try:
            capabilities = await client.capabilities()
        except CsiCallError as err:
            raise MountFailure(
                f"{PLUGIN_PREFIX}mounter.SetUpAt failed to determine if the node service has VOLUME_MOUNT_GROUP "
                f"capability: {err}",
                final=False,
            ) from None
        data = paths.vol_data(
            volume_name=spec.name, volume_handle=handle.volume_id, driver_name=spec.driver, node_name=self._node
        )
        try:
            paths.prepare_volume_dir(handle.target, data)
        except OSError as exc:
            raise MountFailure(
                f"{PLUGIN_PREFIX}mounter.SetUpAt failed to save volume info data: {exc}", final=False
            ) from None
        return publish_request(
            volume_id=handle.volume_id,
            target_path=str(handle.target),
            volume=spec,
            pod=pod,
            driver=driver,
            capabilities=capabilities,
            tokens_json=tokens_json,
            secret_data=secret_data,
        )

    @staticmethod
    def _remove_after_failure(handle: VolumeHandle) -> None:
        try:
            paths.remove_mount_dir(handle.target)
        except paths.StillMounted as exc:
            log.error("cannot remove mount dir after a failed publish volume_id=%s: %s", handle.volume_id, exc)

    async def tear_down(self, handle: VolumeHandle) -> None:
        client = self._drivers.get(handle.driver)
        if client is None:
            raise TeardownFailure(f"driver name {handle.driver} not found in the list of registered CSI drivers")
        try:
            await client.unpublish(volume_id=handle.volume_id, target_path=str(handle.target))
        except CsiCallError as err:
            raise TeardownFailure(f"Unmounter.TearDownAt failed: {err}") from None
        try:
            paths.remove_mount_dir(handle.target)
        except paths.StillMounted as exc:
            raise TeardownFailure(f"Unmounter.TearDownAt failed to clean mount dir: {exc}") from None
        log.info("volume unpublished volume=%s volume_id=%s", handle.name, handle.volume_id)
