"""Exactly one status write approves and one issues; later events never re-sign an issued request."""

from __future__ import annotations

from typing import Any

from cm_support import CRS, is_ready, request_body, settle, wait_for

from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager


async def test_one_write_to_approve_and_one_to_issue(store: Store, cert_manager: CertManager) -> None:
    watch = store.watch(CRS, "team", since=store.resource_version)
    store.create(CRS, request_body())
    issued = await wait_for(store, "team", "req", is_ready)
    await settle()
    watch.close()
    events = [(e.type, [c["type"] for c in (e.object.get("status") or {}).get("conditions", [])]) async for e in watch]
    assert events == [("ADDED", []), ("MODIFIED", ["Approved"]), ("MODIFIED", ["Approved", "Ready"])]
    assert store.get(CRS, "team", "req")["metadata"]["resourceVersion"] == issued["metadata"]["resourceVersion"]


async def test_changes_to_an_issued_request_do_not_resign(store: Store, cert_manager: CertManager) -> None:
    store.create(CRS, request_body())
    issued = await wait_for(store, "team", "req", is_ready)

    def label(obj: dict[str, Any]) -> None:
        obj["metadata"]["labels"] = {"touched": "yes"}

    labelled = store.mutate(CRS, "team", "req", label)
    await settle()
    current = store.get(CRS, "team", "req")
    assert current["metadata"]["resourceVersion"] == labelled["metadata"]["resourceVersion"]
    assert current["status"]["certificate"] == issued["status"]["certificate"]


async def test_requests_existing_before_start_are_processed(store: Store) -> None:
    from certcsi.sandbox.certmanager import install_ca_cluster_issuer

    manager = CertManager(store)
    install_ca_cluster_issuer(store)
    store.create(CRS, request_body("early"))
    manager.start()
    try:
        await wait_for(store, "team", "early", is_ready)
    finally:
        await manager.stop()


async def test_stop_ends_the_controllers(store: Store) -> None:
    manager = CertManager(store)
    manager.start()
    await manager.stop()
    store.create(CRS, request_body())
    await settle()
    assert "conditions" not in store.get(CRS, "team", "req").get("status", {})
