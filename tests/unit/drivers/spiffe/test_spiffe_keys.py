"""generate_key(): a fresh ECDSA P-256 key at every issuance, never the previous one."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from spiffe_support import driver, volume


async def test_the_key_is_ecdsa_p256() -> None:
    key = await driver().generate_key(volume(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)


async def test_the_previous_key_is_never_reused() -> None:
    d, v = driver(), volume()
    first = await d.generate_key(v, None)
    second = await d.generate_key(v, first)
    assert second is not first
    assert second.private_numbers() != first.private_numbers()  # type: ignore[union-attr]
