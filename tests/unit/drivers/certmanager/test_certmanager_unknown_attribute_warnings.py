"""validate() returns a warning per unknown csi.cert-manager.io key; a strict driver refuses the volume."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.errors import InvalidVolumeAttribute
from certcsi.volumes.driver import Volume, VolumeWarning

TYPO = "csi.cert-manager.io/keystore-pkcs12-enable"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"


def test_an_unknown_key_is_a_warning_naming_it_and_the_nearest_known_one(volume_for: Callable[..., Volume]) -> None:
    (warning,) = CertManagerDriver().validate(volume_for({TYPO: "true-and-secret-ish"}))
    assert isinstance(warning, VolumeWarning)
    assert warning.reason == "UnknownVolumeAttribute"
    assert TYPO in warning.message
    assert "did you mean 'csi.cert-manager.io/pkcs12-enable'?" in warning.message
    assert "true-and-secret-ish" not in warning.message


def test_known_keys_give_no_warning(volume_for: Callable[..., Volume]) -> None:
    assert CertManagerDriver().validate(volume_for({"example.com/team": "a"})) == ()


def test_a_warning_never_shows_a_token_shaped_key(volume_for: Callable[..., Volume]) -> None:
    (warning,) = CertManagerDriver().validate(volume_for({f"csi.cert-manager.io/{JWT}": "x"}))
    assert JWT not in warning.message


def test_a_strict_driver_refuses_an_unknown_key(volume_for: Callable[..., Volume]) -> None:
    with pytest.raises(InvalidVolumeAttribute) as info:
        CertManagerDriver(strict_attributes=True).validate(volume_for({TYPO: "true"}))
    assert info.value.attribute == TYPO
    assert "did you mean 'csi.cert-manager.io/pkcs12-enable'?" in info.value.rule


@pytest.mark.parametrize("pad", [0, 290, 300, 310])
def test_a_warning_never_shows_the_pkcs12_password_even_in_a_key(volume_for: Callable[..., Volume], pad: int) -> None:
    password = "\u2603hunter2-password"
    volume = volume_for(
        {"csi.cert-manager.io/" + "x" * pad + password: "1", "csi.cert-manager.io/pkcs12-enable": "true"},
        secrets={"csi.cert-manager.io/pkcs12-password": password},
    )
    (warning,) = CertManagerDriver().validate(volume)
    assert "\u2603" not in warning.message
