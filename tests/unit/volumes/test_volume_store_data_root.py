"""A symlinked inmemfs is refused, and a lock per driver keeps a second process of the same driver out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import DataRootInUse, DataRootUnusable, Store

CSI_OWNER = Owner("csi.cert-manager.io")


def test_symlinked_inmemfs_is_refused_and_nothing_is_mounted(tmp_path: Path, fake_mounter: FakeMounter) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data_root = tmp_path / "data"
    data_root.mkdir()
    (data_root / "inmemfs").symlink_to(elsewhere)
    store = Store(data_root=data_root, mounter=fake_mounter, owner=CSI_OWNER)
    with pytest.raises(DataRootUnusable, match=r"inmemfs.*symbolic link"):
        store.open()
    assert fake_mounter.calls == []
    assert (data_root / "inmemfs").is_symlink()
    assert store.ready() is not None


def test_inmemfs_that_is_a_file_is_refused(tmp_path: Path, fake_mounter: FakeMounter) -> None:
    data_root = tmp_path / "data"
    data_root.mkdir()
    (data_root / "inmemfs").write_text("x")
    with pytest.raises(DataRootUnusable, match="not a directory"):
        Store(data_root=data_root, mounter=fake_mounter, owner=CSI_OWNER).open()
    assert fake_mounter.calls == []


def test_a_second_store_on_the_same_data_root_is_refused(tmp_path: Path, fake_mounter: FakeMounter) -> None:
    first = Store(data_root=tmp_path / "data", mounter=fake_mounter, owner=CSI_OWNER)
    first.open()
    second = Store(data_root=tmp_path / "data", mounter=FakeMounter(), owner=CSI_OWNER)
    with pytest.raises(DataRootInUse) as caught:
        second.open()
    message = str(caught.value)
    assert str(tmp_path / "data") in message and f"pid {os.getpid()}" in message and "--data-root" in message
    first.close()
    second.open()
    second.close()


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    """kill -9 releases the lock (the kernel drops it with the process): a restart after a crash starts."""
    data_root = tmp_path / "data"
    holder = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from certcsi.volumes.mount import FakeMounter
        from certcsi.volumes.owning import Owner
        from certcsi.volumes.store import Store
        Store(data_root=Path({str(data_root)!r}), mounter=FakeMounter(), owner=Owner("csi.cert-manager.io")).open()
        print("locked", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(DataRootInUse, match=f"pid {proc.pid}"):
            Store(data_root=data_root, mounter=FakeMounter(), owner=CSI_OWNER).open()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    store = Store(data_root=data_root, mounter=FakeMounter(), owner=CSI_OWNER)
    store.open()
    store.close()
