"""Which mounter failures the engine reports as a refused target: only the mounter's own `TargetRefused`."""

from __future__ import annotations

import errno

import grpc
import pytest
from test_manager_lifecycle import Req, Rig, context, rig

from certcsi.errors import UnusableTarget
from certcsi.volumes.mount import TargetRefused

__all__ = ["rig"]  # the fixture, shared with the lifecycle tests


async def test_a_refusal_becomes_failed_precondition_naming_the_target_and_the_rule(rig: Rig) -> None:
    target = rig.target()
    rig.mounter.fail_next("bind_readonly", TargetRefused(errno.EBUSY, "a rule the target breaks", target))
    with pytest.raises(UnusableTarget) as caught:
        await rig.manager.publish(Req("vol-1", target, context()))
    assert caught.value.grpc_code == grpc.StatusCode.FAILED_PRECONDITION
    assert str(caught.value) == f"target_path {target}: a rule the target breaks"
    assert rig.store.list_volume_ids() == []


async def test_any_other_os_error_stays_what_it_is_whatever_its_errno(rig: Rig) -> None:
    # ENOTDIR from anywhere but the target check (a data directory gone, say) is not the pod's target's fault.
    target = rig.target()
    rig.mounter.fail_next("bind_readonly", OSError(errno.ENOTDIR, "bind source is not a directory", "/data/vol-1"))
    with pytest.raises(OSError) as caught:
        await rig.manager.publish(Req("vol-1", target, context()))
    assert not isinstance(caught.value, UnusableTarget | TargetRefused)
    assert rig.store.list_volume_ids() == []

