"""files(): the chain, the PKCS#8 key and, when a bundle source is configured, the CA bundle,
all under the names the flags give, from the very first write."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from spiffe_support import CA_CERT, driver, issue, volume

from certcsi.pki.certs import chain_pem, key_matches_certificate, parse_pem_chain
from certcsi.pki.keys import PrivateKey
from certcsi.volumes.driver import Issued

BUNDLE = chain_pem([CA_CERT])


async def _files(**kwargs: object) -> tuple[dict[str, bytes], PrivateKey, Issued]:
    d, v = driver(**kwargs), volume()
    key = await d.generate_key(v, None)
    issued = issue(d.build_request(v, key))
    return dict(d.files(v, key, issued)), key, issued


async def test_default_names_without_a_bundle_source() -> None:
    files, *_ = await _files()
    assert set(files) == {"tls.crt", "tls.key"}


async def test_the_certificate_file_holds_the_chain_and_the_key_is_pkcs8() -> None:
    files, key, issued = await _files()
    assert files["tls.crt"] == issued.certificate_pem
    chain = parse_pem_chain(files["tls.crt"])
    assert len(chain) == 2 and key_matches_certificate(key, chain[0])
    assert files["tls.key"].startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = serialization.load_pem_private_key(files["tls.key"], password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey) and isinstance(key, ec.EllipticCurvePrivateKey)
    assert loaded.private_numbers() == key.private_numbers()


async def test_the_leaf_carries_the_spiffe_id_in_a_critical_san() -> None:
    files, *_ = await _files()
    leaf = parse_pem_chain(files["tls.crt"])[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and san.value.get_values_for_type(x509.UniformResourceIdentifier) == [
        "spiffe://cluster.local/ns/sandbox/sa/app"
    ]


async def test_the_bundle_is_written_when_a_source_is_configured() -> None:
    files, *_ = await _files(ca_bundle=lambda: BUNDLE)
    assert files["ca.crt"] == BUNDLE


async def test_all_three_names_are_honoured_on_the_first_write() -> None:
    files, *_ = await _files(
        certificate_file="svid.pem", key_file="svid_key.pem", ca_file="bundle.pem", ca_bundle=lambda: BUNDLE
    )
    assert set(files) == {"svid.pem", "svid_key.pem", "bundle.pem"}
    assert files["bundle.pem"] == BUNDLE


async def test_the_bundle_is_read_at_every_write() -> None:
    current = [b"one"]
    d, v = driver(ca_bundle=lambda: current[0]), volume()
    key = await d.generate_key(v, None)
    issued = issue(d.build_request(v, key))
    assert d.files(v, key, issued)["ca.crt"] == b"one"
    current[0] = b"two"
    assert d.files(v, key, issued)["ca.crt"] == b"two"


async def test_no_bundle_loaded_yet_means_no_ca_file() -> None:
    files, *_ = await _files(ca_bundle=lambda: None)
    assert set(files) == {"tls.crt", "tls.key"}


async def test_status_ca_is_never_written() -> None:
    files, _, issued = await _files()
    assert issued.ca_pem not in files.values()


def test_ca_file_is_exposed_only_with_a_bundle_source() -> None:
    assert driver().ca_file is None
    assert driver(ca_file="bundle.pem", ca_bundle=lambda: None).ca_file == "bundle.pem"
