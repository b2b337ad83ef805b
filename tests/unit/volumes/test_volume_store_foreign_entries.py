"""A driver's own entry in a data directory (a unix socket) is no published file: never listed, never removed."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from certcsi.volumes.driver import Volume
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.rewrite import rewrite_file
from certcsi.volumes.store import DATA_LINK, Metadata, Store

CSI_OWNER = Owner("csi.cert-manager.io")


def _store_with_volume(tmp_path: Path) -> Store:
    store = Store(data_root=tmp_path / "root", mounter=FakeMounter(), owner=CSI_OWNER)
    store.open()
    store.write_metadata(Metadata(volume_id="vol", target_path="/t"))
    store.write_files("vol", {"tls.crt": b"CERT", "tls.key": b"KEY"}, fs_group=None)
    return store


def _listening_socket(path: Path) -> socket.socket:
    # Bound through /proc/self/fd: pytest's tmp_path can be longer than a socket path may be.
    directory = os.open(path.parent, os.O_PATH)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(f"/proc/self/fd/{directory}/{path.name}")
    finally:
        os.close(directory)
    listener.listen()
    return listener


def _no_group(volume: Volume) -> int | None:
    return None


def test_a_socket_is_not_a_published_file_and_survives_every_swap(tmp_path: Path) -> None:
    store = _store_with_volume(tmp_path)
    sock_path = store.data_dir("vol") / "spiffe.sock"
    with _listening_socket(sock_path):
        assert store.list_files("vol") == ["tls.crt", "tls.key"]
        before = os.readlink(store.data_dir("vol") / DATA_LINK)
        store.write_files("vol", {"tls.crt": b"CERT2", "tls.key": b"KEY2"}, fs_group=None)
        store.write_files("vol", {"tls.crt": b"CERT3", "tls.key": b"KEY3", "ca.crt": b"CA"}, fs_group=None)
        assert os.readlink(store.data_dir("vol") / DATA_LINK) != before
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
        assert store.list_files("vol") == ["ca.crt", "tls.crt", "tls.key"]


def test_rewriting_one_file_reads_only_the_published_ones(tmp_path: Path) -> None:
    """Reading a socket fails (ENXIO): the CA-bundle rewrite must not try, or every such volume would fail."""
    store = _store_with_volume(tmp_path)
    with _listening_socket(store.data_dir("vol") / "spiffe.sock"):
        report = rewrite_file(store, name="ca.crt", content=b"CA", fs_group=_no_group)
        assert (report.rewritten, report.failed) == (("vol",), ())
        assert store.read_file("vol", "ca.crt") == b"CA"
        assert store.read_file("vol", "tls.key") == b"KEY"
        assert stat.S_ISSOCK(os.lstat(store.data_dir("vol") / "spiffe.sock").st_mode)


def test_a_plain_file_a_driver_left_is_not_listed_either(tmp_path: Path) -> None:
    store = _store_with_volume(tmp_path)
    (store.data_dir("vol") / "notes").write_bytes(b"x")
    assert store.list_files("vol") == ["tls.crt", "tls.key"]
