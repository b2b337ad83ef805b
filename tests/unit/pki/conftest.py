"""Shared, session-scoped keys and a CA: key generation dominates test time otherwise."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certcsi.pki.keys import KeySpec, PrivateKey, generate_private_key
from certcsi.pki.signing import create_ca

from .support import NOW


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    key = generate_private_key(KeySpec("RSA"))
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    key = generate_private_key(KeySpec("ECDSA"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


@pytest.fixture(scope="session")
def ed_key() -> ed25519.Ed25519PrivateKey:
    key = generate_private_key(KeySpec("Ed25519"))
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


@pytest.fixture(scope="session")
def ca() -> tuple[PrivateKey, x509.Certificate]:
    return create_ca(common_name="certcsi test CA", now=NOW)
