"""The key pool: empty and idle until a type is used; refilled to its size whenever keys taken bring it to half."""

from __future__ import annotations

import threading

import pytest

from certcsi.pki.keypool import KeyPool
from certcsi.pki.keys import KeySpec

from .keypool_support import CountingGenerator, parked, wait_until

P256 = KeySpec("ECDSA", 256)


def ready(pool: KeyPool, kind: str) -> int:
    return next((stats.ready for stats in pool.stats() if stats.key_type == kind), 0)


def new_workers(before: set[threading.Thread]) -> list[threading.Thread]:
    """Pool worker threads started since `before` was taken (other tests' threads come and go)."""
    return [t for t in threading.enumerate() if t.name == "certcsi-key-pool" and t not in before]


async def full_p256_pool(size: int) -> tuple[KeyPool, CountingGenerator]:
    """A pool of `size` whose P-256 type has joined (one key taken) and filled up."""
    made = CountingGenerator()
    pool = KeyPool(size=size, generate=made)
    await pool.take(P256)
    wait_until(lambda: ready(pool, "ECDSA-256") == size)
    return pool, made


async def test_an_unused_pool_makes_nothing_and_starts_no_thread() -> None:
    before = set(threading.enumerate())
    made = CountingGenerator()
    pool = KeyPool(size=4, generate=made)
    # Nothing runs in the background until a type is used: no thread could have made a key yet.
    assert made.made == []
    assert pool.stats() == []
    assert new_workers(before) == []


async def test_first_use_is_made_on_demand_then_the_type_fills_up_to_its_size() -> None:
    pool, made = await full_p256_pool(4)
    wait_until(lambda: parked(pool))
    assert made.count("ECDSA-256") == 5  # one for the caller, four ahead, and no more
    (stats,) = pool.stats()
    assert (stats.pooled, stats.on_demand) == (0, 1)
    pool.close()


async def test_a_pool_still_above_half_is_left_alone() -> None:
    pool, made = await full_p256_pool(4)
    await pool.take(P256)  # 3 of 4 left: no wake-up, no key made
    wait_until(lambda: parked(pool))
    assert made.count("ECDSA-256") == 5
    assert ready(pool, "ECDSA-256") == 3
    pool.close()


async def test_at_half_the_worker_refills_every_key_taken_and_no_more() -> None:
    pool, made = await full_p256_pool(4)
    made.release.clear()  # the worker, once woken, waits here until all three are taken
    for _ in range(3):
        await pool.take(P256)
    assert ready(pool, "ECDSA-256") == 1
    made.release.set()
    wait_until(lambda: ready(pool, "ECDSA-256") == 4)
    wait_until(lambda: parked(pool))
    assert made.count("ECDSA-256") == 1 + 4 + 3
    (stats,) = pool.stats()
    assert (stats.pooled, stats.on_demand) == (3, 1)
    pool.close()


async def test_a_key_is_handed_out_once() -> None:
    pool = KeyPool(size=8)
    await pool.take(P256)
    wait_until(lambda: ready(pool, "ECDSA-256") == 8)
    keys = [await pool.take(P256) for _ in range(20)]  # pooled and made on demand, mixed
    numbers = {key.private_numbers().private_value for key in keys}  # type: ignore[union-attr]
    assert len(numbers) == 20
    pool.close()


async def test_types_join_on_first_use_and_the_least_recently_used_leaves_beyond_the_bound() -> None:
    made = CountingGenerator()
    pool = KeyPool(size=1, max_types=2, generate=made)
    await pool.take(KeySpec("ECDSA", 384))
    await pool.take(KeySpec("Ed25519"))
    await pool.take(KeySpec("ECDSA", 521))
    assert sorted(stats.key_type for stats in pool.stats()) == ["ECDSA-521", "Ed25519"]
    pool.close()


async def test_a_bad_spec_is_refused_with_the_rule_and_joins_nothing() -> None:
    pool = KeyPool(size=2)
    with pytest.raises(ValueError, match="RSA key size must be between 2048 and 8192, got 1024"):
        await pool.take(KeySpec("RSA", 1024))
    assert pool.stats() == []


async def test_close_drops_every_key_and_stops_the_worker() -> None:
    before = set(threading.enumerate())
    made = CountingGenerator()
    pool = KeyPool(size=2, generate=made)
    await pool.take(P256)
    wait_until(lambda: ready(pool, "ECDSA-256") == 2)
    assert len(new_workers(before)) == 1
    pool.close()
    assert pool.stats() == []
    wait_until(lambda: new_workers(before) == [])


def test_the_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="size must be from 0 to 256"):
        KeyPool(size=257)
