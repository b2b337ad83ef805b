"""A volume with only the required attributes gets every documented default."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from cryptography import x509

from certcsi.drivers.certmanager.attributes import CertAttributes
from certcsi.pki.keys import KeySpec
from certcsi.volumes.driver import IssuerRef

Parse = Callable[[Mapping[str, str | None]], CertAttributes]


def test_every_default(parse: Parse) -> None:
    attrs = parse({})
    assert attrs.issuer == IssuerRef(name="ca-issuer", kind="Issuer", group="cert-manager.io")
    assert attrs.dns_names == ("my-pod.sandbox.svc",)
    assert attrs.common_name is None
    assert attrs.literal_subject is None
    assert attrs.subject == x509.Name([])
    assert attrs.uris == attrs.ip_addresses == attrs.emails == ()
    assert attrs.organizations == attrs.countries == attrs.postal_codes == ()
    assert attrs.serial_number is None
    assert attrs.duration == timedelta(hours=2160)  # the code's 90 days, not the docs' 720h
    assert attrs.renew_before is None
    assert attrs.is_ca is False
    assert attrs.usages == ("digital signature", "key encipherment")
    assert attrs.key == KeySpec("RSA", 2048, "PKCS1")
    assert attrs.reuse_private_key is False
    assert (attrs.certificate_file, attrs.privatekey_file, attrs.ca_file) == ("tls.crt", "tls.key", "ca.crt")
    assert attrs.fs_group is None
    assert attrs.pkcs12_enabled is False
    assert attrs.pkcs12_filename == "keystore.p12"
    assert attrs.pkcs12_password == ""


def test_an_empty_value_means_the_default(parse: Parse) -> None:
    empty = {
        "csi.cert-manager.io/issuer-kind": "",
        "csi.cert-manager.io/duration": "",
        "csi.cert-manager.io/key-usages": "",
        "csi.cert-manager.io/certificate-file": "",
        "csi.cert-manager.io/is-ca": "",
        "csi.cert-manager.io/key-size": "",
    }
    assert parse(empty) == parse({})
