"""Between issuances the engine keeps a volume's key compactly; reuse-private-key still gets that very key back."""

from __future__ import annotations

import asyncio
import sys

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key
from test_manager_lifecycle import Req, Rig, context, rig

__all__ = ["rig"]  # the fixture, shared with the lifecycle tests


def public_key(rig: Rig) -> bytes:
    pem = rig.store.read_file("vol-1", "tls.key")
    assert pem is not None
    key = load_pem_private_key(pem, None)
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


async def renew(rig: Rig) -> None:
    created = len(rig.issuance.created)
    rig.clock.advance(3600)
    for _ in range(200):
        await asyncio.sleep(0)
        if len(rig.issuance.created) > created and rig.manager._states["vol-1"].failures == 0:
            meta = rig.store.read_metadata("vol-1")
            if meta is not None and meta.next_issuance_time is not None and meta.next_issuance_time > rig.clock.now():
                return
    raise AssertionError("no renewal")


@pytest.mark.parametrize("algorithm", ["ECDSA", "RSA", "Ed25519"])
async def test_reuse_private_key_survives_renewals(rig: Rig, algorithm: str) -> None:
    await rig.manager.publish(Req("vol-1", rig.target(), context(key_algorithm=algorithm, reuse_private_key="true")))
    first = public_key(rig)
    await renew(rig)
    await renew(rig)
    assert len(rig.issuance.created) == 3
    assert public_key(rig) == first


async def test_without_reuse_every_renewal_has_a_new_key(rig: Rig) -> None:
    await rig.manager.publish(Req("vol-1", rig.target(), context()))
    first = public_key(rig)
    await renew(rig)
    assert public_key(rig) != first


async def test_a_kept_p256_key_is_small(rig: Rig) -> None:
    await rig.manager.publish(Req("vol-1", rig.target(), context()))
    kept = rig.manager._states["vol-1"].key
    assert kept is not None
    assert sys.getsizeof(kept.der) < 200  # a live OpenSSL key object takes about 2 KB
