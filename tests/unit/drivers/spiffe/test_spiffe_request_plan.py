"""build_request(): upstream's exact request shape, checked with cryptography."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from spiffe_support import FLAG_ISSUER, SPIFFE_ID, driver, pod_token, volume

from certcsi.drivers.spiffe import RuntimeIssuer
from certcsi.errors import InvalidVolume, IssuerUnavailable
from certcsi.pki.keys import KeySpec, generate_private_key
from certcsi.volumes.driver import IssuerRef

KEY = generate_private_key(KeySpec("ECDSA", 256))


def test_the_csr_has_an_empty_subject_and_one_critical_uri_san() -> None:
    csr = x509.load_pem_x509_csr(driver().build_request(volume(), KEY).csr_pem)
    assert csr.is_signature_valid
    assert len(csr.subject) == 0
    (extension,) = list(csr.extensions)
    assert extension.oid == x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME
    assert extension.critical is True
    assert list(extension.value) == [x509.UniformResourceIdentifier(SPIFFE_ID)]


def test_the_csr_is_signed_by_the_given_p256_key() -> None:
    csr = x509.load_pem_x509_csr(driver().build_request(volume(), KEY).csr_pem)
    public_key = csr.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)
    assert public_key.public_numbers() == KEY.public_key().public_numbers()  # type: ignore[union-attr]


def test_the_request_fields_are_upstreams() -> None:
    plan = driver().build_request(volume(), KEY)
    assert plan.usages == ("key encipherment", "digital signature", "client auth", "server auth")
    assert plan.is_ca is False
    assert plan.duration == timedelta(hours=1)
    assert plan.issuer_ref == FLAG_ISSUER


def test_the_trust_domain_and_duration_come_from_the_flags() -> None:
    plan = driver(trust_domain="foo.bar", certificate_duration=timedelta(minutes=30)).build_request(volume(), KEY)
    csr = x509.load_pem_x509_csr(plan.csr_pem)
    uris = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert uris.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://foo.bar/ns/sandbox/sa/app"]
    assert plan.duration == timedelta(minutes=30)
    assert plan.annotations["spiffe.csi.cert-manager.io/identity"] == "spiffe://foo.bar/ns/sandbox/sa/app"


def test_annotations_are_the_identity_and_the_extra_ones() -> None:
    plan = driver(extra_annotations={"team": "payments"}).build_request(volume(), KEY)
    assert dict(plan.annotations) == {"spiffe.csi.cert-manager.io/identity": SPIFFE_ID, "team": "payments"}


def test_extra_annotations_can_never_override_the_identity() -> None:
    extra = {"spiffe.csi.cert-manager.io/identity": "spiffe://cluster.local/ns/kube-system/sa/admin", "ok": "1"}
    plan = driver(extra_annotations=extra).build_request(volume(), KEY)
    assert dict(plan.annotations) == {"spiffe.csi.cert-manager.io/identity": SPIFFE_ID, "ok": "1"}


def test_the_request_is_made_with_the_pods_token() -> None:
    token = pod_token()
    assert driver().build_request(volume(token=token), KEY).token == token


def test_own_service_account_mode_leaves_the_token_to_the_engine() -> None:
    assert driver(use_own_service_account=True).build_request(volume(), KEY).token is None


def test_the_issuer_is_read_at_each_request() -> None:
    holder = RuntimeIssuer(FLAG_ISSUER)
    d = driver(issuer=holder)
    assert d.build_request(volume(), KEY).issuer_ref == FLAG_ISSUER
    holder.set_from_configmap({"issuer-name": "new-ca", "issuer-kind": "Issuer", "issuer-group": "cert-manager.io"})
    assert d.build_request(volume(), KEY).issuer_ref == IssuerRef("new-ca", "Issuer", "cert-manager.io")


def test_without_an_issuer_the_pod_waits_with_a_clear_error() -> None:
    d = driver(issuer=RuntimeIssuer(None, configmap=("cert-manager", "spiffe-issuer")))
    with pytest.raises(IssuerUnavailable, match="create the runtime ConfigMap cert-manager/spiffe-issuer"):
        d.build_request(volume(), KEY)


def test_a_bad_token_fails_before_the_issuer_is_consulted() -> None:
    d = driver(issuer=RuntimeIssuer(None))
    with pytest.raises(InvalidVolume, match="not a JWT"):
        d.build_request(volume(token="x"), KEY)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trust_domain": "Foo"}, "trust domain"),
        ({"certificate_duration": timedelta(0)}, "duration must be positive"),
        ({"certificate_file": "a", "key_file": "a"}, "file names must differ"),
        ({"key_file": "ca.crt"}, "file names must differ"),
    ],
)
def test_bad_flags_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        driver(**kwargs)
