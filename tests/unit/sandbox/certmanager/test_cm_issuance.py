"""The CA issuer signs approved requests as cert-manager does, and openssl accepts the result."""

from __future__ import annotations

import base64
import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

from cm_support import CRS, condition, csr_pem, is_ready, issued_chain, openssl_verify, request_body, wait_for
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.keys import KeySpec, generate_private_key
from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager


async def issue(store: Store, name: str = "req", **kwargs: Any) -> dict[str, Any]:
    store.create(CRS, request_body(name, **kwargs))
    return await wait_for(store, "team", name, is_ready)


async def test_issued_certificate_verifies_against_status_ca(
    store: Store, cert_manager: CertManager, tmp_path: Path
) -> None:
    cr = await issue(store)
    result = openssl_verify(tmp_path, cr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": OK")


async def test_conditions_are_cert_managers(store: Store, cert_manager: CertManager) -> None:
    cr = await issue(store)
    approved = condition(cr, "Approved")
    ready = condition(cr, "Ready")
    assert approved is not None and ready is not None
    assert (approved["status"], approved["reason"], approved["message"]) == (
        "True",
        "cert-manager.io",
        "Certificate request has been approved by cert-manager.io",
    )
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "True",
        "Issued",
        "Certificate fetched from issuer successfully",
    )
    assert ready["lastTransitionTime"].endswith("Z")


async def test_chain_from_a_root_ca_is_just_the_leaf_and_ca_is_the_root(
    store: Store, cert_manager: CertManager
) -> None:
    cr = await issue(store)
    chain = issued_chain(cr)
    ca = x509.load_pem_x509_certificate(base64.b64decode(cr["status"]["ca"]))
    assert len(chain) == 1
    assert chain[0].issuer == ca.subject
    assert ca.subject == ca.issuer


async def test_subject_and_sans_come_from_the_csr(store: Store, cert_manager: CertManager) -> None:
    key = generate_private_key(KeySpec("ECDSA"))
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "web"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme")]
    )
    spec = CsrSpec(
        subject=subject,
        dns_names=("web.example.com",),
        ip_addresses=(ipaddress.ip_address("10.0.0.1"),),
        uris=("spiffe://cluster.local/ns/team/sa/web",),
        emails=("ops@example.com",),
    )
    cr = await issue(store, csr=build_csr(key, spec))
    leaf = issued_chain(cr)[0]
    assert leaf.subject == subject
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["web.example.com"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.1")]
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://cluster.local/ns/team/sa/web"]
    assert sans.get_values_for_type(x509.RFC822Name) == ["ops@example.com"]
    assert leaf.public_key() == key.public_key()


async def test_duration_usages_and_is_ca_are_honoured(store: Store, cert_manager: CertManager) -> None:
    csr = csr_pem(usages=("digital signature", "cert sign", "server auth", "client auth"), is_ca=True)
    cr = await issue(
        store, csr=csr, duration="1h30m", isCA=True, usages=["digital signature", "server auth", "client auth"]
    )
    leaf = issued_chain(cr)[0]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(hours=1, minutes=30)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_cert_sign and not ku.key_encipherment
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


async def test_defaults_are_90_days_and_digital_signature_key_encipherment(
    store: Store, cert_manager: CertManager
) -> None:
    cr = await issue(store)
    leaf = issued_chain(cr)[0]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(hours=2160)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment and not ku.key_cert_sign
    assert not any(isinstance(e.value, x509.ExtendedKeyUsage) for e in leaf.extensions)
