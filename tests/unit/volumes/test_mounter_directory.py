"""DirectoryMounter (--unsafe-no-mount): directories and symlinks, no privileges needed."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from certcsi.volumes.mount import DirectoryMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import Metadata, Store

CSI_OWNER = Owner("csi.cert-manager.io")


def test_store_works_on_plain_directories(tmp_path: Path) -> None:
    m = DirectoryMounter()
    store = Store(data_root=tmp_path / "root", mounter=m, owner=CSI_OWNER)
    store.open()
    assert store.ready() is None
    store.write_metadata(Metadata(volume_id="v", target_path=str(tmp_path / "target")))
    store.write_files("v", {"tls.crt": b"C"}, fs_group=None)
    m.bind_readonly(store.data_dir("v"), tmp_path / "target")
    assert (tmp_path / "target" / "tls.crt").read_bytes() == b"C"
    assert m.is_mount_point(tmp_path / "target")
    assert m.is_bind_of(tmp_path / "target", store.data_dir("v"))
    # A restarted driver finds its volumes again.
    store.close()
    assert [
        v.volume_id
        for v in Store(data_root=tmp_path / "root", mounter=DirectoryMounter(), owner=CSI_OWNER).open().volumes
    ] == ["v"]


def test_bind_replaces_an_empty_target_directory(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "t").mkdir()
    DirectoryMounter().bind_readonly(tmp_path / "src", tmp_path / "t")
    assert os.readlink(tmp_path / "t") == str(tmp_path / "src")


def test_bind_refuses_other_link_and_non_empty_dir(tmp_path: Path) -> None:
    m = DirectoryMounter()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    m.bind_readonly(tmp_path / "a", tmp_path / "t")
    m.bind_readonly(tmp_path / "a", tmp_path / "t")
    with pytest.raises(OSError) as info:
        m.bind_readonly(tmp_path / "b", tmp_path / "t")
    assert info.value.errno == errno.EBUSY
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(OSError) as info:
        m.bind_readonly(tmp_path / "a", tmp_path / "full")
    assert info.value.errno == errno.ENOTEMPTY


def test_unmount_removes_link_idempotently(tmp_path: Path) -> None:
    m = DirectoryMounter()
    (tmp_path / "a").mkdir()
    m.bind_readonly(tmp_path / "a", tmp_path / "t")
    m.unmount(tmp_path / "t", remove=True)
    m.unmount(tmp_path / "t", remove=True)
    assert not os.path.lexists(tmp_path / "t")
    assert (tmp_path / "a").is_dir()


def test_unbind_removes_only_its_own_link(tmp_path: Path) -> None:
    m = DirectoryMounter()
    (tmp_path / "src").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "theirs").symlink_to(tmp_path / "other")
    m.unbind(tmp_path / "src", tmp_path / "theirs")
    assert os.readlink(tmp_path / "theirs") == str(tmp_path / "other")
    with pytest.raises(OSError) as info:
        m.check_target(tmp_path / "src", tmp_path / "theirs")
    assert info.value.errno == errno.EBUSY
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError) as info:
        m.bind_readonly(tmp_path / "src", tmp_path / "file")
    assert info.value.errno == errno.ENOTDIR
    m.bind_readonly(tmp_path / "src", tmp_path / "ours")
    m.unbind(tmp_path / "src", tmp_path / "ours")
    m.unbind(tmp_path / "src", tmp_path / "ours")
    assert not os.path.lexists(tmp_path / "ours")
