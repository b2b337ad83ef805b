"""ready() / wait_ready(): not before the first list, not while the API server is unreachable."""

from __future__ import annotations

import asyncio

import pytest
from test_issuance_support import FakeKube, plan, settle, volume

from certcsi.errors import KubernetesError, NotReady
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.issuance import RECHECK_UNREACHABLE, Issuance

UNREACHABLE = KubernetesError("cannot reach the Kubernetes API at https://api: Connection refused", status=None)


async def unreachable_once() -> tuple[FakeKube, FakeClock, Issuance]:
    """A started issuance whose create just found the API server unreachable."""
    kube, clock = FakeKube(), FakeClock()
    issuance = Issuance(kube=kube, node_id="test-node", clock=clock)
    await issuance.start()
    kube.fail_create = UNREACHABLE
    with pytest.raises(KubernetesError):
        await issuance.create(volume(), plan())
    return kube, clock, issuance


async def test_not_ready_until_the_first_list_is_complete() -> None:
    kube = FakeKube()
    kube.listed = asyncio.Event()
    issuance = Issuance(kube=kube, node_id="test-node", clock=FakeClock())
    await issuance.start(wait_synced=False)
    ready = asyncio.create_task(issuance.wait_ready())
    await settle()
    assert "not yet listed" in str(issuance.ready())
    assert not ready.done()
    with pytest.raises(NotReady):
        await issuance.create(volume(), plan())
    kube.listed.set()
    await asyncio.wait_for(ready, 1)
    assert issuance.ready() is None
    await issuance.stop()


async def test_an_unreachable_api_makes_it_wait_until_the_watch_reopens() -> None:
    kube, clock, issuance = await unreachable_once()
    assert "unreachable" in str(issuance.ready())
    ready = asyncio.create_task(issuance.wait_ready())
    await settle()
    assert not ready.done()
    kube.resync()  # the watch opened again after failing
    await asyncio.wait_for(ready, 1)
    assert issuance.ready() is None
    assert clock.pending_timers == 0
    await issuance.stop()


async def test_calls_are_let_through_again_after_a_while_even_without_the_watch() -> None:
    _, clock, issuance = await unreachable_once()
    clock.advance(RECHECK_UNREACHABLE - 1)
    assert issuance.ready() is not None
    clock.advance(1)
    assert issuance.ready() is None
    await issuance.stop()


async def test_an_api_error_with_an_answer_is_not_unreachable() -> None:
    kube = FakeKube()
    issuance = Issuance(kube=kube, node_id="test-node", clock=FakeClock())
    await issuance.start()
    kube.fail_create = KubernetesError("forbidden", status=403)
    with pytest.raises(KubernetesError):
        await issuance.create(volume(), plan())
    assert issuance.ready() is None
    await issuance.stop()


async def test_a_successful_call_clears_it_at_once() -> None:
    kube, _, issuance = await unreachable_once()
    kube.fail_create = None
    await issuance.create(volume(), plan())
    assert issuance.ready() is None
    await issuance.stop()
