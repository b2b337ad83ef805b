"""Private keys: generate them to a spec, encode them as PEM, load them back.

Errors never include key material: a failed load says only that the PEM could not be decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = [
    "DEFAULT_ECDSA_SIZE",
    "DEFAULT_RSA_SIZE",
    "ECDSA_CURVES",
    "KeyAlgorithm",
    "KeyEncoding",
    "KeySpec",
    "KeyType",
    "PrivateKey",
    "encode_private_key",
    "generate_private_key",
    "key_type",
    "load_private_key",
    "signature_hash",
]

# Every key type certcsi generates and reads back; the engine and the drivers pass it around.
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

KeyAlgorithm = Literal["RSA", "ECDSA", "Ed25519"]
KeyEncoding = Literal["PKCS1", "PKCS8"]

DEFAULT_RSA_SIZE = 2048
DEFAULT_ECDSA_SIZE = 256
MIN_RSA_SIZE = 2048
MAX_RSA_SIZE = 8192
# The key-size attribute names the curve by its field size, as cert-manager does.
ECDSA_CURVES: dict[int, type[ec.EllipticCurve]] = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}

# RSA's public exponent is fixed at 65537, as in Go's crypto/rsa.
_RSA_PUBLIC_EXPONENT = 65537


@dataclass(frozen=True)
class KeySpec:
    """Which key to generate; `size` None means the algorithm's default (RSA 2048, ECDSA 256)."""

    algorithm: KeyAlgorithm
    size: int | None = None
    encoding: KeyEncoding = "PKCS8"


@dataclass(frozen=True)
class KeyType:
    """What makes two keys interchangeable: the algorithm and its size (None for Ed25519), defaults resolved."""

    algorithm: KeyAlgorithm
    size: int | None

    def __str__(self) -> str:
        return self.algorithm if self.size is None else f"{self.algorithm}-{self.size}"


def key_type(spec: KeySpec) -> KeyType:
    """The type of key `spec` asks for; ValueError naming the rule when the size does not fit the algorithm."""
    if spec.algorithm == "RSA":
        size = DEFAULT_RSA_SIZE if spec.size is None else spec.size
        if not MIN_RSA_SIZE <= size <= MAX_RSA_SIZE:
            raise ValueError(f"RSA key size must be between {MIN_RSA_SIZE} and {MAX_RSA_SIZE}, got {size}")
        return KeyType("RSA", size)
    if spec.algorithm == "ECDSA":
        size = DEFAULT_ECDSA_SIZE if spec.size is None else spec.size
        if size not in ECDSA_CURVES:
            raise ValueError(f"ECDSA key size must be one of 256, 384, 521, got {size}")
        return KeyType("ECDSA", size)
    if spec.algorithm == "Ed25519":
        if spec.size is not None:
            raise ValueError("Ed25519 keys take no key size")
        return KeyType("Ed25519", None)
    raise ValueError(f"key algorithm must be one of RSA, ECDSA, Ed25519, got {spec.algorithm!r}")


def generate_private_key(spec: KeySpec | KeyType) -> PrivateKey:
    """A fresh key for `spec`; ValueError naming the rule when the size does not fit the algorithm."""
    kind = spec if isinstance(spec, KeyType) else key_type(spec)
    if kind.algorithm == "RSA":
        assert kind.size is not None
        return rsa.generate_private_key(public_exponent=_RSA_PUBLIC_EXPONENT, key_size=kind.size)
    if kind.algorithm == "ECDSA":
        assert kind.size is not None
        return ec.generate_private_key(ECDSA_CURVES[kind.size]())
    return ed25519.Ed25519PrivateKey.generate()


def encode_private_key(key: PrivateKey, encoding: KeyEncoding) -> bytes:
    """PEM: PKCS1 → "RSA PRIVATE KEY" (RSA only), PKCS8 → "PRIVATE KEY"; never encrypted."""
    if encoding == "PKCS1":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("PKCS1 key encoding is only valid for RSA keys; use PKCS8")
        private_format = serialization.PrivateFormat.TraditionalOpenSSL
    elif encoding == "PKCS8":
        private_format = serialization.PrivateFormat.PKCS8
    else:
        raise ValueError(f"key encoding must be PKCS1 or PKCS8, got {encoding!r}")
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=private_format,
        encryption_algorithm=serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> PrivateKey:
    """Load an unencrypted PEM RSA, ECDSA or Ed25519 key (PKCS#1, SEC1 or PKCS#8)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # `from None`: the underlying error may describe the input, which is secret.
        raise ValueError("failed to decode private key PEM") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}; want RSA, ECDSA or Ed25519")
    return key


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """The digest Go's crypto/x509 pairs with a signing key; None for Ed25519 (it hashes internally)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size >= 521:
            return hashes.SHA512()
        if key.curve.key_size >= 384:
            return hashes.SHA384()
    return hashes.SHA256()
