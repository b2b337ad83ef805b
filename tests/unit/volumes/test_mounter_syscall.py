"""SyscallMounter against the real kernel (inside a private mount namespace, see conftest)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from certcsi.volumes.mount import MS_REMOUNT, MountInfo, SyscallMounter, read_mountinfo

pytestmark = pytest.mark.real_mounts


def _at(path: Path) -> list[MountInfo]:
    return [e for e in read_mountinfo() if e.mount_point == os.path.realpath(path)]


def test_tmpfs_mount_is_hardened(tmp_path: Path, mounter: SyscallMounter) -> None:
    path = tmp_path / "fs"
    assert not mounter.is_mount_point(path)
    mounter.mount_tmpfs(path, size="1m", mode=0o710)
    [entry] = _at(path)
    assert entry.fs_type == "tmpfs"
    assert {"nosuid", "nodev", "noexec", "rw"} <= entry.options
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o710
    assert mounter.is_mount_point(path)
    assert os.statvfs(path).f_blocks * os.statvfs(path).f_frsize == 1024 * 1024


def test_tmpfs_size_cannot_smuggle_options(tmp_path: Path, mounter: SyscallMounter) -> None:
    for bad in ("1m,mode=777", "", "m", "-1"):
        with pytest.raises(ValueError, match="tmpfs size"):
            mounter.mount_tmpfs(tmp_path / "fs", size=bad)
    assert not mounter.is_mount_point(tmp_path / "fs")


def test_bind_is_read_only_and_hardened(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    target = tmp_path / "target"
    mounter.bind_readonly(fs / "src", target)
    assert (target / "tls.crt").read_bytes() == b"CERT"
    with pytest.raises(OSError) as info:
        (target / "new").write_bytes(b"x")
    assert info.value.errno == errno.EROFS
    [entry] = _at(target)
    assert {"ro", "nosuid", "nodev", "noexec"} <= entry.options
    assert entry.root == "/src"
    assert mounter.is_bind_of(target, fs / "src")
    assert not mounter.is_bind_of(target, fs)
    # Updates made through the source are visible through the bind: renewals need no remount.
    (fs / "src" / "tls.crt").write_bytes(b"RENEWED")
    assert (target / "tls.crt").read_bytes() == b"RENEWED"


def test_bind_is_idempotent_and_exclusive(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    (fs / "other").mkdir()
    target = tmp_path / "target"
    mounter.bind_readonly(fs / "src", target)
    mounter.bind_readonly(fs / "src", target)
    assert len(_at(target)) == 1
    with pytest.raises(OSError) as info:
        mounter.bind_readonly(fs / "other", target)
    assert (info.value.errno, info.value.filename) == (errno.EBUSY, str(target))


def test_bind_of_missing_source(tmp_path: Path, mounter: SyscallMounter) -> None:
    with pytest.raises(OSError) as info:
        mounter.bind_readonly(tmp_path / "missing", tmp_path / "target")
    assert info.value.errno == errno.ENOTDIR
    assert not (tmp_path / "target").exists()


def test_same_filesystem_bind_with_escaped_path(fs: Path, mounter: SyscallMounter) -> None:
    # Source and target on one filesystem share st_dev: the answer must come from mountinfo,
    # whose path has the space written as \040.
    target = fs / "pod dir\tx"
    mounter.bind_readonly(fs / "src", target)
    assert mounter.is_mount_point(target)
    assert mounter.is_bind_of(target, fs / "src")
    assert not mounter.is_mount_point(fs / "src")


def test_unmount_is_idempotent_and_removes(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    target = tmp_path / "target"
    mounter.bind_readonly(fs / "src", target)
    mounter.unmount(target, remove=True)
    assert not target.exists()
    mounter.unmount(target, remove=True)
    mounter.unmount(target)
    assert (fs / "src" / "tls.crt").exists()


def test_unmount_of_plain_directory_leaves_parent_mount(fs: Path, mounter: SyscallMounter) -> None:
    mounter.unmount(fs / "src")
    assert mounter.is_mount_point(fs)
    assert (fs / "src" / "tls.crt").read_bytes() == b"CERT"


def test_busy_mount_is_detached(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    target = tmp_path / "target"
    mounter.bind_readonly(fs / "src", target)
    held = os.open(target / "tls.crt", os.O_RDONLY)
    cwd = os.open(".", os.O_RDONLY)
    os.chdir(target)
    try:
        mounter.unmount(target, remove=True)
        assert not target.exists()
        assert os.read(held, 16) == b"CERT"  # the pod keeps what it had open
    finally:
        os.fchdir(cwd)
        os.close(cwd)
        os.close(held)


def test_stacked_mounts_all_removed(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    target = tmp_path / "target"
    mounter.mount_tmpfs(target)
    mounter.mount_tmpfs(target)
    assert len(_at(target)) == 2
    mounter.unmount(target, remove=True)
    assert _at(target) == []
    assert not target.exists()


def test_symlink_is_not_a_mount_point(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    (tmp_path / "link").symlink_to(fs)
    assert not mounter.is_mount_point(tmp_path / "link")
    assert not mounter.is_bind_of(tmp_path / "link", fs)
    mounter.unmount(tmp_path / "link")  # UMOUNT_NOFOLLOW: does not unmount what the link points to
    assert mounter.is_mount_point(fs)


def test_failed_bind_leaves_no_target(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    # Without the new mount API, the read-only remount fails after the bind succeeded: the bind is undone
    # and the directory removed. (With it, see test_mounter_read_only_peers.)
    class Failing(SyscallMounter):
        def _sys_mount(
            self, source: str, target: str, fs_type: str | None, flags: int, data: str | None, *, shown: str | None
        ) -> None:
            if flags & MS_REMOUNT:
                raise OSError(errno.EPERM, "remount refused", target)
            super()._sys_mount(source, target, fs_type, flags, data, shown=shown)

    target = tmp_path / "target"
    with pytest.raises(OSError, match="remount refused"):
        Failing(mount_api=None).bind_readonly(fs / "src", target)
    assert _at(target) == []
    assert not target.exists()


def test_tmpfs_is_never_mounted_through_a_symlink(tmp_path: Path, mounter: SyscallMounter) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OSError) as info:
        mounter.mount_tmpfs(tmp_path / "link", size="1m")
    assert info.value.errno == errno.ELOOP
    assert _at(tmp_path / "real") == []


def test_bind_refuses_what_it_would_hide_or_follow(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "mounted").mkdir()
    mounter.mount_tmpfs(tmp_path / "mounted", size="64k")
    expected = {"file": errno.ENOTDIR, "link": errno.ELOOP, "full": errno.ENOTEMPTY, "mounted": errno.EBUSY}
    for name, code in expected.items():
        with pytest.raises(OSError) as info:
            mounter.bind_readonly(fs / "src", tmp_path / name)
        assert (info.value.errno, info.value.filename) == (code, str(tmp_path / name)), name
        with pytest.raises(OSError) as checked:
            mounter.check_target(fs / "src", tmp_path / name)
        assert checked.value.errno == code, name
    assert _at(tmp_path / "empty") == []
    assert len(_at(tmp_path / "mounted")) == 1
    mounter.check_target(fs / "src", tmp_path / "absent")
    assert not (tmp_path / "absent").exists()


def test_unbind_unmounts_only_binds_of_its_source(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    (fs / "other").mkdir()
    target = tmp_path / "target"
    mounter.bind_readonly(fs / "other", target)
    mounter.unbind(fs / "src", target)
    assert len(_at(target)) == 1  # someone else's bind: left alone, and so is its directory
    mounter.unmount(target)
    mounter.bind_readonly(fs / "src", target)
    mounter.unbind(fs / "src", target)
    assert _at(target) == []
    assert not target.exists()
    mounter.unbind(fs / "src", target)  # idempotent


def test_unbind_keeps_a_directory_that_is_not_empty(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "theirs").write_text("x")
    mounter.unbind(fs / "src", target)
    assert (target / "theirs").read_text() == "x"


def test_unbind_can_keep_the_target_directory(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    target = tmp_path / "target"
    target.mkdir()  # there before the bind
    mounter.bind_readonly(fs / "src", target)
    mounter.unbind(fs / "src", target, remove_target=False)
    assert _at(target) == []
    assert target.is_dir()


def test_unbind_of_a_deleted_source_still_finds_its_bind(fs: Path, tmp_path: Path, mounter: SyscallMounter) -> None:
    # A bind outliving its source shows `//deleted` in mountinfo; it is still ours to unmount.
    (fs / "gone").mkdir()
    target = tmp_path / "target"
    mounter.bind_readonly(fs / "gone", target)
    (fs / "gone").rmdir()
    mounter.unbind(fs / "gone", target)
    assert _at(target) == []
    assert not target.exists()
