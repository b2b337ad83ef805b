"""Hostile targets against the real kernel: the engine mounts, unmounts and deletes only what it created.

Real tmpfs and bind mounts (inside a private mount namespace, see conftest) with a fake issuer: the
target path is a file, a symlink, a non-empty directory, someone else's mount; the volume id is a
path traversal. Each refusal comes before any key or CertificateRequest exists and leaves nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from test_manager_lifecycle import START, FakeIssuance, Req, Rig, context, make_manager

from certcsi.errors import CertcsiError, InvalidVolume, UnusableTarget
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.mount import MountInfo, SyscallMounter, read_mountinfo
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import Store

CSI_OWNER = Owner("csi.cert-manager.io")

pytestmark = pytest.mark.real_mounts


def mounts_at(path: Path | str) -> list[MountInfo]:
    return [e for e in read_mountinfo() if e.mount_point == os.path.realpath(path)]


@dataclass
class RealRig(Rig):
    """The lifecycle tests' rig on a real tmpfs, with the real mounter."""

    mounter: SyscallMounter  # type: ignore[assignment]

    def path(self, name: str = "v1") -> Path:
        """Where kubelet would publish: the parent exists, the target itself does not."""
        return Path(self.target(name))

    def foreign_tmpfs(self, at: Path) -> None:
        """Someone else's mount, holding one file."""
        self.mounter.mount_tmpfs(at, size="64k")
        (at / "theirs").write_text("not certcsi's")

    def nothing_of_ours(self) -> None:
        assert self.issuance.created == [], "a CertificateRequest was created"
        assert self.store.list_volume_ids() == []
        ours = [e for e in read_mountinfo() if e.device == self.tmpfs_device and e.mount_point != str(self.store.root)]
        assert ours == [], f"binds of our tmpfs left: {[e.mount_point for e in ours]}"

    @property
    def tmpfs_device(self) -> str:
        [entry] = mounts_at(self.store.root)
        return entry.device


@contextlib.asynccontextmanager
async def real_rig(root: Path, *, tmpfs_size: str = "4m") -> AsyncIterator[RealRig]:
    """A started engine on a real tmpfs of `tmpfs_size` under `root`; unmounts everything beneath `root` after."""
    clock = FakeClock(START)
    mounter = SyscallMounter()
    store = Store(data_root=root / "data", mounter=mounter, owner=CSI_OWNER, tmpfs_size=tmpfs_size)
    issuance = FakeIssuance(clock)
    manager = make_manager(store, mounter, issuance, clock)
    await manager.start()
    try:
        yield RealRig(manager, issuance, mounter, store, clock, root)
    finally:
        await manager.stop()
        real_root = os.path.realpath(root)
        for point in sorted({e.mount_point for e in read_mountinfo()}, key=len, reverse=True):
            if point.startswith(real_root + "/"):
                mounter.unmount(point)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[RealRig]:
    async with real_rig(tmp_path) as made:
        yield made


async def refused(rig: RealRig, target: Path) -> CertcsiError:
    with pytest.raises(CertcsiError) as caught:
        await rig.manager.publish(Req("vol-1", str(target), context()))
    error = caught.value
    assert isinstance(error, UnusableTarget), repr(error)
    assert error.grpc_code == grpc.StatusCode.FAILED_PRECONDITION
    assert str(target) in str(error)
    return error


# --- item 3: the volume id is checked before anything is touched ----------------------------------


@pytest.mark.parametrize("volume_id", ["../etc", "..", "vol-1/../vol-1", ""])
async def test_unpublish_with_a_hostile_volume_id_leaves_the_live_target_alone(rig: RealRig, volume_id: str) -> None:
    target = rig.path()
    await rig.manager.publish(Req("vol-1", str(target), context()))
    with pytest.raises(InvalidVolume, match="volume_id"):
        await rig.manager.unpublish(volume_id=volume_id, target_path=str(target))
    assert rig.mounter.is_bind_of(target, rig.store.data_dir("vol-1"))
    assert (target / "tls.crt").read_bytes().startswith(b"-----BEGIN CERTIFICATE")


async def test_unpublish_with_a_hostile_volume_id_keeps_a_plain_directory(rig: RealRig) -> None:
    target = rig.path()
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(InvalidVolume, match="volume_id"):
        await rig.manager.unpublish(volume_id="../etc", target_path=str(target))
    assert (target / "keep").read_text() == "x"


# --- item 4: someone else's mount at the target -----------------------------------------------------


async def test_first_publish_onto_a_foreign_mount_leaves_it_mounted(rig: RealRig) -> None:
    target = rig.path()
    rig.foreign_tmpfs(target)
    error = await refused(rig, target)
    assert "mounted" in str(error)
    [foreign] = mounts_at(target)
    assert foreign.fs_type == "tmpfs"
    assert (target / "theirs").read_text() == "not certcsi's"
    rig.nothing_of_ours()


async def test_unpublish_leaves_a_foreign_mount_alone(rig: RealRig) -> None:
    target = rig.path()
    rig.foreign_tmpfs(target)
    await rig.manager.unpublish(volume_id="vol-1", target_path=str(target))
    assert len(mounts_at(target)) == 1
    assert (target / "theirs").read_text() == "not certcsi's"


async def test_unpublish_refuses_when_a_foreign_mount_covers_ours(rig: RealRig) -> None:
    # Unmounting ours would mean unmounting theirs first; leaving ours would orphan it. Neither: say so.
    target = rig.path()
    await rig.manager.publish(Req("vol-1", str(target), context()))
    rig.foreign_tmpfs(target)
    with pytest.raises(CertcsiError, match=str(target)):
        await rig.manager.unpublish(volume_id="vol-1", target_path=str(target))
    assert len(mounts_at(target)) == 2
    assert (target / "theirs").read_text() == "not certcsi's"
    assert rig.store.list_volume_ids() == ["vol-1"]  # kept, so the retry still knows the mount is ours


