"""Key algorithms and encodings: RSA 2048 PKCS#1, ECDSA P-384 PKCS#8, Ed25519; each key signs its certificate's key."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from e2e_harness import E2E, NAMESPACE, check_pair, pod_manifest, read_snapshot, typical_attributes

from certcsi.pki.certs import parse_pem_chain

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Case:
    attributes: dict[str, str]
    pem_label: bytes
    key_type: type
    key_size: int | None


CASES = {
    "rsa-2048-pkcs1": Case(
        {"key-algorithm": "RSA", "key-size": "2048", "key-encoding": "PKCS1"},
        b"-----BEGIN RSA PRIVATE KEY-----",
        rsa.RSAPrivateKey,
        2048,
    ),
    "ecdsa-p384-pkcs8": Case(
        {"key-algorithm": "ECDSA", "key-size": "384", "key-encoding": "PKCS8"},
        b"-----BEGIN PRIVATE KEY-----",
        ec.EllipticCurvePrivateKey,
        384,
    ),
    "ed25519": Case({"key-algorithm": "Ed25519"}, b"-----BEGIN PRIVATE KEY-----", ed25519.Ed25519PrivateKey, None),
}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_key_algorithm(env: E2E, name: str) -> None:
    case = CASES[name]
    await env.kubelet.apply(pod_manifest(name, typical_attributes(**case.attributes)))
    await env.kubelet.wait_ready(NAMESPACE, name, timeout=30)
    target = env.target(name)
    check_pair(target)

    files = read_snapshot(target)
    assert files["tls.key"].startswith(case.pem_label), files["tls.key"][:40]
    key = serialization.load_pem_private_key(files["tls.key"], password=None)
    assert isinstance(key, case.key_type)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert isinstance(key.curve, ec.SECP384R1)
    if case.key_size is not None:
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        assert key.key_size == case.key_size
    leaf = parse_pem_chain(files["tls.crt"])[0]
    assert isinstance(leaf.public_key(), type(key.public_key()))
