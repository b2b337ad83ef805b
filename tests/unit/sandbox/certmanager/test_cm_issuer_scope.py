"""Issuers read their CA Secret in their own namespace; ClusterIssuers in the cluster resource namespace."""

from __future__ import annotations

import base64

from cm_support import (
    CLUSTER_ISSUERS,
    CRS,
    ISSUERS,
    NAMESPACES,
    SECRETS,
    condition,
    is_ready,
    ready_reason_is,
    request_body,
    wait_for,
)
from cryptography import x509

from certcsi.pki.certs import certificate_pem
from certcsi.pki.keys import encode_private_key
from certcsi.pki.signing import create_ca
from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager


def ca_secret(name: str, namespace: str, common_name: str) -> dict[str, object]:
    key, cert = create_ca(common_name=common_name)
    return {
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(certificate_pem(cert)).decode(),
            "tls.key": base64.b64encode(encode_private_key(key, "PKCS8")).decode(),
        },
    }


def issuer_cn(cr: dict[str, object]) -> str:
    ca = x509.load_pem_x509_certificate(base64.b64decode(cr["status"]["ca"]))  # type: ignore[index]
    return str(ca.subject.rfc4514_string())


async def test_namespaced_issuer_uses_the_secret_in_its_namespace(store: Store) -> None:
    store.create(NAMESPACES, {"metadata": {"name": "platform"}})
    store.create(SECRETS, ca_secret("team-ca", "team", "team CA"))
    store.create(SECRETS, ca_secret("team-ca", "platform", "wrong CA"))
    store.create(
        ISSUERS, {"metadata": {"name": "local", "namespace": "team"}, "spec": {"ca": {"secretName": "team-ca"}}}
    )
    manager = CertManager(store, cluster_resource_namespace="platform")
    manager.start()
    try:
        store.create(CRS, request_body(issuer="local", kind="Issuer"))
        cr = await wait_for(store, "team", "req", is_ready)
        assert issuer_cn(cr) == "CN=team CA"
        ready = condition(store.get(ISSUERS, "team", "local"), "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "True",
            "KeyPairVerified",
            "Signing CA verified",
        )
    finally:
        await manager.stop()


async def test_cluster_issuer_uses_the_cluster_resource_namespace(store: Store) -> None:
    store.create(NAMESPACES, {"metadata": {"name": "platform"}})
    store.create(SECRETS, ca_secret("shared-ca", "team", "wrong CA"))
    store.create(SECRETS, ca_secret("shared-ca", "platform", "platform CA"))
    store.create(CLUSTER_ISSUERS, {"metadata": {"name": "shared"}, "spec": {"ca": {"secretName": "shared-ca"}}})
    manager = CertManager(store, cluster_resource_namespace="platform")
    manager.start()
    try:
        store.create(CRS, request_body(issuer="shared", kind="ClusterIssuer"))
        cr = await wait_for(store, "team", "req", is_ready)
        assert issuer_cn(cr) == "CN=platform CA"
    finally:
        await manager.stop()


async def test_an_issuer_in_another_namespace_is_not_found(store: Store) -> None:
    store.create(NAMESPACES, {"metadata": {"name": "other"}})
    store.create(SECRETS, ca_secret("ca", "other", "other CA"))
    store.create(ISSUERS, {"metadata": {"name": "local", "namespace": "other"}, "spec": {"ca": {"secretName": "ca"}}})
    manager = CertManager(store)
    manager.start()
    try:
        store.create(CRS, request_body(issuer="local", kind="Issuer"))
        cr = await wait_for(store, "team", "req", ready_reason_is("Pending"))
        ready = condition(cr, "Ready")
        assert ready is not None and 'issuer.cert-manager.io "local" not found' in ready["message"]
    finally:
        await manager.stop()


async def test_a_secret_that_is_not_a_ca_makes_the_issuer_not_ready(store: Store) -> None:
    secret = ca_secret("ca", "team", "team CA")
    secret["data"]["tls.key"] = secret["data"]["tls.crt"]  # type: ignore[index]
    store.create(SECRETS, secret)
    store.create(ISSUERS, {"metadata": {"name": "local", "namespace": "team"}, "spec": {"ca": {"secretName": "ca"}}})
    manager = CertManager(store)
    manager.start()
    try:
        ready = condition(store.get(ISSUERS, "team", "local"), "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("False", "ErrInvalidKeyPair")
        assert "BEGIN" not in ready["message"]  # the Secret's content never shows
        store.create(CRS, request_body(issuer="local", kind="Issuer"))
        await wait_for(store, "team", "req", ready_reason_is("Pending"))
        store.delete(SECRETS, "team", "ca")
        store.create(SECRETS, ca_secret("ca", "team", "fixed CA"))
        cr = await wait_for(store, "team", "req", is_ready)
        assert issuer_cn(cr) == "CN=fixed CA"
    finally:
        await manager.stop()
