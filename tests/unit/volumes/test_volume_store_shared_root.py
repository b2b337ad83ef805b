"""Two drivers share one data root (both upstream charts default to the same one): each store opens,
lists, cleans and deletes only its own driver's volumes, and two stores of the same driver still exclude
each other.

Volumes the Go drivers wrote carry no record of certcsi's: kubelet's vol_data.json beside the target
decides, else the csi.cert-manager.io driver's required issuer-name attribute; what nothing places is
left alone by both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from csi_lib_format import write_go_volume, write_vol_data

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.drivers.spiffe import RuntimeIssuer, SpiffeDriver
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.rewrite import rewrite_file
from certcsi.volumes.store import DataRootInUse, Metadata, Store

CSI = Owner.of(CertManagerDriver())
SPIFFE = Owner.of(SpiffeDriver(issuer=RuntimeIssuer(None)))
ISSUED = datetime(2030, 1, 1, tzinfo=UTC)
WRITTEN = datetime(2026, 1, 1, tzinfo=UTC)
POD = {"csi.storage.k8s.io/pod.name": "p", "csi.storage.k8s.io/pod.namespace": "ns", "csi.storage.k8s.io/pod.uid": "u"}
CSI_ATTRIBUTES = {**POD, "csi.cert-manager.io/issuer-name": "ca"}


def _store(root: Path, mounter: FakeMounter, owner: Owner) -> Store:
    return Store(data_root=root, mounter=mounter, owner=owner)


def _both_open(data_root: Path) -> tuple[FakeMounter, Store, Store]:
    """Both drivers' stores opened on one data root, as a node running both charts has them."""
    mounter = FakeMounter()
    csi, spiffe = _store(data_root, mounter, CSI), _store(data_root, mounter, SPIFFE)
    csi.open()
    spiffe.open()
    return mounter, csi, spiffe


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every file, link and directory under `root` with its content (a link: its target)."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        found[key] = os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else "dir"
    return found


def _volume(store: Store, volume_id: str, context: Mapping[str, str], *, issued: bool = True) -> None:
    when = ISSUED if issued else None
    store.write_metadata(Metadata(volume_id=volume_id, target_path=f"/pods/{volume_id}/mount", volume_context=context))
    if issued:
        store.write_files(volume_id, {"tls.crt": volume_id.encode(), "tls.key": b"k"}, fs_group=None)
        store.write_metadata(
            Metadata(
                volume_id=volume_id,
                target_path=f"/pods/{volume_id}/mount",
                next_issuance_time=when,
                volume_context=context,
            )
        )


def test_two_drivers_open_the_same_data_root_and_a_second_of_one_driver_is_refused(tmp_path: Path) -> None:
    mounter, _csi, _spiffe = _both_open(tmp_path / "data")
    with pytest.raises(DataRootInUse, match=r"in use by another spiffe\.csi\.cert-manager\.io driver"):
        _store(tmp_path / "data", mounter, SPIFFE).open()
    assert [c for c in mounter.calls if c[0] == "mount_tmpfs"] == [("mount_tmpfs", str(tmp_path / "data/inmemfs"))]
    assert sorted(p.name for p in (tmp_path / "data").glob("*.lock")) == [
        "certcsi-csi.cert-manager.io.lock",
        "certcsi-mount.lock",
        "certcsi-spiffe.csi.cert-manager.io.lock",
    ]


def test_each_store_keeps_only_its_volumes_and_never_cleans_the_others(tmp_path: Path) -> None:
    mounter, csi, spiffe = _both_open(tmp_path / "data")
    _volume(csi, "csi-issued", CSI_ATTRIBUTES)
    _volume(csi, "csi-never-issued", CSI_ATTRIBUTES, issued=False)
    _volume(spiffe, "spiffe-issued", POD)
    _volume(spiffe, "spiffe-never-issued", POD, issued=False)
    assert (csi.list_volume_ids(), spiffe.list_volume_ids()) == (
        ["csi-issued", "csi-never-issued"],
        ["spiffe-issued", "spiffe-never-issued"],
    )
    csi.close()
    spiffe_before = {k: v for k, v in _tree(csi.root).items() if k.startswith("spiffe-")}

    scan = _store(tmp_path / "data", mounter, CSI).open()  # the csi driver restarts; spiffe keeps serving

    assert [m.volume_id for m in scan.volumes] == ["csi-issued"]
    assert [(r.volume_id, r.reason) for r in scan.removed] == [("csi-never-issued", "never issued")]
    assert {(e.name, e.driver) for e in scan.left_alone} == {
        ("spiffe-issued", SPIFFE.name),
        ("spiffe-never-issued", SPIFFE.name),
    }
    assert {k: v for k, v in _tree(csi.root).items() if k.startswith("spiffe-")} == spiffe_before


def test_a_ca_bundle_rewrite_reaches_only_the_spiffe_driver_s_volumes(tmp_path: Path) -> None:
    _mounter, csi, spiffe = _both_open(tmp_path / "data")
    _volume(csi, "csi-1", CSI_ATTRIBUTES)
    _volume(spiffe, "spiffe-1", POD)
    report = rewrite_file(spiffe, name="ca.crt", content=b"BUNDLE", fs_group=lambda _v: None)
    assert report.rewritten == ("spiffe-1",)
    assert csi.list_files("csi-1") == ["tls.crt", "tls.key"]


