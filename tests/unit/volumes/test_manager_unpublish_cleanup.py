"""Tearing a volume down: every clean-up step runs even when one fails, and the volume's requests are deleted."""

from __future__ import annotations

import asyncio
import errno
import os

import pytest
from test_manager_lifecycle import Req, Rig, context, rig

from certcsi.errors import IssuanceDenied, UnusableTarget
from certcsi.volumes.mount import TargetRefused

__all__ = ["rig"]  # the fixture, shared with the lifecycle tests


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_failed_first_publish_removes_our_state_even_when_unmounting_fails(rig: Rig) -> None:
    rig.issuance.deny = True
    rig.mounter.fail_next("unbind", OSError(errno.EIO, "unmount broke", "/x"))
    with pytest.raises(IssuanceDenied):  # the publish's own error, not the clean-up's
        await rig.manager.publish(Req("vol-1", rig.target(), context()))
    assert rig.store.list_volume_ids() == []
    assert rig.manager.status() == []


@pytest.mark.parametrize(
    ("error", "reported"),
    [
        (OSError(errno.EIO, "unmount broke"), OSError),
        # The mounter's refusal of the target is the one failure reported as the target's fault.
        (TargetRefused(errno.EBUSY, "another mount covers it"), UnusableTarget),
    ],
    ids=["os-error", "refused"],
)
async def test_unpublish_whose_unmount_fails_keeps_the_volume_for_the_retry(
    rig: Rig, error: OSError, reported: type[Exception]
) -> None:
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, context()))
    rig.mounter.fail_next("unbind", type(error)(error.errno, error.strerror, target))
    with pytest.raises(reported, match=str(error.strerror)) as caught:
        await rig.manager.unpublish(volume_id="vol-1", target_path=target)
    assert isinstance(caught.value, UnusableTarget) == (reported is UnusableTarget)
    assert rig.store.list_volume_ids() == ["vol-1"]
    assert rig.issuance.cleaned == []
    await rig.manager.unpublish(volume_id="vol-1", target_path=target)
    assert rig.store.list_volume_ids() == []


async def test_unpublish_deletes_the_volumes_requests(rig: Rig) -> None:
    # Also for a volume without pod uid: no owner reference, so nothing else would ever delete them.
    ctx = {k: v for k, v in context().items() if k != "csi.storage.k8s.io/pod.uid"}
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, ctx))
    await rig.manager.unpublish(volume_id="vol-1", target_path=target)
    await settle()
    assert rig.issuance.cleaned == ["vol-1"]


async def test_unpublish_does_not_wait_for_an_unreachable_api(rig: Rig) -> None:
    rig.issuance.cleanup_blocked = asyncio.Event()
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, context()))
    await asyncio.wait_for(rig.manager.unpublish(volume_id="vol-1", target_path=target), timeout=5)
    assert rig.store.list_volume_ids() == []
    await rig.manager.stop()  # gives up on the deletion: the owner reference stays the safety net
    assert rig.issuance.cleaned == []


async def test_unpublish_of_an_unknown_volume_deletes_no_requests(rig: Rig) -> None:
    await rig.manager.unpublish(volume_id="vol-9", target_path=rig.target())
    await settle()
    assert rig.issuance.cleaned == []


async def test_a_deletion_that_hangs_is_given_up_after_its_budget(rig: Rig) -> None:
    rig.issuance.cleanup_blocked = asyncio.Event()
    target = rig.target()
    await rig.manager.publish(Req("vol-1", target, context()))
    await rig.manager.unpublish(volume_id="vol-1", target_path=target)
    await settle()
    assert len(rig.manager._cleanups) == 1
    rig.clock.advance(60)
    await settle()
    assert rig.manager._cleanups == set()
    rig.issuance.cleanup_blocked.set()
    await settle()
    assert rig.issuance.cleaned == []


async def test_failed_first_publish_leaves_a_target_directory_it_did_not_make(rig: Rig) -> None:
    target = rig.target()
    os.mkdir(target)  # there before the publish: someone else's, empty
    rig.issuance.deny = True
    with pytest.raises(IssuanceDenied):
        await rig.manager.publish(Req("vol-1", target, context()))
    assert os.path.isdir(target)
    assert rig.store.list_volume_ids() == []


async def test_failed_first_publish_removes_the_target_directory_it_made(rig: Rig) -> None:
    target = rig.target()
    rig.issuance.deny = True
    with pytest.raises(IssuanceDenied):
        await rig.manager.publish(Req("vol-1", target, context()))
    assert not os.path.lexists(target)
