"""wait() when the watch has gone quiet (a half-open connection): the request is read directly
before giving up, so a certificate issued meanwhile is not lost to a timeout; every waiter whose
event has not come is answered by one list, not one read each."""

from __future__ import annotations

import asyncio

import pytest
from test_issuance_support import FakeKube, plan, settle, started, volume

from certcsi.errors import IssuanceDenied, IssuanceFailed, IssuanceTimeout, KubernetesError
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.driver import Issued
from certcsi.volumes.issuance import (
    NODE_ID_HASH_LABEL,
    STALE_LIST_BATCH,
    VOLUME_ID_HASH_LABEL,
    Issuance,
    fnv_hash_label,
)


async def waiting_on_a_deaf_watch(*, timeout: float) -> tuple[FakeKube, FakeClock, Issuance, str, asyncio.Task[Issued]]:
    """A request being waited for, whose watch then stops delivering events."""
    kube, clock = FakeKube(), FakeClock()
    issuance = await started(kube, clock=clock)
    name = await issuance.create(volume(), plan())
    waiting = asyncio.create_task(issuance.wait("team-a", name, timeout=timeout))
    await settle()
    kube.deaf = True
    return kube, clock, issuance, name, waiting


async def test_an_issued_request_whose_event_never_came_is_read_halfway_through_the_budget() -> None:
    kube, clock, issuance, name, waiting = await waiting_on_a_deaf_watch(timeout=60)
    kube.issue("team-a", name)
    await settle()
    clock.advance(29)
    await settle()
    assert not waiting.done()
    clock.advance(1)
    await settle()
    assert waiting.done()
    assert (await waiting).request_name == name
    assert len(kube.lists) == 1
    await issuance.stop()


async def test_at_the_deadline_the_request_is_read_once_more_and_its_verdict_wins() -> None:
    kube, clock, issuance, name, waiting = await waiting_on_a_deaf_watch(timeout=10)
    clock.advance(5)  # read: still undecided
    await settle()
    kube.set_conditions("team-a", name, ("Denied", "True", "policy", "no wildcard"))
    clock.advance(5)
    with pytest.raises(IssuanceDenied, match="no wildcard"):
        await waiting
    assert len(kube.lists) == 2
    await issuance.stop()


async def test_a_request_still_undecided_times_out_naming_what_the_read_saw() -> None:
    kube, clock, issuance, name, waiting = await waiting_on_a_deaf_watch(timeout=10)
    kube.set_conditions("team-a", name, ("Approved", "True", "policy", "fine"))
    clock.advance(10)
    with pytest.raises(IssuanceTimeout, match=r"timed out after 10s: last condition Approved=True reason policy"):
        await waiting
    await issuance.stop()


async def test_an_unreachable_api_at_the_deadline_still_ends_in_a_timeout() -> None:
    kube, clock, issuance, _, waiting = await waiting_on_a_deaf_watch(timeout=10)
    kube.fail_read = KubernetesError("cannot reach the Kubernetes API", status=None)
    clock.advance(10)
    with pytest.raises(IssuanceTimeout, match="no condition set yet"):
        await waiting
    await issuance.stop()


async def test_an_event_arriving_first_needs_no_read() -> None:
    kube, clock = FakeKube(), FakeClock()
    issuance = await started(kube, clock=clock)
    name = await issuance.create(volume(), plan())
    waiting = asyncio.create_task(issuance.wait("team-a", name, timeout=60))
    await settle()
    kube.issue("team-a", name)
    assert (await waiting).request_name == name
    clock.advance(60)
    await settle()
    assert kube.lists == []
    assert clock.pending_timers == 0
    await issuance.stop()


async def test_stale_waiters_share_one_list_of_their_requests() -> None:
    kube, clock = FakeKube(), FakeClock()
    issuance = await started(kube, clock=clock)
    names = [await issuance.create(volume(f"csi-{i}"), plan()) for i in range(20)]
    waiting = [asyncio.create_task(issuance.wait("team-a", name, timeout=60)) for name in names]
    await settle()
    kube.deaf = True
    for name in names[:15]:
        kube.issue("team-a", name)
    await kube.delete_certificate_request("team-a", names[15])
    clock.advance(30)
    await settle()
    assert len(kube.lists) == 1
    assert [(await w).request_name for w in waiting[:15]] == names[:15]
    with pytest.raises(IssuanceFailed, match="deleted"):
        await waiting[15]
    assert not any(w.done() for w in waiting[16:])  # undecided: they wait for the deadline
    clock.advance(30)
    await settle()
    assert len(kube.lists) == 2  # one more for the four left, at their deadline
    for still in waiting[16:]:
        with pytest.raises(IssuanceTimeout):
            await still
    await issuance.stop()


async def test_the_list_names_only_the_stale_waiters_volumes_of_this_node() -> None:
    kube, clock = FakeKube(), FakeClock()
    issuance = await started(kube, clock=clock)
    names = [await issuance.create(volume(f"csi-{i}"), plan()) for i in range(3)]
    waiting = asyncio.create_task(issuance.wait("team-a", names[1], timeout=60))
    await settle()
    kube.deaf = True
    clock.advance(30)
    await settle()
    (selector,) = kube.lists
    only_csi_1 = f"{VOLUME_ID_HASH_LABEL} in ({fnv_hash_label('csi-1')})"
    assert selector == f"{NODE_ID_HASH_LABEL}={issuance.node_hash},{only_csi_1}"
    waiting.cancel()
    await issuance.stop()


async def test_a_node_of_many_stale_waiters_lists_them_in_bounded_batches() -> None:
    kube, clock = FakeKube(), FakeClock()
    issuance = await started(kube, clock=clock)
    count = 2 * STALE_LIST_BATCH + 1
    names = [await issuance.create(volume(f"csi-{i}"), plan()) for i in range(count)]
    waiting = [asyncio.create_task(issuance.wait("team-a", name, timeout=60)) for name in names]
    await settle()
    kube.deaf = True
    for name in names:
        kube.issue("team-a", name)
    clock.advance(30)
    await settle()
    assert len(kube.lists) == 3
    assert [(await w).request_name for w in waiting] == names
    await issuance.stop()
