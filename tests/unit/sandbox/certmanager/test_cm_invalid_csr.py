"""A request that cannot become a certificate fails for good: Ready=False Failed, InvalidRequest, failureTime."""

from __future__ import annotations

from typing import Any

from cm_support import CRS, b64, condition, csr_pem, ready_reason_is, request_body, settle, wait_for

from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager, install_ca_cluster_issuer

NOW = 1_700_000_000.0
STAMP = "2023-11-14T22:13:20Z"


async def run_to_failure(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    manager = CertManager(store, clock=lambda: NOW)
    install_ca_cluster_issuer(store)
    store.admission.clear()  # such a request can only come from before admission (or a bug in it)
    store.create(CRS, body)
    manager.register_admission()
    manager.start()
    try:
        cr = await wait_for(store, "team", "req", ready_reason_is("Failed"))
        await settle()
    finally:
        await manager.stop()
    assert store.get(CRS, "team", "req")["metadata"]["resourceVersion"] == cr["metadata"]["resourceVersion"]
    return cr


async def test_unparsable_csr_fails_with_invalid_request(store: Store) -> None:
    cr = await run_to_failure(store, request_body(csr=b"not a csr"))
    ready = condition(cr, "Ready")
    invalid = condition(cr, "InvalidRequest")
    assert ready is not None and invalid is not None
    assert ready["status"] == "False"
    assert ready["message"] == "Error generating certificate template: error decoding certificate request PEM block"
    assert (invalid["status"], invalid["message"]) == ("True", ready["message"])
    assert cr["status"]["failureTime"] == STAMP
    assert "certificate" not in cr["status"]


async def test_csr_with_a_bad_signature_fails(store: Store) -> None:
    pem = bytearray(csr_pem())
    body = request_body()
    # Flip one base64 character inside the signature (the last line before the footer).
    lines = bytes(pem).split(b"\n")
    sig_line = lines[-3]
    lines[-3] = sig_line[:5] + (b"A" if sig_line[5:6] != b"A" else b"B") + sig_line[6:]
    body["spec"]["request"] = b64(b"\n".join(lines))
    cr = await run_to_failure(store, body)
    ready = condition(cr, "Ready")
    assert ready is not None
    assert ready["message"].startswith("Error generating certificate template: failed to check CSR signature")
