"""The engine tells the driver when a volume is gone (unpublished, or its first publish failed)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from publish_requests import Req, volume_context

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.errors import IssuanceTimeout
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.driver import Issued, RequestPlan, Volume
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.schedule import RateBudget
from certcsi.volumes.store import Store

CSI_OWNER = Owner("csi.cert-manager.io")


class ForgetfulDriver(CertManagerDriver):
    def __init__(self) -> None:
        super().__init__()
        self.forgotten: list[str] = []

    def forget(self, volume_id: str) -> None:
        self.forgotten.append(volume_id)
        super().forget(volume_id)


class HangingIssuance:
    async def create(self, volume: Volume, plan: RequestPlan) -> str:
        return "req-1"

    def pending(self, volume: Volume) -> str | None:
        return None

    async def wait_ready(self) -> None:
        return None

    async def wait(self, namespace: str, name: str, *, timeout: float | None = None) -> Issued:
        raise IssuanceTimeout(f'waiting for request "{name}" timed out')


async def test_a_failed_first_publish_and_an_unpublish_make_the_driver_forget(tmp_path: Path) -> None:
    clock = FakeClock()
    mounter = FakeMounter()
    driver = ForgetfulDriver()
    manager = Manager(
        driver=driver,
        store=Store(data_root=tmp_path / "data", mounter=mounter, owner=CSI_OWNER),
        mounter=mounter,
        issuance=HangingIssuance(),
        clock=clock,
        rate=RateBudget(qps=1000, burst=1000, clock=clock),
        rng=random.Random(1),
    )
    await manager.start()
    target = tmp_path / "pods" / "p" / "mount"
    target.parent.mkdir(parents=True)
    with pytest.raises(IssuanceTimeout):
        await manager.publish(Req("vol-1", str(target), volume_context()))
    assert driver.forgotten == ["vol-1"]
    await manager.unpublish(volume_id="vol-2", target_path=str(target))
    assert driver.forgotten == ["vol-1", "vol-2"]
    await manager.stop()
