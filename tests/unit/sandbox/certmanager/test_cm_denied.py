"""A denied request is marked Ready=False reason Denied with a failureTime, and is never signed."""

from __future__ import annotations

from typing import Any

from cm_support import CRS, condition, ready_reason_is, request_body, settle, wait_for

from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager, install_ca_cluster_issuer

NOW = 1_700_000_000.0


async def test_denied_request_fails_with_cert_managers_message(store: Store) -> None:
    manager = CertManager(store, approve=False, clock=lambda: NOW)
    install_ca_cluster_issuer(store)
    manager.start()
    try:
        store.create(CRS, request_body())

        def deny(obj: dict[str, Any]) -> None:
            obj.setdefault("status", {})["conditions"] = [
                {
                    "type": "Denied",
                    "status": "True",
                    "reason": "policy",
                    "message": "no",
                    "lastTransitionTime": "2023-11-14T22:13:20Z",
                }
            ]

        store.mutate(CRS, "team", "req", deny, subresource="status")
        cr = await wait_for(store, "team", "req", ready_reason_is("Denied"))
        await settle()
    finally:
        await manager.stop()
    ready = condition(cr, "Ready")
    assert ready == {
        "type": "Ready",
        "status": "False",
        "reason": "Denied",
        "message": "The CertificateRequest was denied by an approval controller",
        "lastTransitionTime": "2023-11-14T22:13:20Z",
    }
    assert cr["status"]["failureTime"] == "2023-11-14T22:13:20Z"
    assert "certificate" not in cr["status"]
    assert store.get(CRS, "team", "req")["metadata"]["resourceVersion"] == cr["metadata"]["resourceVersion"]


async def test_default_approver_leaves_denied_requests_alone(store: Store, cert_manager: CertManager) -> None:
    body = request_body()
    store.admission.clear()  # create it already denied, as an approver racing the default one might
    store.create(CRS, body)
    cert_manager.register_admission()

    def deny(obj: dict[str, Any]) -> None:
        obj["status"] = {"conditions": [{"type": "Denied", "status": "True", "reason": "p", "message": "m"}]}

    store.mutate(CRS, "team", "req", deny, subresource="status")
    cr = await wait_for(store, "team", "req", ready_reason_is("Denied"))
    assert condition(cr, "Approved") is None
