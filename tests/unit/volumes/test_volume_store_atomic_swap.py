"""A reader racing 200 writes never sees a certificate from one write and a key from another."""

from __future__ import annotations

import os
import threading

from certcsi.volumes.store import Metadata, Store

SWAPS = 200
PAD = b"." * 8192  # large enough that a torn write would be visible as a short or mixed file


def _content(kind: bytes, gen: int) -> bytes:
    marker = b"gen=%06d;" % gen
    return kind + marker + PAD + marker


def _generation(blob: bytes) -> int:
    head = blob.index(b"gen=")
    marker = blob[head : head + 11]
    assert blob.endswith(marker), "file is torn: its two markers differ"
    return int(marker[4:10])


def test_reader_never_mixes_generations(store: Store) -> None:
    store.write_metadata(Metadata(volume_id="v", target_path="/t"))
    data = store.data_dir("v")
    store.write_files("v", {"tls.crt": _content(b"C", 0), "tls.key": _content(b"K", 0)}, fs_group=None)
    stop = threading.Event()
    pairs: list[tuple[int, int]] = []
    singles: list[int] = []
    errors: list[BaseException] = []

    def read_through_data_dir() -> None:
        # Resolve ..data once, then read both files relative to it: one snapshot, by construction.
        while not stop.is_set():
            try:
                fd = os.open(data / "..data", os.O_RDONLY | os.O_DIRECTORY)
                try:
                    crt = _read_at(fd, "tls.crt")
                    key = _read_at(fd, "tls.key")
                finally:
                    os.close(fd)
                pairs.append((_generation(crt), _generation(key)))
            except FileNotFoundError:
                continue  # the snapshot was retired between resolving and reading: retry
            except BaseException as e:
                errors.append(e)
                return

    def read_visible_names() -> None:
        while not stop.is_set():
            try:
                singles.append(_generation((data / "tls.crt").read_bytes()))
            except FileNotFoundError:
                continue
            except BaseException as e:
                errors.append(e)
                return

    readers = [threading.Thread(target=read_through_data_dir), threading.Thread(target=read_visible_names)]
    for t in readers:
        t.start()
    try:
        for gen in range(1, SWAPS + 1):
            store.write_files("v", {"tls.crt": _content(b"C", gen), "tls.key": _content(b"K", gen)}, fs_group=None)
    finally:
        stop.set()
        for t in readers:
            t.join()

    assert not errors, errors
    assert pairs and singles
    mixed = [p for p in pairs if p[0] != p[1]]
    assert mixed == []
    assert len({p[0] for p in pairs}) > 1, "the reader never overlapped a swap; the test proves nothing"
    assert singles == sorted(singles), "a reader went back in time"
    assert store.read_file("v", "tls.key") == _content(b"K", SWAPS)


def _read_at(dir_fd: int, name: str) -> bytes:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
