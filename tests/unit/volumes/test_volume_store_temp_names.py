"""The store's own temp names (per-process tag + counter, no `tempfile`): crash leftovers, collisions, fork, umask."""

from __future__ import annotations

import itertools
import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certcsi.volumes import smallfiles
from certcsi.volumes import store as store_module
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import Metadata, Store

CSI_OWNER = Owner("csi.cert-manager.io")
ISSUED = datetime(2030, 1, 1, tzinfo=UTC)

# A child process that dies (like kill -9) between writing metadata.json's temp file and renaming it.
_CRASH_BEFORE_RENAME = """
import os, sys
from certcsi.volumes import smallfiles
os.rename = lambda *args: os._exit(9)
smallfiles.replace_small_file(sys.argv[1], "metadata.json", b'{"volumeID":"torn', durable=True)
"""


def _temps(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def _fixed_tag(monkeypatch: pytest.MonkeyPatch, tag: str = "T") -> None:
    monkeypatch.setattr(smallfiles, "_tag", tag)
    monkeypatch.setattr(smallfiles, "_serial", itertools.count())


def test_a_temp_file_left_by_a_crashed_process_is_removed_by_the_next_scan(tmp_path: Path) -> None:
    mounter = FakeMounter()
    first = Store(data_root=tmp_path, mounter=mounter, owner=CSI_OWNER)
    first.open()
    first.write_metadata(Metadata(volume_id="vol", target_path="/t", next_issuance_time=ISSUED))
    first.close()
    volume_dir = first.volume_dir("vol")
    child = subprocess.run([sys.executable, "-c", _CRASH_BEFORE_RENAME, str(volume_dir)], check=False)
    assert child.returncode == 9
    [leftover] = _temps(volume_dir)
    assert store_module._STALE_TEMP.fullmatch(leftover) and leftover.startswith(".metadata.json.")

    result = Store(data_root=tmp_path, mounter=mounter, owner=CSI_OWNER).open()

    assert [meta.next_issuance_time for meta in result.volumes] == [ISSUED]  # the old file, whole
    assert _temps(volume_dir) == []


def test_a_leftover_temp_file_with_the_next_name_is_skipped_not_an_error(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write_metadata(Metadata(volume_id="vol", target_path="/t"))
    _fixed_tag(monkeypatch)
    volume_dir = store.volume_dir("vol")
    for n in range(3):  # an earlier process with the same tag got this far
        (volume_dir / f".metadata.json.T-{n}.tmp").write_bytes(b"left")

    store.write_metadata(Metadata(volume_id="vol", target_path="/t", next_issuance_time=ISSUED))

    assert store.read_metadata("vol") == Metadata(volume_id="vol", target_path="/t", next_issuance_time=ISSUED)
    assert _temps(volume_dir) == [f".metadata.json.T-{n}.tmp" for n in range(3)]  # not ours to remove
    assert stat.S_IMODE(os.stat(volume_dir / "metadata.json").st_mode) == 0o600


def test_a_leftover_snapshot_with_the_next_name_is_skipped_and_cleaned(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write_metadata(Metadata(volume_id="vol", target_path="/t"))
    _fixed_tag(monkeypatch)
    data = store.data_dir("vol")
    now = int(time.time())
    stamps = {time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime(second)) for second in (now, now + 1)}
    for stamp in stamps:  # whichever second the write falls in, its first name is taken
        (data / f"..{stamp}.T-0").mkdir()
        (data / f"..{stamp}.T-0" / "tls.crt").write_bytes(b"OLD")

    store.write_files("vol", {"tls.crt": b"NEW"}, fs_group=None)

    snapshot = os.readlink(data / "..data")
    assert snapshot.endswith(".T-1")
    assert (data / "tls.crt").read_bytes() == b"NEW"
    assert sorted(n for n in os.listdir(data) if n.startswith("..")) == sorted(["..data", snapshot])


def test_a_forked_child_names_its_temp_files_apart_from_its_parent() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.write(write_end, smallfiles.unique_suffix().encode())
        os._exit(0)
    os.close(write_end)
    child_suffix = os.read(read_end, 100).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    parent_suffix = smallfiles.unique_suffix()
    assert child_suffix.rsplit("-", 1)[0] != parent_suffix.rsplit("-", 1)[0]
    assert child_suffix.startswith(str(pid))


def test_modes_are_exact_under_a_strict_umask(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_UMASK", 0o077)
    old = os.umask(0o077)
    try:
        store.write_metadata(Metadata(volume_id="vol", target_path="/t"))
        store.write_files("vol", {"tls.crt": b"C"}, fs_group=None)
    finally:
        os.umask(old)
    data = store.data_dir("vol")
    assert stat.S_IMODE(os.stat(data).st_mode) == store_module.DATA_DIR_MODE
    assert stat.S_IMODE(os.stat(data / "..data").st_mode) == 0o550
    assert stat.S_IMODE(os.stat(data / "tls.crt").st_mode) == 0o440
    assert stat.S_IMODE(os.stat(store.volume_dir("vol") / "metadata.json").st_mode) == 0o600


def test_the_umask_is_read_from_the_process() -> None:
    old = os.umask(0o027)
    try:
        assert store_module._current_umask() == 0o027
    finally:
        os.umask(old)
