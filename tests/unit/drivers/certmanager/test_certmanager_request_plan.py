"""build_request: the CSR and CertificateRequest body for a typical volume, read back with cryptography."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.volumes.driver import IssuerRef, Volume

TYPICAL = {
    "csi.cert-manager.io/issuer-name": "ca-issuer",
    "csi.cert-manager.io/issuer-kind": "ClusterIssuer",
    "csi.cert-manager.io/common-name": "${SERVICE_ACCOUNT_NAME}.${POD_NAMESPACE}",
    "csi.cert-manager.io/dns-names": "${POD_NAME}.${POD_NAMESPACE}.svc.cluster.local,${POD_NAME}",
    "csi.cert-manager.io/uri-sans": "spiffe://cluster.local/ns/${POD_NAMESPACE}/pod/${POD_NAME}/${POD_UID}",
    "csi.cert-manager.io/ip-sans": "10.0.0.7,fd00::7",
    "csi.cert-manager.io/email-sans": "ops@example.com",
    "csi.cert-manager.io/organizations": "Acme",
    "csi.cert-manager.io/duration": "1h",
    "csi.cert-manager.io/key-usages": "server auth,client auth,digital signature",
    "venafi.cert-manager.io/custom-fields": '[{"name": "team", "value": "payments"}]',
}


def test_typical_volume(volume_for: Callable[..., Volume], rsa_key: rsa.RSAPrivateKey) -> None:
    driver = CertManagerDriver()
    plan = driver.build_request(volume_for(TYPICAL), rsa_key)

    assert plan.issuer_ref == IssuerRef(name="ca-issuer", kind="ClusterIssuer", group="cert-manager.io")
    assert plan.duration == timedelta(hours=1)
    assert plan.is_ca is False
    assert plan.usages == ("server auth", "client auth", "digital signature")
    assert plan.annotations == {"venafi.cert-manager.io/custom-fields": '[{"name": "team", "value": "payments"}]'}
    assert plan.token is None

    csr = x509.load_pem_x509_csr(plan.csr_pem)
    assert csr.is_signature_valid
    assert csr.public_key().public_numbers() == rsa_key.public_key().public_numbers()  # type: ignore[union-attr]
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "my-sa.sandbox"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme"
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical  # the subject is not empty
    assert san.value.get_values_for_type(x509.DNSName) == ["my-pod.sandbox.svc.cluster.local", "my-pod"]
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [
        "spiffe://cluster.local/ns/sandbox/pod/my-pod/0b6c-uid"
    ]
    assert san.value.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.7"),
        ipaddress.ip_address("fd00::7"),
    ]
    assert san.value.get_values_for_type(x509.RFC822Name) == ["ops@example.com"]
    eku = csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert csr.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature


def test_literal_subject_and_ca(volume_for: Callable[..., Volume], ec_key: ec.EllipticCurvePrivateKey) -> None:
    overrides = {
        "csi.cert-manager.io/dns-names": None,
        "csi.cert-manager.io/literal-subject": "CN=${POD_NAME},OU=a\\;b,O=Acme",
        "csi.cert-manager.io/is-ca": "true",
        "csi.cert-manager.io/key-algorithm": "ECDSA",
    }
    plan = CertManagerDriver().build_request(volume_for(overrides), ec_key)
    csr = x509.load_pem_x509_csr(plan.csr_pem)
    assert csr.subject == x509.Name.from_rfc4514_string("CN=my-pod,OU=a\\;b,O=Acme")
    assert plan.is_ca is True
    assert csr.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert plan.duration == timedelta(hours=2160)
