"""Store.open(): mounts the tmpfs when needed and keeps only volumes that can be resumed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import Metadata, Store, write_atomically

CSI_OWNER = Owner("csi.cert-manager.io")

ISSUED = datetime(2030, 1, 1, tzinfo=UTC)


def _new_store(tmp_path: Path, mounter: FakeMounter) -> Store:
    return Store(data_root=tmp_path / "root", mounter=mounter, owner=CSI_OWNER, tmpfs_size="16m")


def _ours(store: Store, name: str) -> Path:
    """A directory carrying this driver's record, as the store's own writes leave it."""
    path = store.root / name
    path.mkdir()
    (path / "driver.json").write_text('{"driverName":"csi.cert-manager.io"}')
    return path


def _populate(store: Store) -> None:
    store.write_metadata(Metadata(volume_id="issued", target_path="/t1", next_issuance_time=ISSUED))
    store.write_metadata(Metadata(volume_id="files-no-time", target_path="/t2"))
    store.write_files("files-no-time", {"tls.crt": b"c"}, fs_group=None)
    store.write_metadata(Metadata(volume_id="never-issued", target_path="/t3"))
    (_ours(store, "no-metadata") / "data").mkdir()
    (_ours(store, "torn") / "metadata.json").write_text('{"volumeID":"torn","targetPa')
    (_ours(store, "renamed") / "metadata.json").write_text('{"volumeID":"someone-else","targetPath":"/t"}')
    (store.root / "issued" / ".metadata.json.abc.tmp").write_text("half")


def _populate_unrecorded(store: Store) -> None:
    """The same broken shapes without a driver record, and a file: nobody can tell whose they are."""
    (store.root / "bare-no-metadata" / "data").mkdir(parents=True)
    (store.root / "bare-torn").mkdir()
    (store.root / "bare-torn" / "metadata.json").write_text('{"volumeID":"bare-torn","targetPa')
    (store.root / "bare-renamed").mkdir()
    (store.root / "bare-renamed" / "metadata.json").write_text('{"volumeID":"someone-else","targetPath":"/t"}')
    (store.root / "stray-file").write_text("x")


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
    assert reasons.keys() == {"never-issued", "no-metadata", "torn", "renamed"}
    assert reasons["never-issued"] == "never issued"
    assert reasons["no-metadata"] == "no metadata.json"
    assert reasons["torn"].startswith("unreadable metadata.json")
    assert reasons["renamed"] == "metadata.json names another volume"
    assert sorted(os.listdir(first.root)) == ["files-no-time", "issued"]
    assert sorted(os.listdir(first.root / "issued")) == ["data", "driver.json", "metadata.json"]


def test_what_carries_no_record_of_this_driver_is_left_as_it_is(tmp_path: Path) -> None:
    mounter = FakeMounter()
    first = _new_store(tmp_path, mounter)
    first.open()
    _populate_unrecorded(first)
    before = {p: p.read_bytes() for p in first.root.rglob("*") if p.is_file()}
    first.close()

    result = _new_store(tmp_path, mounter).open()

    assert result.volumes == () and result.removed == ()
    reasons = {e.name: e.reason for e in result.left_alone}
    assert reasons == {
        "bare-no-metadata": "no driver record and no metadata.json",
        "bare-torn": reasons["bare-torn"],
        "bare-renamed": "owner unknown",
        "stray-file": "not a volume directory",
    }
    assert reasons["bare-torn"].startswith("no driver record and unreadable metadata.json")
    assert {p: p.read_bytes() for p in first.root.rglob("*") if p.is_file()} == before
    assert not any((first.root / name / "driver.json").exists() for name in reasons if name != "stray-file")


def test_removed_never_issued_volume_reports_its_target(tmp_path: Path) -> None:
    mounter = FakeMounter()
    store = _new_store(tmp_path, mounter)
    store.open()
    store.write_metadata(Metadata(volume_id="v", target_path="/pods/x/mount"))
    store.close()
    removed = _new_store(tmp_path, mounter).open().removed
    assert removed[0].metadata is not None
    assert removed[0].metadata.target_path == "/pods/x/mount"


def test_symlinked_volume_dir_is_left_alone_not_followed(tmp_path: Path) -> None:
    mounter = FakeMounter()
    store = _new_store(tmp_path, mounter)
    store.open()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    (store.root / "link").symlink_to(outside)
    store.close()
    result = _new_store(tmp_path, mounter).open()
    assert result.removed == () and [e.name for e in result.left_alone] == ["link"]
    assert (outside / "keep").read_text() == "precious"
    assert sorted(os.listdir(outside)) == ["keep"]


def test_empty_root_scans_clean(tmp_path: Path) -> None:
    result = _new_store(tmp_path, FakeMounter()).open()
    assert result.volumes == ()
    assert result.removed == ()


def test_scan_removes_the_temp_files_of_every_atomic_write_a_crash_left(tmp_path: Path) -> None:
    # write_atomically's temp files (a driver's own file, e.g. the SPIFFE driver's issuer-ca.pem) as well as
    # metadata.json's; the files themselves and anything else stay.
    mounter = FakeMounter()
    store = _new_store(tmp_path, mounter)
    store.open()
    store.write_metadata(Metadata(volume_id="issued", target_path="/t1", next_issuance_time=ISSUED))
    volume = store.root / "issued"
    write_atomically(volume, "issuer-ca.pem", b"ca")
    for leftover in (".issuer-ca.pem.k2j4x9.tmp", ".metadata.json.abc.tmp", ".status.json.q1.tmp"):
        (volume / leftover).write_text("half")
    (volume / "notes.tmp").write_text("not ours to remove")
    store.close()
    _new_store(tmp_path, mounter).open()
    assert sorted(p.name for p in volume.iterdir() if p.name != "data") == [
        "driver.json",
        "issuer-ca.pem",
        "metadata.json",
        "notes.tmp",
    ]
