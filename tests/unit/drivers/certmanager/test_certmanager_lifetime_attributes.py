"""duration, renew-before, is-ca, reuse-private-key, key-usages and fs-group: accepted and rejected values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

import pytest

from certcsi.drivers.certmanager.attributes import (
    DURATION,
    FS_GROUP,
    IS_CA,
    KEY_USAGES,
    RENEW_BEFORE,
    REUSE_PRIVATE_KEY,
    CertAttributes,
)
from certcsi.errors import InvalidVolumeAttribute

Parse = Callable[[Mapping[str, str | None]], CertAttributes]
Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("1880h", timedelta(hours=1880)),
        ("1h30m", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_duration_accepts_go_durations(parse: Parse, value: str, expected: timedelta) -> None:
    assert parse({DURATION: value}).duration == expected


def test_renew_before_accepts_go_durations(parse: Parse) -> None:
    assert parse({RENEW_BEFORE: "72h"}).renew_before == timedelta(hours=72)


def test_renew_before_longer_than_duration_is_accepted(parse: Parse) -> None:
    # Upstream keeps it and renews at the default time instead (see the renewal tests).
    attrs = parse({DURATION: "1h", RENEW_BEFORE: "2h"})
    assert attrs.renew_before == timedelta(hours=2)


@pytest.mark.parametrize("key", [DURATION, RENEW_BEFORE])
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("foo", "must be a Go duration"),
        ("1d", "must be a Go duration"),
        ("10", "must be a Go duration"),
        ("0s", "greater than zero"),
        ("0", "greater than zero"),
        ("-1h", "greater than zero"),
        ("9999999999h", "must be a Go duration"),
    ],
)
def test_bad_durations(reject: Reject, key: str, value: str, fragment: str) -> None:
    err = reject({key: value})
    assert err.attribute == key
    assert fragment in err.rule


@pytest.mark.parametrize("key", [IS_CA, REUSE_PRIVATE_KEY])
def test_booleans_accept_exactly_true_and_false(parse: Parse, key: str) -> None:
    field = {IS_CA: "is_ca", REUSE_PRIVATE_KEY: "reuse_private_key"}[key]
    assert getattr(parse({key: "true"}), field) is True
    assert getattr(parse({key: "false"}), field) is False


@pytest.mark.parametrize("key", [IS_CA, REUSE_PRIVATE_KEY])
@pytest.mark.parametrize("value", ["True", "TRUE", "yes", "1", " true"])
def test_booleans_reject_anything_else(reject: Reject, key: str, value: str) -> None:
    err = reject({key: value})
    assert err.attribute == key
    assert 'exactly "true" or "false"' in err.rule


def test_key_usages_are_trimmed_and_deduplicated(parse: Parse) -> None:
    attrs = parse({KEY_USAGES: " server auth, client auth ,server auth,"})
    assert attrs.usages == ("server auth", "client auth")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("usage-1,usage-2", "unknown key usage"),
        ("server auth,clientauth", "unknown key usage"),
        ("encipher only", 'require "key agreement"'),
        (" , ", "at least one usage"),
    ],
)
def test_bad_key_usages(reject: Reject, value: str, fragment: str) -> None:
    err = reject({KEY_USAGES: value})
    assert err.attribute == KEY_USAGES
    assert fragment in err.rule


@pytest.mark.parametrize(
    ("value", "expected"), [("1", 1), ("2000", 2000), ("4294967294", 4294967294), ("+2000", 2000), ("007", 7)]
)
def test_fs_group_accepts_1_to_2_pow_32_minus_2(parse: Parse, value: str, expected: int) -> None:
    assert parse({FS_GROUP: value}).fs_group == expected


# 4294967295 is (gid_t)-1, which chown(2) reads as "leave the group alone".
@pytest.mark.parametrize("value", ["0", "4294967295", "4294967296", "-1", "abc", "1.5", " 2000", "+0", "9" * 40])
def test_fs_group_rejects_everything_else(reject: Reject, value: str) -> None:
    err = reject({FS_GROUP: value})
    assert err.attribute == FS_GROUP
    assert "integer from 1 to 4294967294" in err.rule
