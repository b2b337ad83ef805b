"""`signing_delay` holds each signing back on its own timer; nothing else waits for it."""

from __future__ import annotations

import asyncio

from cm_support import CRS, condition, is_ready, request_body, settle, wait_for

from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager, install_ca_cluster_issuer


class GatedSleep:
    """A stand-in for asyncio.sleep that returns only when the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await self.gate.wait()


async def test_signing_waits_for_the_delay_without_blocking_approval(store: Store) -> None:
    sleep = GatedSleep()
    manager = CertManager(store, signing_delay=2.5, sleep=sleep)
    install_ca_cluster_issuer(store)
    manager.start()
    try:
        store.create(CRS, request_body("one"))
        store.create(CRS, request_body("two"))
        for name in ("one", "two"):
            await wait_for(store, "team", name, lambda o: condition(o, "Approved") is not None)
        await settle(50)
        assert sleep.delays == [2.5, 2.5]  # both timers run at once, one per request
        assert all(condition(store.get(CRS, "team", n), "Ready") is None for n in ("one", "two"))
        sleep.gate.set()
        for name in ("one", "two"):
            await wait_for(store, "team", name, is_ready)
        await settle()
        assert sleep.delays == [2.5, 2.5]  # no second timer for an already-issued request
    finally:
        await manager.stop()


async def test_a_request_deleted_during_the_delay_is_dropped(store: Store) -> None:
    sleep = GatedSleep()
    manager = CertManager(store, signing_delay=1.0, sleep=sleep)
    install_ca_cluster_issuer(store)
    manager.start()
    try:
        store.create(CRS, request_body())
        await wait_for(store, "team", "req", lambda o: condition(o, "Approved") is not None)
        await settle()
        store.delete(CRS, "team", "req")
        store.create(CRS, request_body())  # same name, new uid: must get its own delay, not the old one's
        await wait_for(store, "team", "req", lambda o: condition(o, "Approved") is not None)
        await settle()
        assert len(sleep.delays) == 2
        sleep.gate.set()
        await wait_for(store, "team", "req", is_ready)
        assert len(sleep.delays) == 2
    finally:
        await manager.stop()


async def test_stop_cancels_pending_delays(store: Store) -> None:
    sleep = GatedSleep()
    manager = CertManager(store, signing_delay=1.0, sleep=sleep)
    install_ca_cluster_issuer(store)
    manager.start()
    store.create(CRS, request_body())
    await wait_for(store, "team", "req", lambda o: condition(o, "Approved") is not None)
    await settle()
    await asyncio.wait_for(manager.stop(), 1.0)
    assert condition(store.get(CRS, "team", "req"), "Ready") is None
