"""rewrite_file: one file replaced in every volume's set, the rest kept, each volume on its own."""

from __future__ import annotations

import os
from pathlib import Path

from bundle_support import BUNDLE_A, BUNDLE_B, CA_FILE, add_volume, issued_files, no_group, open_store

from certcsi.volumes.driver import Volume
from certcsi.volumes.rewrite import rewrite_file
from certcsi.volumes.store import DATA_LINK, Metadata


def test_only_the_named_file_changes_and_the_swap_is_one_new_snapshot(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    add_volume(store, "vol-1", issued_files("vol-1", BUNDLE_A))
    before = os.readlink(store.data_dir("vol-1") / DATA_LINK)
    report = rewrite_file(store, name=CA_FILE, content=BUNDLE_B, fs_group=no_group)
    assert report.rewritten == ("vol-1",)
    assert os.readlink(store.data_dir("vol-1") / DATA_LINK) != before
    assert {name: store.read_file("vol-1", name) for name in store.list_files("vol-1")} == issued_files(
        "vol-1", BUNDLE_B
    )


def test_volumes_without_files_are_skipped_and_equal_ones_left_alone(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    add_volume(store, "pending", {})
    add_volume(store, "current", issued_files("current", BUNDLE_B))
    snapshot = os.readlink(store.data_dir("current") / DATA_LINK)
    report = rewrite_file(store, name=CA_FILE, content=BUNDLE_B, fs_group=no_group)
    assert (report.skipped, report.unchanged, report.rewritten) == (("pending",), ("current",), ())
    assert store.list_files("pending") == []
    assert os.readlink(store.data_dir("current") / DATA_LINK) == snapshot


def test_a_failing_volume_does_not_stop_the_others(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    for volume_id in ("vol-a", "vol-b", "vol-c"):
        add_volume(store, volume_id, issued_files(volume_id, BUNDLE_A))

    def fs_group(volume: Volume) -> int | None:
        if volume.volume_id == "vol-b":
            raise OSError(28, "No space left on device")
        return None

    report = rewrite_file(store, name=CA_FILE, content=BUNDLE_B, fs_group=fs_group)
    assert report.rewritten == ("vol-a", "vol-c")
    assert report.failed == (("vol-b", "OSError: [Errno 28] No space left on device"),)
    assert store.read_file("vol-b", CA_FILE) == BUNDLE_A
    assert store.read_file("vol-c", CA_FILE) == BUNDLE_B


def test_the_volume_keeps_its_group(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    group = os.getegid() if os.geteuid() != 0 else 4242
    add_volume(store, "vol-1", {})
    store.write_files("vol-1", issued_files("vol-1", BUNDLE_A), fs_group=group)
    seen: list[Volume] = []

    def fs_group(volume: Volume) -> int | None:
        seen.append(volume)
        return group

    rewrite_file(store, name=CA_FILE, content=BUNDLE_B, fs_group=fs_group)
    assert [v.volume_id for v in seen] == ["vol-1"]
    assert os.stat(store.data_dir("vol-1") / CA_FILE).st_gid == group
    assert os.stat(store.data_dir("vol-1") / "tls.key").st_gid == group


def test_the_driver_sees_the_volume_as_its_metadata_describes_it(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.write_metadata(
        Metadata(
            volume_id="vol-1",
            target_path="/pods/1/mount",
            volume_context={"spiffe.csi.cert-manager.io/fs-group": "3000"},
            volume_mount_group="2000",
        )
    )
    store.write_files("vol-1", issued_files("vol-1", BUNDLE_A), fs_group=None)
    seen: list[Volume] = []

    def fs_group(volume: Volume) -> int | None:
        seen.append(volume)
        return None

    rewrite_file(store, name=CA_FILE, content=BUNDLE_B, fs_group=fs_group)
    [volume] = seen
    assert volume.attributes == {"spiffe.csi.cert-manager.io/fs-group": "3000"}
    assert (volume.mount_group, volume.target_path) == (2000, "/pods/1/mount")
