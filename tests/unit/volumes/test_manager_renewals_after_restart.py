"""Renewals across restarts and outages: due renewals wait for the watch instead of failing, old
failures do not stretch the backoff, and a certificate close to expiry is retried before it expires.

The real `Issuance` runs here, over an in-memory API whose pretend cert-manager signs (or denies)
every request as it is created, on the test's clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from publish_requests import Req, volume_context
from signing_kube import START, UNREACHABLE, Processes, SigningKube

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.volumes import manager as manager_module
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.status import VolumeStatus, read_status, write_status

CSI_OWNER = Owner("csi.cert-manager.io")


class Node(Processes):
    """One csi.cert-manager.io driver process at a time, over a data root that outlives it."""

    async def start(self) -> Manager:
        return await self.start_driver(CertManagerDriver(), use_token_request=False, seed=7)

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


async def test_a_restart_reads_status_json_only_when_something_asks_for_it(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    await published(node)
    await node.kill()
    write_status(node.root / "data" / "inmemfs" / "vol-1", VolumeStatus(failures=3, last_error="earlier"))
    reads: list[Path] = []

    def counting(volume_dir: Path) -> VolumeStatus | None:
        reads.append(volume_dir)
        return read_status(volume_dir)

    monkeypatch.setattr(manager_module, "read_status", counting)
    manager = await node.start()
    await settle()
    assert reads == []  # a restart of 10,000 volumes reads 10,000 files fewer before it serves
    (view,) = manager.snapshot()  # what a metrics scrape or `inspect` asks
    assert (view.status.failures, view.status.last_error) == (3, "earlier")
    manager.snapshot()
    assert len(reads) == 1  # then kept
