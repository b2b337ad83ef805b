"""The driver parses a volume context once, however many callbacks an issuance makes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.drivers.certmanager import driver as driver_module
from certcsi.drivers.certmanager.attributes import CertAttributes, parse_attributes
from certcsi.errors import InvalidVolumeAttribute
from certcsi.volumes.driver import Volume


def test_callbacks_share_one_parse(monkeypatch: pytest.MonkeyPatch, volume_for: Callable[..., Volume]) -> None:
    calls: list[int] = []

    def counting(context: dict[str, str], *, pod_ip: str | None = None) -> CertAttributes:
        calls.append(1)
        return parse_attributes(context, pod_ip=pod_ip)

    monkeypatch.setattr(driver_module, "parse_attributes", counting)
    driver = CertManagerDriver()
    volume = volume_for({})
    driver.validate(volume)
    driver.fs_group(volume)
    driver.attributes(volume)
    driver.validate(volume_for({}))  # an equal context, a new Volume object
    assert len(calls) == 1
    driver.validate(volume_for({"csi.cert-manager.io/duration": "1h"}))
    assert len(calls) == 2


def test_name_is_configurable() -> None:
    assert CertManagerDriver().name == "csi.cert-manager.io"
    assert CertManagerDriver(name="csi.example.com").name == "csi.example.com"


def test_validate_raises_for_a_bad_volume(volume_for: Callable[..., Volume]) -> None:
    with pytest.raises(InvalidVolumeAttribute):
        CertManagerDriver().validate(volume_for({"csi.cert-manager.io/issuer-name": None}))
