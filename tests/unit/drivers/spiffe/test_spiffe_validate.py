"""validate(): the one driver attribute (fs-group), no unknown driver attributes, a usable token."""

from __future__ import annotations

import pytest
from spiffe_support import TOKENS, driver, volume

from certcsi.drivers.spiffe import FS_GROUP
from certcsi.errors import InvalidVolume, InvalidVolumeAttribute


def test_a_plain_volume_is_valid() -> None:
    driver().validate(volume())


@pytest.mark.parametrize("group", ["1", "456", "4294967294", "+5", "007"])  # csi-lib parses with Go's ParseInt
def test_a_valid_fs_group(group: str) -> None:
    driver().validate(volume(attributes={FS_GROUP: group}))


@pytest.mark.parametrize(
    "group", ["0", "4294967295", "4294967296", "-1", "+0", " 5", "5 ", "abc", "", "1e3", "٣", "99999999999"]
)
def test_an_invalid_fs_group_names_the_attribute_and_rule(group: str) -> None:
    with pytest.raises(InvalidVolumeAttribute) as info:
        driver().validate(volume(attributes={FS_GROUP: group}))
    assert info.value.attribute == FS_GROUP
    assert info.value.rule == f"must be an integer from 1 to 4294967294, got {group!r}"


UNKNOWN_KEYS = [
    "spiffe.csi.cert-manager.io/fsgroup",
    "spiffe.csi.cert-manager.io/identity",
    "spiffe.csi.cert-manager.io/",
]


@pytest.mark.parametrize("key", UNKNOWN_KEYS)
def test_an_unknown_driver_attribute_is_a_warning_naming_it(key: str) -> None:
    # Upstream ignores them; a pod that works there works here, and its events say what was ignored.
    (warning,) = driver().validate(volume(attributes={key: "1"}))
    assert warning.reason == "UnknownVolumeAttribute"
    assert repr(key) in warning.message


def test_the_warning_names_the_nearest_known_attribute() -> None:
    (warning,) = driver().validate(volume(attributes={"spiffe.csi.cert-manager.io/fsgroup": "1"}))
    assert "did you mean 'spiffe.csi.cert-manager.io/fs-group'?" in warning.message


@pytest.mark.parametrize("key", UNKNOWN_KEYS)
def test_a_strict_driver_rejects_an_unknown_attribute_by_name(key: str) -> None:
    with pytest.raises(InvalidVolumeAttribute) as info:
        driver(strict_attributes=True).validate(volume(attributes={key: "1"}))
    assert info.value.attribute == key
    # It names the nearest of the known keys (fs-group, and certcsi's workload-api).
    assert "did you mean 'spiffe.csi.cert-manager.io/" in info.value.rule


def test_attributes_of_other_groups_are_ignored() -> None:
    assert driver().validate(volume(attributes={"csi.cert-manager.io/issuer-name": "x", "example.com/a": "b"})) == ()


def test_a_missing_token_fails_validation() -> None:
    with pytest.raises(InvalidVolume, match=f"{TOKENS} is missing"):
        driver().validate(volume(secrets={}))


def test_an_unparsable_token_fails_validation() -> None:
    with pytest.raises(InvalidVolume, match="not a JWT"):
        driver().validate(volume(token="garbage"))