def _go(root: Path, volume_id: str, context: Mapping[str, str], *, kubelet_says: str | None) -> str:
    """A volume the Go driver left, with vol_data.json naming `kubelet_says` (None: the pod's directory is gone)."""
    target = str(root / "kubelet/pods" / volume_id / "volumes/kubernetes.io~csi/tls/mount")
    write_go_volume(
        root / "data/inmemfs",
        volume_id=volume_id,
        target_path=target,
        next_issuance_time="2030-01-01T00:00:00Z",
        volume_context=context,
        files={"tls.crt": b"c", "tls.key": b"k"},
        written_at=WRITTEN,
    )
    if kubelet_says is not None:
        write_vol_data(target, volume_id=volume_id, driver_name=kubelet_says)
    return target


def test_go_written_volumes_are_placed_by_kubelet_s_record_then_by_the_issuer_attribute(tmp_path: Path) -> None:
    mounter = FakeMounter()
    mounter.mount_tmpfs(tmp_path / "data/inmemfs")
    _go(tmp_path, "go-csi", CSI_ATTRIBUTES, kubelet_says=CSI.name)
    _go(tmp_path, "go-spiffe", POD, kubelet_says=SPIFFE.name)
    # A csi.cert-manager.io-shaped context that kubelet says is another driver's: kubelet wins.
    _go(tmp_path, "go-other", CSI_ATTRIBUTES, kubelet_says="other.example.com")
    _go(tmp_path, "go-csi-orphan", CSI_ATTRIBUTES, kubelet_says=None)
    _go(tmp_path, "go-spiffe-orphan", POD, kubelet_says=None)
    untouched = {k: v for k, v in _tree(tmp_path / "data/inmemfs").items() if "orphan" in k and "spiffe" in k}

    csi = _store(tmp_path / "data", mounter, CSI).open()
    spiffe = _store(tmp_path / "data", mounter, SPIFFE).open()

    assert [m.volume_id for m in csi.volumes] == ["go-csi", "go-csi-orphan"]
    assert [m.volume_id for m in spiffe.volumes] == ["go-spiffe"]
    assert csi.removed == () and spiffe.removed == ()
    assert {(e.name, e.driver) for e in spiffe.left_alone} == {
        ("go-csi", CSI.name),  # adopted by the csi driver, which opened first: its record says so now
        ("go-csi-orphan", CSI.name),
        ("go-other", "other.example.com"),
        ("go-spiffe-orphan", None),
    }
    inmemfs = tmp_path / "data/inmemfs"
    owners = {
        name: json.loads((inmemfs / name / "driver.json").read_text())["driverName"]
        for name in os.listdir(inmemfs)
        if (inmemfs / name / "driver.json").exists()
    }
    assert owners == {"go-csi": CSI.name, "go-csi-orphan": CSI.name, "go-spiffe": SPIFFE.name}
    assert {k: v for k, v in _tree(inmemfs).items() if "orphan" in k and "spiffe" in k} == untouched


def test_kubelet_s_record_of_another_volume_proves_nothing(tmp_path: Path) -> None:
    mounter = FakeMounter()
    mounter.mount_tmpfs(tmp_path / "data/inmemfs")
    target = _go(tmp_path, "go-spiffe", POD, kubelet_says=None)
    write_vol_data(target, volume_id="a-different-volume", driver_name=SPIFFE.name)
    scan = _store(tmp_path / "data", mounter, SPIFFE).open()
    assert scan.volumes == () and [(e.name, e.driver) for e in scan.left_alone] == [("go-spiffe", None)]


def test_a_volume_kubelet_publishes_through_a_driver_is_that_driver_s(tmp_path: Path) -> None:
    """A never-placed Go volume published again through the spiffe driver: recorded as its own from then on."""
    mounter = FakeMounter()
    mounter.mount_tmpfs(tmp_path / "data/inmemfs")
    _go(tmp_path, "go-spiffe", POD, kubelet_says=None)
    store = _store(tmp_path / "data", mounter, SPIFFE)
    assert store.open().volumes == ()
    store.write_metadata(Metadata(volume_id="go-spiffe", target_path="/t", next_issuance_time=ISSUED))
    assert store.list_volume_ids() == ["go-spiffe"]
    store.close()
    assert [m.volume_id for m in _store(tmp_path / "data", mounter, SPIFFE).open().volumes] == ["go-spiffe"]


def test_a_driver_name_is_one_file_name_in_the_lock_s_name(tmp_path: Path) -> None:
    """A name with a slash (no valid CSI name has one) cannot reach outside the data root."""
    store = _store(tmp_path / "data", FakeMounter(), Owner("../escape/x"))
    store.open()
    assert sorted(p.name for p in (tmp_path / "data").glob("*.lock")) == [
        "certcsi-..%2Fescape%2Fx.lock",
        "certcsi-mount.lock",
    ]
    assert not (tmp_path / "escape").exists()
    with pytest.raises(ValueError, match="must not be empty"):
        Owner("")
