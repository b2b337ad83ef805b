"""At start the watcher brings volumes left with an older bundle up to date; stop ends it promptly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bundle_support import BUNDLE_A, BUNDLE_B, CA_FILE, add_volume, eventually, issued_files, no_group, open_store

from certcsi.drivers.spiffe.bundle import BundleWatcher, CaBundle
from certcsi.volumes.clock import FakeClock


async def test_volumes_from_before_a_restart_get_the_current_bundle(tmp_path: Path) -> None:
    path = tmp_path / "ca.crt"
    path.write_bytes(BUNDLE_B)
    store = open_store(tmp_path)
    add_volume(store, "old", issued_files("old", BUNDLE_A))
    add_volume(store, "no-ca-yet", {"tls.crt": b"CERT", "tls.key": b"KEY"})
    add_volume(store, "pending", {})
    bundle = CaBundle(path)
    bundle.load()
    watcher = BundleWatcher(bundle=bundle, store=store, ca_file=CA_FILE, fs_group=no_group, clock=FakeClock())
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await eventually(
            lambda: store.read_file("old", CA_FILE) == BUNDLE_B and store.read_file("no-ca-yet", CA_FILE) == BUNDLE_B,
            what="the start-up pass",
        )
        assert store.list_files("pending") == []
    finally:
        stop.set()
        await asyncio.wait_for(task, 0.5)
    assert task.done() and task.exception() is None
