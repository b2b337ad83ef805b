"""Rule 5 (key-usage), exhaustively: of the 2^9 KeyUsage bit sets only subsets of
{digitalSignature, keyEncipherment} pass.

The extension is DER-encoded here (a 9-bit BIT STRING) because cryptography cannot build the
combinations RFC 5280 makes meaningless (encipherOnly without keyAgreement); the encoder is checked
against cryptography's own encoding wherever cryptography can build the value.
"""

from __future__ import annotations

import itertools

import pytest
from approver_support import POLICY, SPIFFE_ID, assert_approved, csr_pem, make_request, uri_san
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from certcsi.approver import evaluate

# RFC 5280 bit order.
BITS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)
ALLOWED = {"digital_signature", "key_encipherment"}
COMBINATIONS = [frozenset(c) for n in range(len(BITS) + 1) for c in itertools.combinations(BITS, n)]


def key_usage_der(flags: frozenset[str]) -> bytes:
    """DER BIT STRING with named-bit trailing zeros dropped, as X.690 §11.2.2 requires."""
    if not flags:
        return bytes([0x03, 0x01, 0x00])
    positions = [BITS.index(f) for f in flags]
    length = max(positions) + 1
    data = bytearray((length + 7) // 8)
    for p in positions:
        data[p // 8] |= 0x80 >> (p % 8)
    return bytes([0x03, 1 + len(data), len(data) * 8 - length, *data])


def _constructible(flags: frozenset[str]) -> bool:
    return "key_agreement" in flags or not flags & {"encipher_only", "decipher_only"}


def test_there_are_512_combinations() -> None:
    assert len(set(COMBINATIONS)) == 512


@pytest.mark.parametrize("flags", [c for c in COMBINATIONS if _constructible(c)], ids=lambda c: "+".join(sorted(c)))
def test_the_encoder_matches_cryptography(flags: frozenset[str]) -> None:
    assert x509.KeyUsage(**{b: b in flags for b in BITS}).public_bytes() == key_usage_der(flags)


@pytest.mark.parametrize("flags", COMBINATIONS, ids=lambda c: "+".join(sorted(c)) or "none")
def test_only_subsets_of_the_allowed_usages_pass(flags: frozenset[str]) -> None:
    extension = x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, key_usage_der(flags))
    verdict = evaluate(make_request(csr_pem(extensions=[uri_san(SPIFFE_ID), (extension, True)])), POLICY)
    if flags <= ALLOWED:
        assert_approved(verdict)
        return
    assert verdict.approved is False
    if _constructible(flags):
        assert verdict.rule == "key-usage", verdict
        # Every forbidden usage is named by its cert-manager spelling.
        for flag in flags - ALLOWED:
            assert flag.replace("_", " ").replace("key cert sign", "cert sign") in verdict.reason, verdict.reason
    else:
        assert verdict.rule == "request", verdict  # undecodable, like Go's parser
