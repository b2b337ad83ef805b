"""Where tests that mount may run (root, in a private mount namespace), and what is mounted beneath a path.

Shared by the end-to-end tests and the image test: both make real tmpfs and bind mounts.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from certcsi.volumes.mount import MountInfo, SyscallMounter, read_mountinfo

IN_MOUNT_NS = "CERTCSI_IN_MOUNT_NS"


def _mount_namespace(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _ancestor_namespaces() -> list[str]:
    """Mount namespaces of our ancestors that we may read (PID 1's is not always readable, even as root)."""
    found: list[str] = []
    pid = os.getppid()
    while pid > 0:
        if (namespace := _mount_namespace(pid)) is not None:
            found.append(namespace)
        try:
            stat_line = Path(f"/proc/{pid}/stat").read_text(errors="replace")
        except OSError:
            break
        pid = int(stat_line.rsplit(")", 1)[1].split()[1])
    return found


def require_private_mount_namespace() -> None:
    """Fail (never skip) unless root, told CERTCSI_IN_MOUNT_NS=1, and really unshared from an ancestor."""
    if os.geteuid() != 0:
        pytest.fail("e2e tests need root (real tmpfs and bind mounts): run them through scripts/test as root")
    if os.environ.get(IN_MOUNT_NS) != "1":
        pytest.fail(f"e2e tests need {IN_MOUNT_NS}=1 and a private mount namespace: run them through scripts/test")
    ours = _mount_namespace("self")
    if ours is None or all(namespace == ours for namespace in _ancestor_namespaces()):
        pytest.fail(f"{IN_MOUNT_NS} is set but no ancestor is in another mount namespace; refusing to mount")


def mounts_under(path: Path) -> list[MountInfo]:
    """Every mount at or beneath `path`, deepest first."""
    root = os.path.realpath(path)
    found = [m for m in read_mountinfo() if m.mount_point == root or m.mount_point.startswith(root + "/")]
    return sorted(found, key=lambda m: len(m.mount_point), reverse=True)


def mount_at(path: Path) -> MountInfo | None:
    """The topmost mount exactly at `path`, if any."""
    real = os.path.realpath(path)
    found = [m for m in read_mountinfo() if m.mount_point == real]
    return found[-1] if found else None


def share_with_peer(directory: Path, peer: Path) -> None:
    """Make `directory` a shared mount and `peer` a second mount point of its peer group, as a node's
    /var/lib/kubelet/pods and a driver container's Bidirectional (rshared) mount of it are: a mount made
    beneath either appears beneath the other, as a copy. Both directories are created when missing."""
    directory.mkdir(parents=True, exist_ok=True)
    peer.mkdir(parents=True, exist_ok=True)
    for command in (["--bind", directory, directory], ["--make-shared", directory], ["--bind", directory, peer]):
        subprocess.run(["mount", *map(str, command)], check=True)


def unmount_everything_under(path: Path) -> None:
    mounter = SyscallMounter()
    for entry in mounts_under(path):
        mounter.unmount(entry.mount_point)


def write_fails_read_only(directory: Path) -> bool:
    """True when creating a file in `directory` fails with EROFS (root ignores modes, not ro mounts)."""
    try:
        (directory / "probe-write").write_bytes(b"x")
    except OSError as exc:
        return exc.errno == errno.EROFS
    return False
