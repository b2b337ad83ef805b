"""A full tmpfs: the publish that does not fit fails with RESOURCE_EXHAUSTED and leaves nothing; others live on."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from test_manager_hostile_targets import mounts_at, real_rig
from test_manager_lifecycle import Req, context

from certcsi.errors import StorageExhausted

pytestmark = pytest.mark.real_mounts


async def test_the_volume_that_does_not_fit_fails_cleanly(tmp_path: Path) -> None:
    # 8 pages: the first volume (metadata, status, three files) fits, a second one cannot.
    async with real_rig(tmp_path, tmpfs_size="32k") as rig:
        first, second = rig.path("v1"), rig.path("v2")
        await rig.manager.publish(Req("vol-1", str(first), context()))
        with pytest.raises(StorageExhausted) as caught:
            await rig.manager.publish(Req("vol-2", str(second), context()))
        error = caught.value
        assert error.grpc_code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "vol-2" in str(error) and "--tmpfs-size" in str(error)
        assert rig.store.list_volume_ids() == ["vol-1"]
        assert not second.exists() and mounts_at(second) == []
        assert (first / "tls.crt").read_bytes().startswith(b"-----BEGIN CERTIFICATE")
        # Space freed by an unpublish is usable again.
        await rig.manager.unpublish(volume_id="vol-1", target_path=str(first))
        await rig.manager.publish(Req("vol-2", str(second), context()))
        assert rig.store.list_volume_ids() == ["vol-2"]


async def test_the_tmpfs_gets_the_size_it_was_given(tmp_path: Path) -> None:
    async with real_rig(tmp_path, tmpfs_size="1m") as rig:
        usage = os.statvfs(rig.store.root)
        assert usage.f_blocks * usage.f_frsize == 1024 * 1024
