"""The label hash is csi-lib's: FNV-1 (not 1a), 32-bit, decimal, digits mapped into a fixed alphabet."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from certcsi.volumes.issuance import fnv_hash_label

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def mapped(decimal: str) -> str:
    return "".join(ALPHABET[ord(c) % 27] for c in decimal)


def test_upstream_vector() -> None:
    assert fnv_hash_label("test-node") == "f56fd9f8b"


def test_is_fnv1_not_fnv1a() -> None:
    # FNV-1("a") = 0x050c5d7e = 84696446; FNV-1a("a") would be 0xe40c292c = 3826002220.
    assert fnv_hash_label("a") == mapped("84696446")
    assert fnv_hash_label("a") != mapped("3826002220")


def test_empty_string_is_the_offset_basis() -> None:
    assert fnv_hash_label("") == mapped("2166136261")


def test_hashes_utf8_bytes() -> None:
    # Go hashes the string's bytes: "é" is c3 a9 in UTF-8, so two multiply-xor rounds.
    digest = 2166136261
    for byte in (0xC3, 0xA9):
        digest = (digest * 16777619) & 0xFFFFFFFF ^ byte
    assert fnv_hash_label("é") == mapped(str(digest))


@given(st.text())
def test_always_a_valid_label_value(value: str) -> None:
    label = fnv_hash_label(value)
    assert 1 <= len(label) <= 10
    assert set(label) <= set(ALPHABET)
