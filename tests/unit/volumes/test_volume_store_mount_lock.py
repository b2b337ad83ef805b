"""Drivers starting at once on one data root mount one tmpfs, never two stacked (real mounts, separate processes).

Without the mount lock both would find inmemfs unmounted and both mount: the second tmpfs would hide
the first one's volumes from everyone. Here the test holds the lock while the drivers start, so both
reach it together, then lets go.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certcsi.volumes.mount import SyscallMounter, read_mountinfo
from certcsi.volumes.store import INMEMFS, MOUNT_LOCK_FILE

pytestmark = pytest.mark.real_mounts

_OPEN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from certcsi.volumes.mount import SyscallMounter
    from certcsi.volumes.owning import Owner
    from certcsi.volumes.store import Store
    store = Store(data_root=Path(sys.argv[1]), mounter=SyscallMounter(), owner=Owner(sys.argv[2]))
    print("starting", flush=True)
    store.open()
    print("opened", flush=True)
    sys.stdin.read()  # hold the driver's lock until the test is done
    """
)


@pytest.fixture
def data_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "data"
    root.mkdir()
    yield root
    for point in sorted({e.mount_point for e in read_mountinfo()}, key=len, reverse=True):
        if point.startswith(os.path.realpath(tmp_path) + "/"):
            SyscallMounter().unmount(point)


def _tmpfs_mounts(path: Path) -> int:
    return sum(e.mount_point == os.path.realpath(path) and e.fs_type == "tmpfs" for e in read_mountinfo())


def _driver(data_root: Path, name: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _OPEN, str(data_root), name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "starting"
    return proc


def _opened(proc: subprocess.Popen[str]) -> bool:
    assert proc.stdout is not None
    return proc.stdout.readline().strip() == "opened"


def test_drivers_starting_together_mount_one_tmpfs(data_root: Path) -> None:
    lock = os.open(data_root / MOUNT_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    drivers = [_driver(data_root, "csi.cert-manager.io"), _driver(data_root, "spiffe.csi.cert-manager.io")]
    try:
        time.sleep(0.5)  # both are now waiting for the lock, not mounting
        assert _tmpfs_mounts(data_root / INMEMFS) == 0
        assert all(proc.poll() is None for proc in drivers)
        os.close(lock)  # both go at once
        assert all(_opened(proc) for proc in drivers)
        assert _tmpfs_mounts(data_root / INMEMFS) == 1
    finally:
        for proc in drivers:
            proc.communicate(timeout=30)
