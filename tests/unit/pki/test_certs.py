"""Reading issued chains: PEM parsing, leaf validity, key/certificate matching, PEM writing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certcsi.pki.certs import (
    Validity,
    certificate_pem,
    chain_pem,
    key_matches_certificate,
    leaf_validity,
    parse_pem_chain,
)
from certcsi.pki.csr import CsrSpec, build_csr, load_csr
from certcsi.pki.keys import PrivateKey, encode_private_key
from certcsi.pki.signing import sign_csr

from .support import NOW


def _leaf(key: PrivateKey, ca: tuple[PrivateKey, x509.Certificate], duration: timedelta) -> x509.Certificate:
    csr = load_csr(build_csr(key, CsrSpec(dns_names=("a.example",))))
    return sign_csr(ca_key=ca[0], ca_cert=ca[1], csr=csr, duration=duration, usages=(), is_ca=False, now=NOW)


def test_chain_order_is_kept(ec_key: ec.EllipticCurvePrivateKey, ca: tuple[PrivateKey, x509.Certificate]) -> None:
    leaf = _leaf(ec_key, ca, timedelta(hours=1))
    chain = parse_pem_chain(chain_pem([leaf, ca[1]]))
    assert chain == [leaf, ca[1]]


def test_chain_pem_is_concatenated_certificate_pems(
    ec_key: ec.EllipticCurvePrivateKey, ca: tuple[PrivateKey, x509.Certificate]
) -> None:
    leaf = _leaf(ec_key, ca, timedelta(hours=1))
    assert chain_pem([leaf, ca[1]]) == certificate_pem(leaf) + certificate_pem(ca[1])
    assert certificate_pem(leaf).startswith(b"-----BEGIN CERTIFICATE-----\n")
    assert chain_pem([]) == b""


def test_other_pem_blocks_are_skipped(
    ec_key: ec.EllipticCurvePrivateKey, ca: tuple[PrivateKey, x509.Certificate]
) -> None:
    pem = encode_private_key(ec_key, "PKCS8") + certificate_pem(ca[1])
    assert parse_pem_chain(pem) == [ca[1]]


@pytest.mark.parametrize(
    ("pem", "fragment"),
    [
        (b"", 'no "CERTIFICATE" PEM block'),
        (b"garbage", 'no "CERTIFICATE" PEM block'),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "malformed"),
        (b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "malformed"),
    ],
)
def test_parse_garbage(pem: bytes, fragment: str) -> None:
    with pytest.raises(ValueError, match=f"^failed to decode PEM certificate chain: .*{fragment}"):
        parse_pem_chain(pem)


def test_leaf_validity_is_aware_utc(
    ec_key: ec.EllipticCurvePrivateKey, ca: tuple[PrivateKey, x509.Certificate]
) -> None:
    leaf = _leaf(ec_key, ca, timedelta(hours=72))
    validity = leaf_validity(chain_pem([leaf, ca[1]]))
    assert validity == Validity(not_before=NOW, not_after=NOW + timedelta(hours=72))
    assert validity.not_before.tzinfo is UTC
    assert validity.not_after.tzinfo is UTC


def test_leaf_validity_reads_the_first_certificate(
    ec_key: ec.EllipticCurvePrivateKey, ca: tuple[PrivateKey, x509.Certificate]
) -> None:
    leaf = _leaf(ec_key, ca, timedelta(hours=1))
    assert leaf_validity(chain_pem([leaf, ca[1]])).not_after == datetime(2025, 1, 1, 13, tzinfo=UTC)


@pytest.mark.parametrize("fixture", ["rsa_key", "ec_key", "ed_key"])
def test_key_matches_its_certificate(
    fixture: str, request: pytest.FixtureRequest, ca: tuple[PrivateKey, x509.Certificate]
) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    assert key_matches_certificate(key, _leaf(key, ca, timedelta(hours=1)))


def test_key_does_not_match_another_certificate(
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
    ca: tuple[PrivateKey, x509.Certificate],
) -> None:
    leaf = _leaf(ec_key, ca, timedelta(hours=1))
    assert not key_matches_certificate(rsa_key, leaf)
    assert not key_matches_certificate(ed_key, leaf)
    assert not key_matches_certificate(ec_key, ca[1])
