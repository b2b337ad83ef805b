"""The CA issuer signs a request in the turn the built-in approver approves it, in a write of its own."""

from __future__ import annotations

import asyncio

from cm_support import CRS, condition, request_body

from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager


async def test_issued_in_the_same_turn_as_approved(store: Store, cert_manager: CertManager) -> None:
    store.create(CRS, request_body("req"))
    for _ in range(50):
        cr = store.get(CRS, "team", "req")
        if condition(cr, "Approved") is not None:
            break
        await asyncio.sleep(0)
    assert condition(cr, "Approved") is not None
    # No loop turn between the approval and the signing: the first version anyone can see approved
    # is already issued.
    ready = condition(cr, "Ready")
    assert ready is not None and ready["reason"] == "Issued"
    assert cr["status"].get("certificate")


async def test_approval_and_issuance_are_still_two_writes(store: Store, cert_manager: CertManager) -> None:
    watch = store.watch(CRS, "team", since=store.resource_version)
    store.create(CRS, request_body("req"))
    seen: list[tuple[str, bool, bool]] = []
    async for event in watch:
        status = event.object.get("status") or {}
        seen.append((event.type, condition(event.object, "Approved") is not None, bool(status.get("certificate"))))
        if status.get("certificate"):
            break
    watch.close()
    assert seen == [("ADDED", False, False), ("MODIFIED", True, False), ("MODIFIED", True, True)]
