"""Pod IPs handed out by the sandbox kubelet."""

from __future__ import annotations

import pytest

from certcsi.sandbox.kubelet.addressing import PodAddresses


def test_addresses_are_handed_out_in_order() -> None:
    pool = PodAddresses(["10.244.0.0/16"])
    assert [pool.allocate() for _ in range(3)] == [["10.244.0.1"], ["10.244.0.2"], ["10.244.0.3"]]


def test_reserved_addresses_are_skipped() -> None:
    pool = PodAddresses(["10.244.0.0/16"])
    pool.reserve(["10.244.0.1", "10.244.0.2"])
    assert pool.allocate() == ["10.244.0.3"]


def test_dual_stack_gives_one_address_per_family() -> None:
    pool = PodAddresses(["10.1.0.0/24", "fd00::/64"])
    assert pool.allocate() == ["10.1.0.1", "fd00::1"]


def test_exhausted_subnet_raises() -> None:
    pool = PodAddresses(["10.0.0.0/30"])
    pool.allocate()
    pool.allocate()
    with pytest.raises(RuntimeError, match="exhausted"):
        pool.allocate()


def test_no_subnet_is_an_error() -> None:
    with pytest.raises(ValueError, match="pod_subnets"):
        PodAddresses([])
