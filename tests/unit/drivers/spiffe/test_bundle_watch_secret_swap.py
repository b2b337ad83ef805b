"""A mounted Secret's `..data` symlink swap is seen through inotify, and every volume gets the new CA file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bundle_support import (
    BUNDLE_A,
    BUNDLE_B,
    BUNDLE_C,
    CA_FILE,
    SecretDir,
    add_volume,
    eventually,
    issued_files,
    no_group,
    open_store,
)

from certcsi.drivers.spiffe.bundle import BundleWatcher, CaBundle
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.store import Store

VOLUMES = ("vol-1", "vol-2")


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[SecretDir, Store, FakeClock]]:
    secret = SecretDir(tmp_path / "secret", BUNDLE_A)
    store = open_store(tmp_path)
    for volume_id in VOLUMES:
        add_volume(store, volume_id, issued_files(volume_id, BUNDLE_A))
    bundle = CaBundle(secret.path)
    bundle.load()
    clock = FakeClock()
    watcher = BundleWatcher(bundle=bundle, store=store, ca_file=CA_FILE, fs_group=no_group, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.sleep(0.05)  # let it reach its first wait on inotify
    yield secret, store, clock
    stop.set()
    await asyncio.wait_for(task, 1)


def _all_have(store: Store, content: bytes) -> bool:
    return all(store.read_file(v, CA_FILE) == content for v in VOLUMES)


async def test_each_swap_reaches_every_volume_within_a_second(watched: tuple[SecretDir, Store, FakeClock]) -> None:
    secret, store, _ = watched
    secret.swap("..2026_b", BUNDLE_B)
    await eventually(lambda: _all_have(store, BUNDLE_B), timeout=1.0, what="the first swap")
    # By now the watcher is certainly parked on inotify: this one can only be seen through an event.
    secret.swap("..2026_c", BUNDLE_C)
    await eventually(lambda: _all_have(store, BUNDLE_C), timeout=1.0, what="the second swap")
    for volume_id in VOLUMES:
        files = {name: store.read_file(volume_id, name) for name in store.list_files(volume_id)}
        assert files == issued_files(volume_id, BUNDLE_C)


async def test_an_idle_watcher_sets_no_timer(watched: tuple[SecretDir, Store, FakeClock]) -> None:
    secret, store, clock = watched
    secret.swap("..2026_b", BUNDLE_B)
    await eventually(lambda: _all_have(store, BUNDLE_B), what="the swap")
    await asyncio.sleep(0.05)
    # Nothing to retry: the watcher waits on inotify alone, it does not poll.
    assert clock.pending_timers == 0
