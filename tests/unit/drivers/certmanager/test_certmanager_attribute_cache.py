"""The driver parses a volume context once, however many callbacks an issuance makes."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from dataclasses import replace

import pytest

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.drivers.certmanager import driver as driver_module
from certcsi.drivers.certmanager.attributes import CertAttributes, parse_attributes
from certcsi.errors import InvalidVolumeAttribute
from certcsi.volumes.driver import Volume


def test_callbacks_share_one_parse(monkeypatch: pytest.MonkeyPatch, volume_for: Callable[..., Volume]) -> None:
    calls: list[int] = []

    def counting(context: dict[str, str], *, pod_ip: str | None = None, strict: bool = False) -> CertAttributes:
        calls.append(1)
        return parse_attributes(context, pod_ip=pod_ip, strict=strict)

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


def _big_volume(volume_for: Callable[..., Volume], i: int) -> Volume:
    # Valid (a foreign key is an annotation), distinct and about 1 MB: what a failing issuer leaves behind.
    return replace(volume_for({"example.com/blob": f"{i}" + "x" * 1_000_000}), volume_id=f"csi-{i}")


def test_memory_held_by_parsed_contexts_is_bounded(volume_for: Callable[..., Volume]) -> None:
    driver = CertManagerDriver(cache_bytes=8 * 1024 * 1024)
    tracemalloc.start()
    try:
        for i in range(150):
            driver.validate(_big_volume(volume_for, i))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 2 * 8 * 1024 * 1024, f"{held / 2**20:.0f} MiB still held after 150 contexts of 1 MB"


def test_a_forgotten_volume_leaves_the_cache(
    monkeypatch: pytest.MonkeyPatch, volume_for: Callable[..., Volume]
) -> None:
    calls: list[int] = []

    def counting(context: dict[str, str], *, pod_ip: str | None = None, strict: bool = False) -> CertAttributes:
        calls.append(1)
        return parse_attributes(context, pod_ip=pod_ip, strict=strict)

    monkeypatch.setattr(driver_module, "parse_attributes", counting)
    driver = CertManagerDriver()
    volume = _big_volume(volume_for, 1)
    driver.validate(volume)
    driver.forget(volume.volume_id)
    tracemalloc.start()
    try:
        driver.validate(volume_for({}))
        assert tracemalloc.get_traced_memory()[0] < 500_000
    finally:
        tracemalloc.stop()
    driver.validate(volume)
    assert len(calls) == 3


def test_a_failed_parse_is_not_kept(monkeypatch: pytest.MonkeyPatch, volume_for: Callable[..., Volume]) -> None:
    calls: list[int] = []

    def counting(context: dict[str, str], *, pod_ip: str | None = None, strict: bool = False) -> CertAttributes:
        calls.append(1)
        return parse_attributes(context, pod_ip=pod_ip, strict=strict)

    monkeypatch.setattr(driver_module, "parse_attributes", counting)
    driver = CertManagerDriver()
    bad = volume_for({"csi.cert-manager.io/duration": "soon"})
    for _ in range(2):
        with pytest.raises(InvalidVolumeAttribute):
            driver.validate(bad)
    assert len(calls) == 2


def test_a_new_pod_ip_reparses_only_a_context_that_uses_it(
    monkeypatch: pytest.MonkeyPatch, volume_for: Callable[..., Volume]
) -> None:
    # With readiness gates the engine asks with a placeholder IP at publish and the pod's at issuance.
    calls: list[str | None] = []

    def counting(context: dict[str, str], *, pod_ip: str | None = None, strict: bool = False) -> CertAttributes:
        calls.append(pod_ip)
        return parse_attributes(context, pod_ip=pod_ip, strict=strict)

    monkeypatch.setattr(driver_module, "parse_attributes", counting)
    driver = CertManagerDriver()
    plain = volume_for({})
    for pod_ip in ("192.0.2.1", "10.0.0.7", "192.0.2.1"):
        driver.attributes(replace(plain, pod_ip=pod_ip))
    assert len(calls) == 1
    uses_ip = replace(volume_for({"csi.cert-manager.io/ip-sans": "${POD_IP}"}), volume_id="csi-ip")
    assert (
        driver.attributes(replace(uses_ip, pod_ip="192.0.2.1")).ip_addresses
        != driver.attributes(replace(uses_ip, pod_ip="10.0.0.7")).ip_addresses
    )
    assert calls[1:] == ["192.0.2.1", "10.0.0.7"]
