"""The default approver leaves the signers it is told to skip to another approver (cert-manager's
`--approve-signers` without them), and approves everything else as before."""

from __future__ import annotations

from cm_support import CRS, condition, is_ready, request_body, settle, wait_for

from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager, install_ca_cluster_issuer


async def test_requests_for_a_skipped_issuer_wait_while_others_are_approved(store: Store) -> None:
    manager = CertManager(store)
    install_ca_cluster_issuer(store)
    install_ca_cluster_issuer(store, name="spiffe-ca")
    assert manager.approver is not None
    manager.approver.skip_signers.add("clusterissuers.cert-manager.io/spiffe-ca")
    manager.start()
    try:
        store.create(CRS, request_body("spiffe", issuer="spiffe-ca"))
        store.create(CRS, request_body("plain"))
        await wait_for(store, "team", "plain", is_ready)
        await settle(50)
        waiting = store.get(CRS, "team", "spiffe")
        assert condition(waiting, "Approved") is None and condition(waiting, "Ready") is None
    finally:
        await manager.stop()
