"""Stricter rule (key-type): only the key type the driver generates (ECDSA P-256) unless widened."""

from __future__ import annotations

from dataclasses import replace

import pytest
from approver_support import POLICY, assert_approved, assert_denied, csr_pem, make_request
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certcsi.approver import DEFAULT_KEY_TYPES, KEY_TYPES, Policy, evaluate, key_type, parse_key_types
from certcsi.pki.keys import PrivateKey

RSA_2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
P384 = ec.generate_private_key(ec.SECP384R1())
ED25519 = ed25519.Ed25519PrivateKey.generate()


def _request_signed_by(key: PrivateKey) -> dict[str, object]:
    return make_request(csr_pem(key=key))


def test_the_default_is_ecdsa_p256_only() -> None:
    assert {"ECDSA-P256"} == DEFAULT_KEY_TYPES
    assert POLICY.allowed_key_types == DEFAULT_KEY_TYPES
    assert_approved(evaluate(make_request(), POLICY))


@pytest.mark.parametrize(("key", "token"), [(RSA_2048, "RSA-2048"), (P384, "ECDSA-P384"), (ED25519, "Ed25519")])
def test_other_key_types_are_denied_by_default(key: PrivateKey, token: str) -> None:
    verdict = evaluate(_request_signed_by(key), POLICY)
    assert_denied(verdict, "key-type", f"key type {token} is not allowed", "ECDSA-P256")


@pytest.mark.parametrize(("key", "token"), [(RSA_2048, "RSA-2048"), (P384, "ECDSA-P384"), (ED25519, "Ed25519")])
def test_widening_allows_a_key_type(key: PrivateKey, token: str) -> None:
    policy = replace(POLICY, allowed_key_types=frozenset({"ECDSA-P256", token}))
    assert_approved(evaluate(_request_signed_by(key), policy))


def test_widening_to_one_type_does_not_allow_another() -> None:
    policy = replace(POLICY, allowed_key_types=frozenset({"RSA-2048"}))
    assert_denied(evaluate(make_request(), policy), "key-type", "ECDSA-P256")


def test_key_type_names_any_key() -> None:
    assert key_type(RSA_2048.public_key()) == "RSA-2048"
    assert key_type(P384.public_key()) == "ECDSA-P384"
    assert key_type(ec.generate_private_key(ec.SECP256K1()).public_key()) == "ECDSA-secp256k1"
    assert key_type(object()) == "object"


def test_parse_key_types_is_case_insensitive_and_canonical() -> None:
    assert parse_key_types("ecdsa-p256, RSA-2048,,ed25519") == {"ECDSA-P256", "RSA-2048", "Ed25519"}


@pytest.mark.parametrize("text", ["RSA-1024", "ECDSA-P256,DSA-2048", "", " , "])
def test_parse_key_types_rejects_unknown_or_empty(text: str) -> None:
    with pytest.raises(ValueError, match="--allowed-key-types"):
        parse_key_types(text)


def test_policy_rejects_unknown_key_types() -> None:
    with pytest.raises(ValueError, match="allowed_key_types"):
        Policy(trust_domain="td", allowed_key_types=frozenset({"RSA-1024"}))
    with pytest.raises(ValueError, match="allowed_key_types"):
        Policy(trust_domain="td", allowed_key_types=frozenset())
    assert Policy(trust_domain="td", allowed_key_types=KEY_TYPES).allowed_key_types == KEY_TYPES
