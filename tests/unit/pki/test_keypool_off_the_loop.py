"""RSA keys made while a caller waits are made in a thread: the event loop keeps serving meanwhile."""

from __future__ import annotations

import asyncio
import threading

from certcsi.pki.keypool import KeyPool
from certcsi.pki.keys import KeySpec

from .keypool_support import CountingGenerator


async def test_an_rsa_key_made_on_demand_leaves_the_loop_free() -> None:
    made = CountingGenerator()
    made.release.clear()  # the generation blocks until the loop has proven it still runs
    pool = KeyPool(size=0, generate=made)
    taking = asyncio.create_task(pool.take(KeySpec("RSA", 2048)))
    ticks = 0
    while ticks < 10:
        await asyncio.sleep(0.001)
        ticks += 1
    assert not taking.done()
    made.release.set()
    await asyncio.wait_for(taking, 10)
    ((kind, thread),) = made.made
    assert kind == "RSA-2048"
    assert thread != threading.main_thread().name


async def test_pool_size_zero_makes_every_key_on_demand_and_keeps_none() -> None:
    made = CountingGenerator()
    pool = KeyPool(size=0, generate=made)
    before = set(threading.enumerate())
    for _ in range(3):
        await pool.take(KeySpec("RSA", 3072))
    await asyncio.sleep(0.05)
    assert made.count("RSA-3072") == 3
    (stats,) = pool.stats()
    assert (stats.ready, stats.pooled, stats.on_demand) == (0, 0, 3)
    # Only the on-demand threads are new: no worker keeps keys ahead.
    assert [t for t in threading.enumerate() if t.name == "certcsi-key-pool" and t not in before] == []


async def test_an_rsa_key_from_the_real_generator_has_the_asked_size() -> None:
    pool = KeyPool(size=0)
    key = await pool.take(KeySpec("RSA", 2048))
    assert key.key_size == 2048  # type: ignore[union-attr]
