"""With the default approver off, requests wait unapproved (no Ready condition, as cert-manager leaves
them) until some other approver approves them; then they are issued."""

from __future__ import annotations

from typing import Any

from cm_support import CRS, condition, is_ready, request_body, settle, wait_for

from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager, install_ca_cluster_issuer


async def test_unapproved_requests_are_not_signed_until_approved(store: Store) -> None:
    manager = CertManager(store, approve=False)
    install_ca_cluster_issuer(store)
    manager.start()
    try:
        store.create(CRS, request_body())
        await settle(50)
        cr = store.get(CRS, "team", "req")
        assert condition(cr, "Approved") is None
        assert condition(cr, "Ready") is None
        assert "certificate" not in cr.get("status", {})

        def approve(obj: dict[str, Any]) -> None:
            obj.setdefault("status", {})["conditions"] = [
                {
                    "type": "Approved",
                    "status": "True",
                    "reason": "spiffe.csi.cert-manager.io",
                    "message": "Approved request",
                }
            ]

        store.mutate(CRS, "team", "req", approve, subresource="status")
        issued = await wait_for(store, "team", "req", is_ready)
        approved = condition(issued, "Approved")
        assert approved is not None and approved["reason"] == "spiffe.csi.cert-manager.io"
    finally:
        await manager.stop()
