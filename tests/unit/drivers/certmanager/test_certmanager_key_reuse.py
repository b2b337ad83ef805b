"""generate_key: a fresh key to the spec, or the previous one when reuse-private-key asks and it still fits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.volumes.driver import Volume

VolumeFor = Callable[..., Volume]
REUSE = {"csi.cert-manager.io/reuse-private-key": "true"}


async def test_fresh_key_follows_the_spec(volume_for: VolumeFor) -> None:
    driver = CertManagerDriver()
    key = await driver.generate_key(
        volume_for({"csi.cert-manager.io/key-algorithm": "ECDSA", "csi.cert-manager.io/key-size": "384"}), None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP384R1)
    ed = await driver.generate_key(volume_for({"csi.cert-manager.io/key-algorithm": "Ed25519"}), None)
    assert isinstance(ed, ed25519.Ed25519PrivateKey)


async def test_previous_key_is_reused_when_asked(volume_for: VolumeFor, rsa_key: rsa.RSAPrivateKey) -> None:
    assert await CertManagerDriver().generate_key(volume_for(REUSE), rsa_key) is rsa_key


async def test_previous_key_is_replaced_by_default(volume_for: VolumeFor, ec_key: ec.EllipticCurvePrivateKey) -> None:
    volume = volume_for({"csi.cert-manager.io/key-algorithm": "ECDSA"})
    new = await CertManagerDriver().generate_key(volume, ec_key)
    assert isinstance(new, ec.EllipticCurvePrivateKey)
    assert new.private_numbers() != ec_key.private_numbers()


@pytest.mark.parametrize(
    "overrides",
    [
        {"csi.cert-manager.io/key-algorithm": "ECDSA"},  # wrong algorithm
        {"csi.cert-manager.io/key-algorithm": "ECDSA", "csi.cert-manager.io/key-size": "384"},
    ],  # wrong curve
)
async def test_a_previous_key_that_no_longer_fits_is_replaced(
    volume_for: VolumeFor, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey, overrides: dict[str, str]
) -> None:
    previous = rsa_key if "csi.cert-manager.io/key-size" not in overrides else ec_key
    new = await CertManagerDriver().generate_key(volume_for({**REUSE, **overrides}), previous)
    assert new is not previous
    assert isinstance(new, ec.EllipticCurvePrivateKey)
    assert new.curve.key_size == int(overrides.get("csi.cert-manager.io/key-size", "256"))
