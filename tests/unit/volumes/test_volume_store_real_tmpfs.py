"""The store on a real tmpfs with real bind mounts (inside a private mount namespace, see conftest)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from certcsi.volumes.mount import SyscallMounter, read_mountinfo
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import DataRootUnusable, Metadata, Store

CSI_OWNER = Owner("csi.cert-manager.io")

pytestmark = pytest.mark.real_mounts
GROUP = 4242


def test_open_mounts_tmpfs_once(tmp_path: Path, mounter: SyscallMounter) -> None:
    store = Store(data_root=tmp_path / "data-root", mounter=mounter, owner=CSI_OWNER, tmpfs_size="8m")
    store.open()
    assert store.ready() is None
    [entry] = [e for e in read_mountinfo() if e.mount_point == str(store.root)]
    assert entry.fs_type == "tmpfs"
    store.close()  # one store per data root at a time (a second one is refused while this one holds it)
    again = Store(data_root=tmp_path / "data-root", mounter=mounter, owner=CSI_OWNER)
    again.open()
    assert len([e for e in read_mountinfo() if e.mount_point == str(store.root)]) == 1
    mounter.unmount(store.root)
    assert again.ready() == f"tmpfs is not mounted at {store.root}"


def test_publish_renew_unpublish(tmp_path: Path, mounter: SyscallMounter) -> None:
    store = Store(data_root=tmp_path / "data-root", mounter=mounter, owner=CSI_OWNER)
    store.open()
    target = tmp_path / "pod" / "mount"
    target.parent.mkdir()
    store.write_metadata(Metadata(volume_id="vol", target_path=str(target)))
    store.write_files("vol", {"tls.crt": b"1", "tls.key": b"1"}, fs_group=GROUP)
    mounter.bind_readonly(store.data_dir("vol"), target)

    assert (target / "tls.crt").read_bytes() == b"1"
    assert os.stat(target / "tls.key").st_gid == GROUP
    with pytest.raises(OSError) as info:
        os.symlink("x", target / "evil")
    assert info.value.errno == errno.EROFS

    store.write_files("vol", {"tls.crt": b"2", "tls.key": b"2"}, fs_group=GROUP)
    assert (target / "tls.crt").read_bytes() == b"2"  # renewal needs no remount

    mounter.unmount(target, remove=True)
    store.remove_volume("vol")
    assert not target.exists()
    assert store.list_volume_ids() == []


def test_symlinked_inmemfs_gets_no_tmpfs_at_its_target(tmp_path: Path, mounter: SyscallMounter) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "data-root").mkdir()
    (tmp_path / "data-root" / "inmemfs").symlink_to(elsewhere)
    with pytest.raises(DataRootUnusable, match="symbolic link"):
        Store(data_root=tmp_path / "data-root", mounter=mounter, owner=CSI_OWNER).open()
    assert [e for e in read_mountinfo() if e.mount_point == str(elsewhere)] == []


def test_the_default_tmpfs_size_is_a_limit(tmp_path: Path, mounter: SyscallMounter) -> None:
    from certcsi.volumes.mount import DEFAULT_TMPFS_SIZE

    store = Store(data_root=tmp_path / "data-root", mounter=mounter, owner=CSI_OWNER)
    store.open()
    [entry] = [e for e in read_mountinfo() if e.mount_point == str(store.root)]
    assert entry.fs_type == "tmpfs"
    usage = os.statvfs(store.root)
    assert usage.f_blocks * usage.f_frsize == _bytes(DEFAULT_TMPFS_SIZE)
    store.close()


def _bytes(size: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(size[:-1]) * units[size[-1]]


def test_a_tmpfs_mounted_before_gets_the_size_limit(tmp_path: Path, mounter: SyscallMounter) -> None:
    # The Go driver mounts its tmpfs without a size: switching to certcsi applies --tmpfs-size to it.
    mounter.mount_tmpfs(tmp_path / "data-root" / "inmemfs")
    store = Store(data_root=tmp_path / "data-root", mounter=mounter, owner=CSI_OWNER, tmpfs_size="2m")
    store.open()
    usage = os.statvfs(store.root)
    assert usage.f_blocks * usage.f_frsize == 2 * 1024 * 1024
    [entry] = [e for e in read_mountinfo() if e.mount_point == str(store.root)]
    assert {"nosuid", "nodev", "noexec"} <= entry.options
    store.write_metadata(Metadata(volume_id="vol", target_path="/t"))
    store.write_files("vol", {"tls.crt": b"x" * 100_000}, fs_group=None)
    store.close()
    # Smaller than what it holds: the kernel refuses, the driver starts with the size it found.
    tight = Store(data_root=tmp_path / "data-root", mounter=mounter, owner=CSI_OWNER, tmpfs_size="64k")
    tight.open()
    usage = os.statvfs(store.root)
    assert usage.f_blocks * usage.f_frsize == 2 * 1024 * 1024
    tight.close()


def test_a_disk_mounted_at_inmemfs_is_refused(tmp_path: Path, mounter: SyscallMounter) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "data-root" / "inmemfs").mkdir(parents=True)
    mounter.bind_readonly(disk, tmp_path / "data-root" / "inmemfs")
    with pytest.raises(DataRootUnusable, match="not a tmpfs"):
        Store(data_root=tmp_path / "data-root", mounter=mounter, owner=CSI_OWNER).open()