# --- item 5: a file or a non-empty directory -------------------------------------------------------


async def test_target_that_is_a_regular_file_is_refused_before_issuing(rig: RealRig) -> None:
    target = rig.path()
    target.write_text("a file")
    error = await refused(rig, target)
    assert "not a directory" in str(error)
    assert target.read_text() == "a file"
    rig.nothing_of_ours()


async def test_target_that_is_a_non_empty_directory_is_refused_before_issuing(rig: RealRig) -> None:
    target = rig.path()
    target.mkdir()
    (target / "data.db").write_text("precious")
    error = await refused(rig, target)
    assert "not empty" in str(error)
    assert (target / "data.db").read_text() == "precious"
    rig.nothing_of_ours()


async def test_refused_volume_is_not_resumed_after_a_restart(rig: RealRig) -> None:
    target = rig.path()
    target.write_text("a file")
    await refused(rig, target)
    await rig.manager.stop()
    restarted = Store(data_root=rig.root / "data", mounter=rig.mounter, owner=CSI_OWNER)
    assert restarted.open().volumes == ()
    restarted.close()


async def test_an_empty_directory_made_by_the_caller_is_used_and_removed(rig: RealRig) -> None:
    # csi-sanity's pattern: it creates the target itself and expects it gone after unpublish.
    target = rig.path()
    target.mkdir()
    await rig.manager.publish(Req("vol-1", str(target), context()))
    assert rig.mounter.is_bind_of(target, rig.store.data_dir("vol-1"))
    await rig.manager.unpublish(volume_id="vol-1", target_path=str(target))
    assert not target.exists()
    assert mounts_at(target) == []


# --- item 6: a symlink ------------------------------------------------------------------------------


@pytest.mark.parametrize("points_to", ["empty-dir", "file", "nowhere"])
async def test_target_that_is_a_symlink_is_never_followed(rig: RealRig, points_to: str) -> None:
    elsewhere = rig.root / "elsewhere"
    if points_to == "empty-dir":
        elsewhere.mkdir()
    elif points_to == "file":
        elsewhere.write_text("x")
    target = rig.path()
    target.symlink_to(elsewhere)
    error = await refused(rig, target)
    assert "symbolic link" in str(error)
    assert mounts_at(elsewhere) == []
    assert target.is_symlink() and os.readlink(target) == str(elsewhere)
    rig.nothing_of_ours()


async def test_unpublish_of_a_symlink_target_leaves_the_link_and_what_it_points_at(rig: RealRig) -> None:
    elsewhere = rig.root / "elsewhere"
    rig.foreign_tmpfs(elsewhere)
    target = rig.path()
    target.symlink_to(elsewhere)
    await rig.manager.unpublish(volume_id="vol-1", target_path=str(target))
    assert target.is_symlink()
    assert len(mounts_at(elsewhere)) == 1


async def test_unpublish_at_another_path_than_the_published_one_touches_nothing(rig: RealRig) -> None:
    # Here a link to the real target: forgetting the volume would orphan its mount, unmounting it is not asked.
    target = rig.path()
    await rig.manager.publish(Req("vol-1", str(target), context()))
    link = rig.path("v2")
    link.symlink_to(target)
    with pytest.raises(UnusableTarget, match="published at"):
        await rig.manager.unpublish(volume_id="vol-1", target_path=str(link))
    assert link.is_symlink()
    assert rig.mounter.is_bind_of(target, rig.store.data_dir("vol-1"))
    assert rig.store.list_volume_ids() == ["vol-1"]


# --- cleanup runs every step --------------------------------------------------------------------------


async def test_unpublish_removes_mount_target_and_state(rig: RealRig) -> None:
    target = rig.path()
    await rig.manager.publish(Req("vol-1", str(target), context()))
    await rig.manager.unpublish(volume_id="vol-1", target_path=str(target))
    await rig.manager.unpublish(volume_id="vol-1", target_path=str(target))
    assert not target.exists()
    assert mounts_at(target) == []
    assert rig.store.list_volume_ids() == []


async def test_failed_bind_after_issuing_still_removes_our_state(rig: RealRig, monkeypatch: pytest.MonkeyPatch) -> None:
    # The target turned into a file between the check and the bind: refused at mount time too.
    target = rig.path()
    real_bind = rig.mounter.bind_readonly

    def swap_then_bind(source: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        Path(dst).write_text("raced")
        real_bind(source, dst)

    monkeypatch.setattr(rig.mounter, "bind_readonly", swap_then_bind)
    with pytest.raises(UnusableTarget) as caught:
        await rig.manager.publish(Req("vol-1", str(target), context()))
    assert caught.value.grpc_code == grpc.StatusCode.FAILED_PRECONDITION
    assert target.read_text() == "raced"
    assert rig.store.list_volume_ids() == []
    assert mounts_at(target) == []


def test_errno_of_each_refusal(rig: RealRig) -> None:
    """The mounter itself refuses, whoever calls it (OSError with the errno the engine translates)."""
    source = rig.root / "src"
    source.mkdir()
    cases: dict[str, int] = {"file": errno.ENOTDIR, "link": errno.ELOOP, "full": errno.ENOTEMPTY}
    (rig.root / "file").write_text("x")
    (rig.root / "link").symlink_to(source)
    (rig.root / "full").mkdir()
    (rig.root / "full" / "x").write_text("x")
    for name, expected in cases.items():
        with pytest.raises(OSError) as caught:
            rig.mounter.bind_readonly(source, rig.root / name)
        assert caught.value.errno == expected, name
        assert mounts_at(rig.root / name) == []
