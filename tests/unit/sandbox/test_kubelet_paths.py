"""kubelet's on-disk layout and names for inline CSI volumes, and its careful cleanup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certcsi.sandbox.kubelet import paths

UID = "d2b9b7c4-1f0e-4c6c-9d1e-3a5c1e2f4b6a"


def test_volume_id_is_sha256_of_uid_then_name() -> None:
    # printf '%s' "<uid>tls" | sha256sum
    expected = "csi-ade9aa7b7c0e01348debf3af8c607e823b10fa8e664580279d0914659105cace"
    assert paths.volume_id(UID, "tls") == expected
    assert len(expected) == 68


def test_attachment_id_hashes_handle_driver_and_node() -> None:
    handle = "csi-0f41ab2d3ea1f8d0d2c1d79dbb0d2d6cb9e7a5ab7c2dd7d9d0e7d9f3b0c6a1b2"
    expected = "csi-6d35af839d090acb9ecaabd8ed0ef3c71e9ba4a9b4b0d08583045cf97fd3336e"
    assert paths.attachment_id(handle, "csi.cert-manager.io", "test-node") == expected


def test_target_path_layout() -> None:
    root = Path("/var/lib/kubelet")
    assert paths.target_path(root, UID, "tls") == Path(
        f"/var/lib/kubelet/pods/{UID}/volumes/kubernetes.io~csi/tls/mount"
    )


def test_prepare_writes_vol_data_beside_the_target(tmp_path: Path) -> None:
    target = paths.target_path(tmp_path, UID, "tls")
    data = paths.vol_data(volume_name="tls", volume_handle="csi-x", driver_name="d", node_name="n")
    paths.prepare_volume_dir(target, data)
    assert not target.exists()  # creating the target itself is the driver's job
    assert json.loads((target.parent / "vol_data.json").read_text()) == data
    assert paths.read_vol_data(target.parent) == data
    assert set(data) == {"specVolID", "volumeHandle", "driverName", "nodeName", "attachmentID", "volumeLifecycleMode"}


def test_remove_mount_dir_removes_empty_target_data_and_volume_dir(tmp_path: Path) -> None:
    target = paths.target_path(tmp_path, UID, "tls")
    paths.prepare_volume_dir(target, {"k": "v"})
    target.mkdir()
    paths.remove_mount_dir(target)
    assert not target.parent.exists()
    paths.remove_mount_dir(target)  # idempotent


def test_remove_mount_dir_refuses_a_target_with_files(tmp_path: Path) -> None:
    target = paths.target_path(tmp_path, UID, "tls")
    target.mkdir(parents=True)
    (target / "tls.key").write_text("left behind by the driver")
    with pytest.raises(paths.StillMounted):
        paths.remove_mount_dir(target)
    assert (target / "tls.key").exists()


def test_remove_mount_dir_unlinks_a_symlink_without_following_it(tmp_path: Path) -> None:
    data = tmp_path / "driver-data"
    data.mkdir()
    (data / "tls.crt").write_text("cert")
    target = paths.target_path(tmp_path, UID, "tls")
    target.parent.mkdir(parents=True)
    target.symlink_to(data)
    paths.remove_mount_dir(target)
    assert not target.parent.exists()
    assert (data / "tls.crt").read_text() == "cert"


def test_remove_pod_dir_does_not_follow_symlinks(tmp_path: Path) -> None:
    data = tmp_path / "driver-data"
    data.mkdir()
    (data / "tls.crt").write_text("cert")
    target = paths.target_path(tmp_path, UID, "tls")
    target.parent.mkdir(parents=True)
    target.symlink_to(data)
    paths.remove_pod_dir(paths.pod_dir(tmp_path, UID))
    assert not paths.pod_dir(tmp_path, UID).exists()
    assert (data / "tls.crt").read_text() == "cert"
    paths.remove_pod_dir(paths.pod_dir(tmp_path, UID))  # already gone: fine
