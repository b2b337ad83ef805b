"""A plain bundle file rewritten in place (close-after-write) or replaced by rename (moved-in) is seen."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bundle_support import (
    BUNDLE_A,
    BUNDLE_B,
    BUNDLE_C,
    CA_FILE,
    add_volume,
    eventually,
    issued_files,
    no_group,
    open_store,
)

from certcsi.drivers.spiffe.bundle import BundleWatcher, CaBundle
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.store import Store


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Path, Store]]:
    path = tmp_path / "bundle" / "ca.pem"
    path.parent.mkdir()
    path.write_bytes(BUNDLE_A)
    store = open_store(tmp_path)
    add_volume(store, "vol-1", issued_files("vol-1", BUNDLE_A))
    bundle = CaBundle(path)
    bundle.load()
    watcher = BundleWatcher(bundle=bundle, store=store, ca_file=CA_FILE, fs_group=no_group, clock=FakeClock())
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.sleep(0.05)
    yield path, store
    stop.set()
    await asyncio.wait_for(task, 1)


async def test_in_place_write(setup: tuple[Path, Store]) -> None:
    path, store = setup
    with path.open("wb") as f:
        f.write(BUNDLE_B)
    await eventually(lambda: store.read_file("vol-1", CA_FILE) == BUNDLE_B, what="the in-place write")


async def test_rename_over(setup: tuple[Path, Store]) -> None:
    path, store = setup
    temp = path.with_name(".ca.pem.tmp")
    temp.write_bytes(BUNDLE_C)
    os.replace(temp, path)
    await eventually(lambda: store.read_file("vol-1", CA_FILE) == BUNDLE_C, what="the rename")


async def test_a_half_written_file_is_not_published(setup: tuple[Path, Store]) -> None:
    path, store = setup
    path.write_bytes(BUNDLE_B[:100])
    await asyncio.sleep(0.1)
    assert store.read_file("vol-1", CA_FILE) == BUNDLE_A
    path.write_bytes(BUNDLE_B)
    await eventually(lambda: store.read_file("vol-1", CA_FILE) == BUNDLE_B, what="the completed write")
