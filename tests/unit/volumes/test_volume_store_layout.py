"""The store's directory layout, modes and metadata writes (csi-lib's layout)."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certcsi.errors import InvalidVolume
from certcsi.volumes.store import Metadata, Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _meta(volume_id: str = "vol-1", **kw: object) -> Metadata:
    return Metadata(volume_id=volume_id, target_path=f"/pods/{volume_id}/mount", **kw)  # type: ignore[arg-type]


def test_write_metadata_lays_out_volume(store: Store) -> None:
    store.write_metadata(_meta())
    vdir = store.root / "vol-1"
    assert (vdir / "metadata.json").read_text() == _meta().to_json()
    assert _mode(vdir / "metadata.json") == 0o600
    assert _mode(vdir / "data") == 0o550
    assert store.data_dir("vol-1") == vdir / "data"
    assert sorted(os.listdir(vdir)) == ["data", "driver.json", "metadata.json"]  # no temp file left behind
    assert json.loads((vdir / "driver.json").read_text()) == {"driverName": "csi.cert-manager.io"}


def test_rewrite_replaces_whole_file(store: Store) -> None:
    store.write_metadata(_meta(volume_context={"a": "1" * 500}))
    later = _meta(next_issuance_time=datetime(2030, 1, 1, tzinfo=UTC))
    store.write_metadata(later)
    assert store.read_metadata("vol-1") == later
    assert sorted(os.listdir(store.root / "vol-1")) == ["data", "driver.json", "metadata.json"]


def test_rewrite_is_a_rename_not_an_overwrite(store: Store) -> None:
    store.write_metadata(_meta())
    before = os.stat(store.root / "vol-1" / "metadata.json").st_ino
    store.write_metadata(_meta(volume_context={"x": "y"}))
    assert os.stat(store.root / "vol-1" / "metadata.json").st_ino != before


def test_token_never_reaches_disk(store: Store) -> None:
    meta = _meta(volume_context={"csi.storage.k8s.io/serviceAccount.tokens": '{"":{"token":"tok-VALUE-123"}}'})
    with pytest.raises(ValueError, match=r"serviceAccount\.tokens") as info:
        store.write_metadata(meta)
    assert "tok-VALUE-123" not in str(info.value)
    assert not (store.root / "vol-1").exists()


def test_read_metadata_missing_is_none(store: Store) -> None:
    assert store.read_metadata("nope") is None


def test_remove_volume_is_idempotent(store: Store) -> None:
    store.write_metadata(_meta())
    store.write_files("vol-1", {"tls.crt": b"x"}, fs_group=None)
    store.remove_volume("vol-1")
    assert not (store.root / "vol-1").exists()
    store.remove_volume("vol-1")


def test_list_volume_ids(store: Store) -> None:
    for vid in ("b", "a", "c"):
        store.write_metadata(_meta(vid))
    assert store.list_volume_ids() == ["a", "b", "c"]


@pytest.mark.parametrize(
    "bad",
    ["", ".", "..", "a/b", "../etc", "/abs", "nul\0byte", "x" * 129, "é" * 65],
)
def test_unsafe_volume_ids_rejected(store: Store, bad: str) -> None:
    for call in (store.data_dir, store.remove_volume, store.read_metadata):
        with pytest.raises(InvalidVolume, match="volume_id"):
            call(bad)
    with pytest.raises(InvalidVolume, match="volume_id"):
        store.write_metadata(_meta(bad))
    assert os.listdir(store.root) == []


def test_longest_allowed_volume_id(store: Store) -> None:
    vid = "csi-" + "a" * 124
    store.write_metadata(_meta(vid))
    assert store.list_volume_ids() == [vid]
