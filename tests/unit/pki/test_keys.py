"""Private keys: generation to a spec, PEM encodings, loading, and the signature hash per key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from certcsi.pki.keys import (
    KeySpec,
    PrivateKey,
    encode_private_key,
    generate_private_key,
    load_private_key,
    signature_hash,
)


def _public_der(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_default_spec_is_pkcs8() -> None:
    assert KeySpec("RSA") == KeySpec(algorithm="RSA", size=None, encoding="PKCS8")


def test_rsa_default_size_is_2048(rsa_key: rsa.RSAPrivateKey) -> None:
    assert rsa_key.key_size == 2048
    assert rsa_key.public_key().public_numbers().e == 65537


@pytest.mark.parametrize("size", [2048, 3072, 4096, 8192])
def test_rsa_sizes_reach_the_generator(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Generating 8192-bit keys for real takes seconds; the range check is what is ours.
    calls: list[tuple[int, int]] = []

    def fake(*, public_exponent: int, key_size: int) -> str:
        calls.append((public_exponent, key_size))
        return "generated"

    monkeypatch.setattr(rsa, "generate_private_key", fake)
    assert generate_private_key(KeySpec("RSA", size)) == "generated"  # type: ignore[comparison-overlap]
    assert calls == [(65537, size)]


@pytest.mark.parametrize(
    ("size", "curve"),
    [(None, ec.SECP256R1), (256, ec.SECP256R1), (384, ec.SECP384R1), (521, ec.SECP521R1)],
)
def test_ecdsa_sizes_map_to_curves(size: int | None, curve: type[ec.EllipticCurve]) -> None:
    key = generate_private_key(KeySpec("ECDSA", size))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, curve)


def test_ed25519() -> None:
    assert isinstance(generate_private_key(KeySpec("Ed25519")), ed25519.Ed25519PrivateKey)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (KeySpec("RSA", 1024), "between 2048 and 8192"),
        (KeySpec("RSA", 2047), "between 2048 and 8192"),
        (KeySpec("RSA", 8193), "between 2048 and 8192"),
        (KeySpec("ECDSA", 224), "256, 384, 521"),
        (KeySpec("ECDSA", 2048), "256, 384, 521"),
        (KeySpec("Ed25519", 256), "no key size"),
        (KeySpec("DSA"), "RSA, ECDSA, Ed25519"),  # type: ignore[arg-type]
    ],
)
def test_bad_spec_is_rejected_with_the_rule(spec: KeySpec, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        generate_private_key(spec)


def test_pkcs1_is_rsa_private_key_pem(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = encode_private_key(rsa_key, "PKCS1")
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    assert _public_der(load_private_key(pem)) == _public_der(rsa_key)


@pytest.mark.parametrize("fixture", ["rsa_key", "ec_key", "ed_key"])
def test_pkcs8_is_private_key_pem_and_round_trips(fixture: str, request: pytest.FixtureRequest) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    pem = encode_private_key(key, "PKCS8")
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = load_private_key(pem)
    assert type(loaded) is type(key)
    assert _public_der(loaded) == _public_der(key)


@pytest.mark.parametrize("fixture", ["ec_key", "ed_key"])
def test_pkcs1_on_non_rsa_is_rejected(fixture: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(ValueError, match="PKCS1 key encoding is only valid for RSA"):
        encode_private_key(request.getfixturevalue(fixture), "PKCS1")


def test_unknown_encoding_is_rejected(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="PKCS1 or PKCS8"):
        encode_private_key(ec_key, "SEC1")  # type: ignore[arg-type]


def test_sec1_ec_key_loads(ec_key: ec.EllipticCurvePrivateKey) -> None:
    sec1 = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert sec1.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert _public_der(load_private_key(sec1)) == _public_der(ec_key)


@pytest.mark.parametrize(
    "pem",
    [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
)
def test_load_garbage_fails_without_echoing_input(pem: bytes) -> None:
    with pytest.raises(ValueError, match=r"^failed to decode private key PEM$") as excinfo:
        load_private_key(pem)
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__


def test_load_encrypted_key_fails(ec_key: ec.EllipticCurvePrivateKey) -> None:
    encrypted = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"hunter2"),
    )
    with pytest.raises(ValueError, match="failed to decode private key PEM"):
        load_private_key(encrypted)


def test_load_unsupported_algorithm_fails() -> None:
    pem = ed448.Ed448PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="unsupported private key type"):
        load_private_key(pem)


@pytest.mark.parametrize(
    ("spec", "digest"),
    [
        (KeySpec("ECDSA", 256), hashes.SHA256),
        (KeySpec("ECDSA", 384), hashes.SHA384),
        (KeySpec("ECDSA", 521), hashes.SHA512),
    ],
)
def test_signature_hash_follows_curve(spec: KeySpec, digest: type[hashes.HashAlgorithm]) -> None:
    assert isinstance(signature_hash(generate_private_key(spec)), digest)


def test_signature_hash_rsa_and_ed25519(rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey) -> None:
    assert isinstance(signature_hash(rsa_key), hashes.SHA256)
    assert signature_hash(ed_key) is None
