"""key-algorithm, key-size and key-encoding: defaults per algorithm and the rules that tie them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from certcsi.drivers.certmanager.attributes import KEY_ALGORITHM, KEY_ENCODING, KEY_SIZE, CertAttributes
from certcsi.errors import InvalidVolumeAttribute
from certcsi.pki.keys import KeySpec

Parse = Callable[[Mapping[str, str | None]], CertAttributes]
Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, KeySpec("RSA", 2048, "PKCS1")),
        ({KEY_ALGORITHM: "rsa", KEY_SIZE: "4096"}, KeySpec("RSA", 4096, "PKCS1")),
        ({KEY_ALGORITHM: "RSA", KEY_SIZE: "8192", KEY_ENCODING: "PKCS8"}, KeySpec("RSA", 8192, "PKCS8")),
        ({KEY_ALGORITHM: "ECDSA"}, KeySpec("ECDSA", 256, "PKCS8")),
        ({KEY_ALGORITHM: "ecdsa", KEY_SIZE: "384"}, KeySpec("ECDSA", 384, "PKCS8")),
        ({KEY_ALGORITHM: "ECDSA", KEY_SIZE: "521"}, KeySpec("ECDSA", 521, "PKCS8")),
        ({KEY_ALGORITHM: "Ed25519"}, KeySpec("Ed25519", None, "PKCS8")),
        ({KEY_ALGORITHM: "ED25519", KEY_ENCODING: "PKCS8"}, KeySpec("Ed25519", None, "PKCS8")),
        # Upstream normalises the encoding's case and parses the size with Go's Atoi (a "+" sign is fine).
        ({KEY_ENCODING: "pkcs8"}, KeySpec("RSA", 2048, "PKCS8")),
        ({KEY_ENCODING: "pkcs1"}, KeySpec("RSA", 2048, "PKCS1")),
        ({KEY_ALGORITHM: "ecdsa", KEY_ENCODING: "Pkcs8"}, KeySpec("ECDSA", 256, "PKCS8")),
        ({KEY_SIZE: "+3072"}, KeySpec("RSA", 3072, "PKCS1")),
    ],
)
def test_key_specs(parse: Parse, overrides: dict[str, str], expected: KeySpec) -> None:
    assert parse(overrides).key == expected


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({KEY_ALGORITHM: "DSA"}, KEY_ALGORITHM, "must be RSA, ECDSA or Ed25519"),
        ({KEY_SIZE: "1024"}, KEY_SIZE, "from 2048 to 8192"),
        ({KEY_SIZE: "8193"}, KEY_SIZE, "from 2048 to 8192"),
        ({KEY_SIZE: "big"}, KEY_SIZE, "from 2048 to 8192"),
        ({KEY_ALGORITHM: "ECDSA", KEY_SIZE: "512"}, KEY_SIZE, "256, 384 or 521"),
        ({KEY_ALGORITHM: "Ed25519", KEY_SIZE: "256"}, KEY_SIZE, "must be empty when key-algorithm is Ed25519"),
        ({KEY_ENCODING: "PKCS12"}, KEY_ENCODING, 'must be "PKCS1" or "PKCS8"'),
        ({KEY_ALGORITHM: "ECDSA", KEY_ENCODING: "PKCS1"}, KEY_ENCODING, "PKCS1 can only encode RSA keys"),
        ({KEY_ALGORITHM: "Ed25519", KEY_ENCODING: "PKCS1"}, KEY_ENCODING, "PKCS1 can only encode RSA keys"),
    ],
)
def test_bad_key_attributes(reject: Reject, overrides: dict[str, str], key: str, fragment: str) -> None:
    err = reject(overrides)
    assert err.attribute == key
    assert fragment in err.rule
