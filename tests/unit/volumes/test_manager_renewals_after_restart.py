"""Renewals across restarts and outages: due renewals wait for the watch instead of failing, old
failures do not stretch the backoff, and a certificate close to expiry is retried before it expires.

The real `Issuance` runs here, over an in-memory API whose pretend cert-manager signs (or denies)
every request as it is created, on the test's clock.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from publish_requests import Req, volume_context
from signing_kube import START, UNREACHABLE, SigningKube

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.issuance import Issuance
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.schedule import RateBudget
from certcsi.volumes.status import VolumeStatus, read_status, write_status
from certcsi.volumes.store import Store

CSI_OWNER = Owner("csi.cert-manager.io")


@dataclass
class Node:
    """One driver process: its issuance and manager, over a data root that outlives it."""

    root: Path
    clock: FakeClock
    kube: SigningKube
    mounter: FakeMounter
    running: list[tuple[Issuance, Manager]] = field(default_factory=list)

    async def start(self) -> Manager:
        issuance = Issuance(kube=self.kube, node_id="node-1", clock=self.clock)
        manager = Manager(
            driver=CertManagerDriver(),
            store=Store(data_root=self.root / "data", mounter=self.mounter, owner=CSI_OWNER),
            mounter=self.mounter,
            issuance=issuance,
            clock=self.clock,
            rate=RateBudget(qps=1000, burst=1000, clock=self.clock),
            rng=random.Random(7),
        )
        # As the node plugin starts them: the watch does not hold up serving CSI.
        await issuance.start(wait_synced=False)
        await manager.start()
        self.running.append((issuance, manager))
        return manager

    async def kill(self) -> None:
        issuance, manager = self.running.pop()
        await manager.stop()
        await issuance.stop()

    def target(self) -> str:
        path = self.root / "pods" / "app-0" / "mount"
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def status(self) -> VolumeStatus:
        found = read_status(self.root / "data" / "inmemfs" / "vol-1")
        assert found is not None
        return found

    @property
    def creates(self) -> int:
        return len(self.kube.created)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    clock = FakeClock(START)
    node = Node(tmp_path, clock, SigningKube(clock), FakeMounter())
    yield node
    while node.running:
        await node.kill()


async def settle() -> None:
    for _ in range(40):
        await asyncio.sleep(0)


async def published(node: Node, duration: str = "1h") -> Manager:
    manager = await node.start()
    await settle()
    await manager.publish(Req("vol-1", node.target(), volume_context(duration=duration)))
    return manager


async def test_a_renewal_due_at_restart_waits_for_the_watch_and_is_no_failure(node: Node) -> None:
    await published(node)
    await node.kill()
    node.clock.advance(3600)  # the driver was down past the renewal time
    node.kube.listed = asyncio.Event()  # the new watch has not listed yet
    manager = await node.start()
    await settle()
    assert manager.ready() is None  # CSI is served meanwhile
    assert node.creates == 1
    assert node.status().failures == 0 and node.status().last_error is None
    node.kube.listed.set()
    await settle()
    assert node.creates == 2  # at once, without any backoff
    assert node.status().failures == 0 and node.status().request_name == node.kube.created[1][0]["metadata"]["name"]


async def test_failures_from_before_a_restart_do_not_stretch_the_backoff(node: Node) -> None:
    await published(node)
    await node.kill()
    write_status(node.root / "data" / "inmemfs" / "vol-1", VolumeStatus(failures=12, last_error="earlier"))
    node.clock.advance(3600)
    node.kube.deny = True
    await node.start()
    await settle()
    assert node.creates == 2 and node.status().failures == 13
    node.clock.advance(30)  # the first retry after a restart is the first step of the backoff
    await settle()
    assert node.creates == 3


async def test_a_certificate_close_to_expiry_is_retried_before_it_expires(node: Node) -> None:
    await published(node, duration="3m")  # renewal due at 2 minutes, 1 minute before expiry
    node.kube.deny = True
    attempts: list[float] = []
    for second in range(1, 181):
        node.clock.advance(1)
        await settle()
        if node.creates > 1 + len(attempts):
            attempts.append(second)
    assert attempts[0] >= 114
    assert len(attempts) >= 4, attempts
    assert attempts[-1] >= 170, attempts  # still trying in the last seconds before NotAfter


async def test_an_unreachable_api_is_waited_out_not_counted_and_caught_up_at_once(node: Node) -> None:
    await published(node)
    node.kube.fail_create = UNREACHABLE
    node.clock.advance(3600)
    await settle()
    assert node.creates == 2  # the renewal tried, and found the API unreachable
    assert node.status().failures == 0
    node.clock.advance(20)
    await settle()
    assert node.creates == 2  # nothing tries while the API is down
    node.kube.fail_create = None
    node.kube.resync()  # the watch reopens: the API answers again
    await settle()
    assert node.creates == 3
    assert node.status().request_name == node.kube.created[2][0]["metadata"]["name"]
    assert node.status().failures == 0
