"""A pod's bind mount is read-only in every peer group it propagates to, from the moment it exists (real kernel).

`pods` and `host` are one directory at two mount points of one peer group, as the driver container's
/var/lib/kubelet/pods (mountPropagation: Bidirectional) and the host's: what is mounted under one appears
under the other as a copy of its own, with the per-mount flags the mount had when it was copied.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
from mount_namespace import share_with_peer, write_fails_read_only

from certcsi.volumes._mount_api import MountApi
from certcsi.volumes.mount import MountInfo, SyscallMounter, read_mountinfo

pytestmark = pytest.mark.real_mounts

READ_ONLY_HARDENED = {"ro", "nosuid", "nodev", "noexec"}


def _at(path: Path) -> list[MountInfo]:
    return [e for e in read_mountinfo() if e.mount_point == os.path.realpath(path)]


@pytest.fixture
def peers(tmp_path: Path) -> tuple[Path, Path]:
    """(pods, host): the driver's view and the host's view of one shared directory."""
    pods, host = tmp_path / "pods", tmp_path / "host"
    share_with_peer(pods, host)
    return pods, host


def test_the_bind_is_read_only_in_the_peer_view_from_the_start(
    fs: Path, peers: tuple[Path, Path], mounter: SyscallMounter
) -> None:
    pods, host = peers
    mounter.bind_readonly(fs / "src", pods / "target")
    for view in (pods / "target", host / "target"):
        [entry] = _at(view)
        assert entry.options >= READ_ONLY_HARDENED, (view, entry.options)
        assert entry.root == "/src"
        assert (view / "tls.crt").read_bytes() == b"CERT"
        assert write_fails_read_only(view), view
    mounter.unbind(fs / "src", pods / "target")
    assert _at(pods / "target") == _at(host / "target") == []  # the unmount propagates too


def test_a_remount_after_the_bind_leaves_the_peer_writable(fs: Path, peers: tuple[Path, Path]) -> None:
    # Why the bind must be read-only before it is attached: the kernel copies it into the peer group at
    # the bind, and a later remount changes only the copy it is given. (Kept as the fallback for kernels
    # without the new mount API; upstream's mount library does the same.)
    pods, host = peers
    SyscallMounter(mount_api=None).bind_readonly(fs / "src", pods / "target")
    [here], [there] = _at(pods / "target"), _at(host / "target")
    assert here.options >= READ_ONLY_HARDENED
    assert "rw" in there.options
    (host / "target" / "written-from-the-host").write_bytes(b"x")
    assert (pods / "target" / "written-from-the-host").exists()


class _Missing(MountApi):
    """A kernel (or a seccomp filter) that does not know one of the new syscalls."""

    def __init__(self, missing: str, code: int) -> None:
        super().__init__()
        self.missing, self.code, self.calls = missing, code, 0

    def _syscall(self, name: str, *args: object) -> int:
        self.calls += 1
        if name == self.missing:
            raise OSError(self.code, f"{name}: {os.strerror(self.code)}")
        return super()._syscall(name, *args)


@pytest.mark.parametrize(
    ("missing", "code"),
    [("open_tree", errno.ENOSYS), ("mount_setattr", errno.ENOSYS), ("mount_setattr", errno.EPERM)],
)
def test_without_the_new_api_the_bind_is_remounted_read_only(
    fs: Path, tmp_path: Path, missing: str, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    api = _Missing(missing, code)
    mounter = SyscallMounter(mount_api=api)
    mounter.bind_readonly(fs / "src", tmp_path / "one")
    calls = api.calls
    mounter.bind_readonly(fs / "src", tmp_path / "two")
    assert api.calls == calls, "the new API was tried again after it was found missing"
    for target in (tmp_path / "one", tmp_path / "two"):
        [entry] = _at(target)
        assert entry.options >= READ_ONLY_HARDENED
        assert mounter.is_bind_of(target, fs / "src")
    [warning] = [r for r in caplog.records if "new mount API" in r.getMessage()]
    assert missing in warning.getMessage()


def test_a_failed_move_leaves_nothing(fs: Path, tmp_path: Path) -> None:
    class Refusing(MountApi):
        def _syscall(self, name: str, *args: object) -> int:
            if name == "move_mount":
                raise OSError(errno.EBUSY, "move_mount: refused")
            return super()._syscall(name, *args)

    target = tmp_path / "target"
    with pytest.raises(OSError) as info:
        SyscallMounter(mount_api=Refusing()).bind_readonly(fs / "src", target)
    assert (info.value.errno, info.value.filename) == (errno.EBUSY, str(target))
    assert _at(target) == []
    assert not target.exists()
    # The detached copy went with its descriptor: nothing but the tmpfs holds the source's filesystem.
    assert [e.mount_point for e in read_mountinfo() if e.device == _at(fs)[0].device] == [str(fs)]


def test_a_writable_bind_is_not_ours_until_republish_makes_it_read_only(
    fs: Path, peers: tuple[Path, Path], mounter: SyscallMounter
) -> None:
    # What a kill -9 between upstream's (or an older certcsi's) bind and its remount leaves behind.
    pods, _ = peers
    target = pods / "target"
    target.mkdir()
    subprocess.run(["mount", "--bind", str(fs / "src"), str(target)], check=True)
    [before] = _at(target)
    assert "rw" in before.options
    assert not mounter.is_bind_of(target, fs / "src")
    assert mounter.shows(target, fs / "src") and not mounter.shows(target, fs)
    mounter.check_target(fs / "src", target)  # still accepted: it shows our source

    mounter.bind_readonly(fs / "src", target)
    [after] = _at(target)
    assert after.mount_id == before.mount_id, "repaired in place, not replaced or stacked"
    assert after.options >= READ_ONLY_HARDENED
    assert write_fails_read_only(target)
    assert mounter.is_bind_of(target, fs / "src")
