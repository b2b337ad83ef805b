"""A volume that cannot be rewritten is retried after a backoff (on the injected clock); the others are not held up."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bundle_support import BUNDLE_A, BUNDLE_B, CA_FILE, SecretDir, add_volume, eventually, issued_files, open_store

from certcsi.drivers.spiffe.bundle import BundleWatcher, CaBundle
from certcsi.kube.watching import Backoff
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.driver import Volume

RETRY = Backoff(base=2.0, factor=2.0, cap=60.0, jitter=0.0)


async def test_a_failed_volume_is_retried_until_it_succeeds(tmp_path: Path) -> None:
    secret = SecretDir(tmp_path / "secret", BUNDLE_A)
    store = open_store(tmp_path)
    for volume_id in ("vol-a", "vol-b", "vol-c"):
        add_volume(store, volume_id, issued_files(volume_id, BUNDLE_A))
    broken = {"vol-b"}

    def fs_group(volume: Volume) -> int | None:
        if volume.volume_id in broken:
            raise OSError(28, "No space left on device")
        return None

    bundle = CaBundle(secret.path)
    bundle.load()
    clock = FakeClock()
    watcher = BundleWatcher(bundle=bundle, store=store, ca_file=CA_FILE, fs_group=fs_group, clock=clock, retry=RETRY)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await asyncio.sleep(0.05)
        secret.swap("..2026_b", BUNDLE_B)
        await eventually(
            lambda: store.read_file("vol-a", CA_FILE) == BUNDLE_B and store.read_file("vol-c", CA_FILE) == BUNDLE_B,
            what="the healthy volumes",
        )
        await eventually(lambda: clock.pending_timers == 1, what="the retry timer")
        assert store.read_file("vol-b", CA_FILE) == BUNDLE_A

        clock.advance(RETRY.base)  # first retry: still broken, so a second, longer wait is armed
        await eventually(lambda: clock.pending_timers == 1 and clock.monotonic() == RETRY.base, what="the 2nd retry")
        assert store.read_file("vol-b", CA_FILE) == BUNDLE_A

        broken.clear()
        clock.advance(RETRY.base * RETRY.factor - 0.01)
        await asyncio.sleep(0.05)
        assert store.read_file("vol-b", CA_FILE) == BUNDLE_A  # backoff grew: not yet
        clock.advance(0.01)
        await eventually(lambda: store.read_file("vol-b", CA_FILE) == BUNDLE_B, what="the retried volume")
        await eventually(lambda: clock.pending_timers == 0, what="the retry timer to be dropped")
    finally:
        stop.set()
        await asyncio.wait_for(task, 1)
