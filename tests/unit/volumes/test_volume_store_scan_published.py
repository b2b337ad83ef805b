"""Store.open() keeps a never-issued volume that is still mounted (--continue-on-not-ready), not others."""

from __future__ import annotations

from pathlib import Path

from certcsi.volumes.mount import FakeMount, FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import Metadata, Store

CSI_OWNER = Owner("csi.cert-manager.io")


def test_a_mounted_volume_without_a_certificate_yet_survives_a_restart(tmp_path: Path) -> None:
    mounter = FakeMounter()
    store = Store(data_root=tmp_path / "root", mounter=mounter, owner=CSI_OWNER)
    store.open()
    for volume_id in ("waiting", "leftover", "elsewhere"):
        store.write_metadata(Metadata(volume_id=volume_id, target_path=str(tmp_path / volume_id)))
    mounter.bind_readonly(store.data_dir("waiting"), tmp_path / "waiting")
    # A bind of something else at the target does not make the volume published.
    mounter.bind_readonly(store.data_dir("waiting"), tmp_path / "elsewhere")
    store.close()

    scan = Store(data_root=tmp_path / "root", mounter=mounter, owner=CSI_OWNER).open()

    assert [m.volume_id for m in scan.volumes] == ["waiting"]
    assert sorted((r.volume_id, r.reason) for r in scan.removed) == [
        ("elsewhere", "never issued"),
        ("leftover", "never issued"),
    ]


def test_a_writable_bind_left_by_upstreams_driver_keeps_the_volume(tmp_path: Path) -> None:
    # csi-lib's bind is not nosuid/nodev/noexec, and a crash can leave one writable: the pod has the
    # volume all the same, so the scan must not delete what it shows (republish hardens the bind later).
    mounter = FakeMounter()
    store = Store(data_root=tmp_path / "root", mounter=mounter, owner=CSI_OWNER)
    store.open()
    store.write_metadata(Metadata(volume_id="go-published", target_path=str(tmp_path / "target")))
    (tmp_path / "target").mkdir()
    mounter.mounts[str(tmp_path / "target")] = FakeMount(
        kind="bind", source=str(store.data_dir("go-published")), read_only=False
    )
    store.close()

    scan = Store(data_root=tmp_path / "root", mounter=mounter, owner=CSI_OWNER).open()

    assert [m.volume_id for m in scan.volumes] == ["go-published"]
    assert not scan.removed
