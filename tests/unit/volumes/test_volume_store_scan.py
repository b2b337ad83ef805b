"""Store.open(): mounts the tmpfs when needed and keeps only volumes that can be resumed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.store import Metadata, Store

ISSUED = datetime(2030, 1, 1, tzinfo=UTC)


def _new_store(tmp_path: Path, mounter: FakeMounter) -> Store:
    return Store(data_root=tmp_path / "root", mounter=mounter, tmpfs_size="16m")


def _populate(store: Store) -> None:
    store.write_metadata(Metadata(volume_id="issued", target_path="/t1", next_issuance_time=ISSUED))
    store.write_metadata(Metadata(volume_id="files-no-time", target_path="/t2"))
    store.write_files("files-no-time", {"tls.crt": b"c"}, fs_group=None)
    store.write_metadata(Metadata(volume_id="never-issued", target_path="/t3"))
    (store.root / "no-metadata" / "data").mkdir(parents=True)
    torn = store.root / "torn"
    torn.mkdir()
    (torn / "metadata.json").write_text('{"volumeID":"torn","targetPa')
    other = store.root / "renamed"
    other.mkdir()
    (other / "metadata.json").write_text('{"volumeID":"someone-else","targetPath":"/t"}')
    (store.root / "stray-file").write_text("x")
    (store.root / "issued" / ".metadata.json.abc.tmp").write_text("half")


def test_open_mounts_tmpfs_when_not_mounted(tmp_path: Path) -> None:
    mounter = FakeMounter()
    store = _new_store(tmp_path, mounter)
    assert store.ready() == "volume store not opened yet"
    store.open()
    root = str(tmp_path / "root" / "inmemfs")
    assert mounter.mounts[root].kind == "tmpfs"
    assert mounter.mounts[root].size == "16m"
    assert store.ready() is None


def test_open_does_not_mount_twice(tmp_path: Path) -> None:
    mounter = FakeMounter()
    first = _new_store(tmp_path, mounter)
    first.open()
    first.close()  # the driver before a restart ends, and its lock with it
    _new_store(tmp_path, mounter).open()
    assert [c for c in mounter.calls if c[0] == "mount_tmpfs"] == [("mount_tmpfs", str(tmp_path / "root" / "inmemfs"))]


def test_not_ready_when_tmpfs_disappears(tmp_path: Path) -> None:
    mounter = FakeMounter()
    store = _new_store(tmp_path, mounter)
    store.open()
    mounter.unmount(store.root)
    assert store.ready() == f"tmpfs is not mounted at {store.root}"


def test_scan_keeps_resumable_and_removes_the_rest(tmp_path: Path) -> None:
    mounter = FakeMounter()
    first = _new_store(tmp_path, mounter)
    first.open()
    _populate(first)
    first.close()

    result = _new_store(tmp_path, mounter).open()

    assert [m.volume_id for m in result.volumes] == ["files-no-time", "issued"]
    assert result.volumes[1].next_issuance_time == ISSUED
    reasons = {r.volume_id: r.reason for r in result.removed}
    assert reasons.keys() == {"never-issued", "no-metadata", "torn", "renamed", "stray-file"}
    assert reasons["never-issued"] == "never issued"
    assert reasons["no-metadata"] == "no metadata.json"
    assert reasons["torn"].startswith("unreadable metadata.json")
    assert reasons["renamed"] == "metadata.json names another volume"
    assert reasons["stray-file"] == "not a directory"
    assert sorted(os.listdir(first.root)) == ["files-no-time", "issued"]
    assert sorted(os.listdir(first.root / "issued")) == ["data", "metadata.json"]


def test_removed_never_issued_volume_reports_its_target(tmp_path: Path) -> None:
    mounter = FakeMounter()
    store = _new_store(tmp_path, mounter)
    store.open()
    store.write_metadata(Metadata(volume_id="v", target_path="/pods/x/mount"))
    store.close()
    removed = _new_store(tmp_path, mounter).open().removed
    assert removed[0].metadata is not None
    assert removed[0].metadata.target_path == "/pods/x/mount"


def test_symlinked_volume_dir_is_removed_not_followed(tmp_path: Path) -> None:
    mounter = FakeMounter()
    store = _new_store(tmp_path, mounter)
    store.open()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    (store.root / "link").symlink_to(outside)
    store.close()
    result = _new_store(tmp_path, mounter).open()
    assert [r.volume_id for r in result.removed] == ["link"]
    assert (outside / "keep").read_text() == "precious"


def test_empty_root_scans_clean(tmp_path: Path) -> None:
    result = _new_store(tmp_path, FakeMounter()).open()
    assert result.volumes == ()
    assert result.removed == ()
