"""Requests whose issuer or CA Secret is missing wait as Pending, and are issued once it appears."""

from __future__ import annotations

from typing import Any

from cm_support import (
    CLUSTER_ISSUERS,
    CRS,
    ISSUERS,
    SECRETS,
    condition,
    is_ready,
    ready_reason_is,
    request_body,
    wait_for,
)

from certcsi.sandbox.apiserver.storage import Store, copy_obj
from certcsi.sandbox.certmanager import CertManager, install_ca_cluster_issuer


def message(cr: dict[str, Any]) -> str:
    ready = condition(cr, "Ready")
    assert ready is not None
    return str(ready["message"])


async def test_unknown_cluster_issuer_is_pending_then_issued_when_it_appears(store: Store) -> None:
    manager = CertManager(store)
    manager.start()
    try:
        store.create(CRS, request_body(issuer="sandbox-ca", kind="ClusterIssuer"))
        cr = await wait_for(store, "team", "req", ready_reason_is("Pending"))
        assert message(cr) == (
            'Referenced "ClusterIssuer" not found: clusterissuer.cert-manager.io "sandbox-ca" not found'
        )
        install_ca_cluster_issuer(store)
        await wait_for(store, "team", "req", is_ready)
    finally:
        await manager.stop()


async def test_kind_defaults_to_issuer(store: Store, cert_manager: CertManager) -> None:
    store.create(CRS, request_body(issuer="local", kind=None))
    cr = await wait_for(store, "team", "req", ready_reason_is("Pending"))
    assert message(cr) == 'Referenced "Issuer" not found: issuer.cert-manager.io "local" not found'


async def test_missing_secret_is_pending_then_issued_when_the_secret_appears(store: Store) -> None:
    manager = CertManager(store)
    install_ca_cluster_issuer(store)
    secret = copy_obj(store.get(SECRETS, "cert-manager", "sandbox-ca"))
    store.delete(SECRETS, "cert-manager", "sandbox-ca")
    manager.start()
    try:
        issuer = store.get(CLUSTER_ISSUERS, None, "sandbox-ca")
        ready = condition(issuer, "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("False", "ErrGetKeyPair")
        store.create(CRS, request_body())
        cr = await wait_for(store, "team", "req", ready_reason_is("Pending"))
        assert message(cr) == "Referenced issuer does not have a Ready status condition"
        del secret["metadata"]["resourceVersion"]
        store.create(SECRETS, secret)
        await wait_for(store, "team", "req", is_ready)
        ready = condition(store.get(CLUSTER_ISSUERS, None, "sandbox-ca"), "Ready")
        assert ready is not None and (ready["status"], ready["reason"]) == ("True", "KeyPairVerified")
    finally:
        await manager.stop()


async def test_issuer_without_a_type_is_pending(store: Store, cert_manager: CertManager) -> None:
    store.create(ISSUERS, {"metadata": {"name": "empty", "namespace": "team"}, "spec": {}})
    store.create(CRS, request_body(issuer="empty", kind="Issuer"))
    cr = await wait_for(store, "team", "req", ready_reason_is("Pending"))
    assert message(cr).startswith("Missing issuer type")


async def test_requests_for_other_issuer_types_and_groups_are_left_alone(
    store: Store, cert_manager: CertManager
) -> None:
    store.create(ISSUERS, {"metadata": {"name": "acme", "namespace": "team"}, "spec": {"acme": {"server": "x"}}})
    store.create(CRS, request_body("acme-req", issuer="acme", kind="Issuer"))
    external = request_body("ext-req", issuer="pca", kind="AWSPCAClusterIssuer")
    external["spec"]["issuerRef"]["group"] = "awspca.cert-manager.io"
    store.create(CRS, external)
    await wait_for(store, "team", "acme-req", lambda o: condition(o, "Approved") is not None)
    await wait_for(store, "team", "ext-req", lambda o: condition(o, "Approved") is not None)
    for _ in range(20):
        import asyncio

        await asyncio.sleep(0)
    assert condition(store.get(CRS, "team", "acme-req"), "Ready") is None
    assert condition(store.get(CRS, "team", "ext-req"), "Ready") is None
