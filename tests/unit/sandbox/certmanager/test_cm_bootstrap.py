"""install_ca_cluster_issuer: namespace, a kubernetes.io/tls CA Secret, and a ClusterIssuer naming it."""

from __future__ import annotations

import base64

import pytest
from cm_support import CLUSTER_ISSUERS, NAMESPACES, SECRETS
from cryptography import x509

from certcsi.pki.certs import key_matches_certificate
from certcsi.pki.keys import load_private_key
from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import install_ca_cluster_issuer


def test_creates_namespace_secret_and_cluster_issuer(store: Store) -> None:
    key, cert = install_ca_cluster_issuer(store, name="my-ca", namespace="pki", common_name="My CA")
    assert store.find(NAMESPACES, None, "pki") is not None
    secret = store.get(SECRETS, "pki", "my-ca")
    assert secret["type"] == "kubernetes.io/tls"
    stored_cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    stored_key = load_private_key(base64.b64decode(secret["data"]["tls.key"]))
    assert stored_cert == cert
    assert key_matches_certificate(stored_key, cert)
    assert key_matches_certificate(key, cert)
    assert cert.subject.rfc4514_string() == "CN=My CA"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    issuer = store.get(CLUSTER_ISSUERS, None, "my-ca")
    assert issuer["spec"] == {"ca": {"secretName": "my-ca"}}


def test_defaults_and_an_existing_namespace(store: Store) -> None:
    store.create(NAMESPACES, {"metadata": {"name": "cert-manager"}})
    install_ca_cluster_issuer(store)
    assert store.get(CLUSTER_ISSUERS, None, "sandbox-ca")["spec"]["ca"]["secretName"] == "sandbox-ca"
    assert store.get(SECRETS, "cert-manager", "sandbox-ca")


def test_a_second_install_is_refused(store: Store) -> None:
    install_ca_cluster_issuer(store)
    with pytest.raises(ApiError) as info:
        install_ca_cluster_issuer(store)
    assert info.value.code == 409
