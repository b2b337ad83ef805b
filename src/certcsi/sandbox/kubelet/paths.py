"""Where kubelet puts an inline CSI volume on disk, and how it names it, byte for byte.

    <root>/pods/<podUID>/volumes/kubernetes.io~csi/<volumeName>/mount           target_path
    <root>/pods/<podUID>/volumes/kubernetes.io~csi/<volumeName>/vol_data.json   written before publish

`volume_id` and `attachment_id` are kubelet's own hashes (makeVolumeHandle, getAttachmentName).
Cleanup never crosses a mount point: a volume still mounted after NodeUnpublishVolume is the
driver's bug, and deleting through it would destroy the driver's data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

PLUGIN_DIR = "kubernetes.io~csi"
VOL_DATA = "vol_data.json"
MOUNT = "mount"
DIR_MODE = 0o750


def volume_id(pod_uid: str, volume_name: str) -> str:
    """`csi-` + hex SHA-256 of pod UID followed directly by the volume name (no separator)."""
    return "csi-" + hashlib.sha256(f"{pod_uid}{volume_name}".encode()).hexdigest()


def attachment_id(volume_handle: str, driver_name: str, node_name: str) -> str:
    """The VolumeAttachment name kubelet records in vol_data.json (no attachment exists for inline volumes)."""
    return "csi-" + hashlib.sha256(f"{volume_handle}{driver_name}{node_name}".encode()).hexdigest()


def pod_dir(root: Path, pod_uid: str) -> Path:
    return root / "pods" / pod_uid


def volume_dir(root: Path, pod_uid: str, volume_name: str) -> Path:
    return pod_dir(root, pod_uid) / "volumes" / PLUGIN_DIR / volume_name


def target_path(root: Path, pod_uid: str, volume_name: str) -> Path:
    return volume_dir(root, pod_uid, volume_name) / MOUNT


def vol_data(*, volume_name: str, volume_handle: str, driver_name: str, node_name: str) -> dict[str, str]:
    """What kubelet persists for teardown; `specVolID` is the pod's volume name for inline volumes."""
    return {
        "specVolID": volume_name,
        "volumeHandle": volume_handle,
        "driverName": driver_name,
        "nodeName": node_name,
        "attachmentID": attachment_id(volume_handle, driver_name, node_name),
        "volumeLifecycleMode": "Ephemeral",
    }


def prepare_volume_dir(target: Path, data: Mapping[str, str]) -> None:
    """Create the target's parent (0750) and write vol_data.json in it, as kubelet does before publishing."""
    parent = target.parent
    parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    temporary = parent / f".{VOL_DATA}.tmp"
    temporary.write_text(json.dumps(dict(data), sort_keys=True))
    os.replace(temporary, parent / VOL_DATA)


def read_vol_data(volume_path: Path) -> dict[str, str] | None:
    """vol_data.json of one volume directory; None when missing or unreadable."""
    try:
        decoded = json.loads((volume_path / VOL_DATA).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(decoded, dict):
        return None
    return {str(key): str(value) for key, value in decoded.items()}


class StillMounted(Exception):
    """A path kubelet would delete is still a mount point, or holds files the driver left behind."""


def remove_mount_dir(target: Path) -> None:
    """kubelet's removeMountDir: remove the (empty, unmounted) target, vol_data.json and the volume dir.

    Raises StillMounted when the target is a mount point or not empty: the driver did not undo its publish.
    """
    if os.path.ismount(target):
        raise StillMounted(f"{target} is still a mount point")
    try:
        if target.is_symlink():
            target.unlink()
        else:
            target.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StillMounted(f"cannot remove {target}: {exc.strerror}") from None
    (target.parent / VOL_DATA).unlink(missing_ok=True)
    try:
        target.parent.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StillMounted(f"cannot remove {target.parent}: {exc.strerror}") from None


def remove_pod_dir(path: Path) -> None:
    """Delete a pod directory, refusing (StillMounted) if any directory beneath it is a mount point."""
    if not path.exists():
        return
    device = path.stat().st_dev
    for current, dirs, _files in os.walk(path):
        for name in dirs:
            child = Path(current) / name
            if child.is_symlink():
                continue
            if os.path.ismount(child) or child.stat().st_dev != device:
                raise StillMounted(f"{child} is still a mount point")
    shutil.rmtree(path)
