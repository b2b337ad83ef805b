"""write_files lays files out like kubelet's AtomicWriter: hidden snapshot, ..data swap, visible links."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from certcsi.volumes.store import Metadata, Store

GROUP = 4242


@pytest.fixture
def vol(store: Store) -> Path:
    store.write_metadata(Metadata(volume_id="vol", target_path="/t"))
    return store.data_dir("vol")


def _snapshots(data: Path) -> list[str]:
    return sorted(n for n in os.listdir(data) if n.startswith("..") and n != "..data")


def test_layout_after_first_write(store: Store, vol: Path) -> None:
    store.write_files("vol", {"tls.crt": b"CERT", "tls.key": b"KEY"}, fs_group=None)
    [snap] = _snapshots(vol)
    assert snap.startswith("..") and len(snap.split(".")) == 4  # ..<UTC time>.<random>
    assert os.readlink(vol / "..data") == snap
    assert os.readlink(vol / "tls.crt") == "..data/tls.crt"
    assert (vol / "tls.key").read_bytes() == b"KEY"
    assert stat.S_IMODE(os.stat(vol / "tls.crt").st_mode) == 0o440
    assert stat.S_IMODE(os.stat(vol / snap).st_mode) == 0o550
    assert store.list_files("vol") == ["tls.crt", "tls.key"]
    assert store.read_file("vol", "tls.crt") == b"CERT"
    assert store.read_file("vol", "ca.crt") is None


def test_fs_group_owns_directory_and_files(store: Store, vol: Path) -> None:
    store.write_files("vol", {"tls.crt": b"CERT"}, fs_group=GROUP)
    for path in (vol, vol / "..data", vol / "tls.crt"):
        assert os.stat(path).st_gid == GROUP
    assert stat.S_IMODE(os.stat(vol).st_mode) == 0o550


def test_without_fs_group_files_keep_our_group(store: Store, vol: Path) -> None:
    store.write_files("vol", {"tls.crt": b"CERT"}, fs_group=None)
    assert os.stat(vol / "tls.crt").st_gid == os.getegid()


def test_second_write_swaps_and_keeps_only_the_previous_snapshot(store: Store, vol: Path) -> None:
    store.write_files("vol", {"tls.crt": b"1", "tls.key": b"1", "old.txt": b"1"}, fs_group=None)
    [first] = _snapshots(vol)
    store.write_files("vol", {"tls.crt": b"2", "tls.key": b"2", "ca.crt": b"2"}, fs_group=None)
    second = os.readlink(vol / "..data")
    assert sorted(_snapshots(vol)) == sorted([first, second])  # a reader of the old pair still finds it
    assert sorted(os.listdir(vol)) == sorted(["..data", first, second, "ca.crt", "tls.crt", "tls.key"])
    assert (vol / "tls.crt").read_bytes() == b"2"
    assert (vol / "ca.crt").read_bytes() == b"2"
    store.write_files("vol", {"tls.crt": b"3"}, fs_group=None)
    assert sorted(_snapshots(vol)) == sorted([second, os.readlink(vol / "..data")])


def test_leftovers_of_a_crashed_write_are_cleaned(store: Store, vol: Path) -> None:
    store.write_files("vol", {"tls.crt": b"1"}, fs_group=None)
    (vol / "..2000_01_01_00_00_00.crashed").mkdir()
    (vol / "..data_tmp").symlink_to("..2000_01_01_00_00_00.crashed")
    store.write_files("vol", {"tls.crt": b"2"}, fs_group=None)
    assert len(_snapshots(vol)) == 2  # the current and the one it replaced; the crashed one is gone
    assert not (vol / "..2000_01_01_00_00_00.crashed").exists()
    assert not os.path.lexists(vol / "..data_tmp")


def test_a_stray_regular_file_is_replaced_by_the_link(store: Store, vol: Path) -> None:
    os.chmod(vol, 0o750)
    (vol / "tls.crt").write_bytes(b"stray")
    store.write_files("vol", {"tls.crt": b"real"}, fs_group=None)
    assert os.readlink(vol / "tls.crt") == "..data/tls.crt"
    assert (vol / "tls.crt").read_bytes() == b"real"


@pytest.mark.parametrize("name", ["", ".", "..", "..data", "..hidden", "a/b", "nul\0", "x" * 256])
def test_unsafe_file_names_rejected_before_writing(store: Store, vol: Path, name: str) -> None:
    with pytest.raises(ValueError, match="file name"):
        store.write_files("vol", {"tls.crt": b"ok", name: b"bad"}, fs_group=None)
    assert os.listdir(vol) == []


def test_unregistered_volume_refused(store: Store) -> None:
    with pytest.raises(FileNotFoundError, match="write_metadata first"):
        store.write_files("ghost", {"tls.crt": b"x"}, fs_group=None)


def test_empty_file_set_publishes_nothing_visible(store: Store, vol: Path) -> None:
    store.write_files("vol", {"tls.crt": b"1"}, fs_group=None)
    store.write_files("vol", {}, fs_group=None)
    assert store.list_files("vol") == []
