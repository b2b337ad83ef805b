"""validate(): `spiffe.csi.cert-manager.io/workload-api` is a known attribute whose value is "true" or "false"."""

from __future__ import annotations

import pytest
from spiffe_support import driver, volume

from certcsi.drivers.spiffe.workload.opting import WORKLOAD_API
from certcsi.errors import InvalidVolumeAttribute


@pytest.mark.parametrize("value", ["True", "yes", "1", "", " true"])
def test_any_other_value_is_refused_by_the_driver(value: str) -> None:
    with pytest.raises(InvalidVolumeAttribute) as info:
        driver().validate(volume(attributes={WORKLOAD_API: value}))
    assert info.value.attribute == WORKLOAD_API
    assert info.value.rule == f'must be "true" or "false", got {value!r}'


def test_the_driver_accepts_the_attribute() -> None:
    driver().validate(volume(attributes={WORKLOAD_API: "true"}))


def test_a_long_value_is_cut_short_saying_how_long_it_was() -> None:
    with pytest.raises(InvalidVolumeAttribute) as info:
        driver().validate(volume(attributes={WORKLOAD_API: "x" * 70_000}))
    assert info.value.rule == f'must be "true" or "false", got {"x" * 64!r}… (70000 characters)'
