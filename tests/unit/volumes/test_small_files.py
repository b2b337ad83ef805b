"""read_small_file: a whole file in three system calls, a missing one as None, a limit kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certcsi.volumes.smallfiles import CHUNK, read_small_file


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert read_small_file(tmp_path / "absent") is None


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7])
def test_whole_content_whatever_the_size(tmp_path: Path, size: int) -> None:
    content = os.urandom(size)
    (tmp_path / "f").write_bytes(content)
    assert read_small_file(tmp_path / "f") == content


@pytest.mark.parametrize("size", [0, 9, 10, 11, CHUNK + 5])
def test_limit_reads_one_byte_past_it_at_most(tmp_path: Path, size: int) -> None:
    content = os.urandom(size)
    (tmp_path / "f").write_bytes(content)
    assert read_small_file(tmp_path / "f", limit=10) == content[:11]


def test_a_fifo_without_a_writer_reads_empty_instead_of_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    assert read_small_file(tmp_path / "fifo") == b""


def test_a_directory_fails(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_small_file(tmp_path)
