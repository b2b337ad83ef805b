"""A huge invalid value is named by its attribute and shown cut short, never echoed whole."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from certcsi.drivers.certmanager import attributes as a
from certcsi.errors import InvalidVolumeAttribute

Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]
HUGE = 70_000

# Per attribute, a 70 kB value that breaks its rule (each built from a repeated unit).
CASES: list[tuple[str, Mapping[str, str]]] = [
    (a.ISSUER_NAME, {a.ISSUER_NAME: "N" * HUGE}),
    (a.ISSUER_KIND, {a.ISSUER_KIND: "K" * HUGE}),
    (a.ISSUER_GROUP, {a.ISSUER_GROUP: "G" * HUGE}),
    (a.COMMON_NAME, {a.COMMON_NAME: "c" * HUGE}),
    (a.COMMON_NAME, {a.COMMON_NAME: "$A" * (HUGE // 2)}),
    (a.LITERAL_SUBJECT, {a.LITERAL_SUBJECT: "," * HUGE}),
    (a.LITERAL_SUBJECT, {a.LITERAL_SUBJECT: "O=" + "o" * HUGE}),
    (a.ORGANIZATIONS, {a.ORGANIZATIONS: "o" * HUGE}),
    (a.SERIAL_NUMBER, {a.SERIAL_NUMBER: "_" * HUGE}),
    (a.DNS_NAMES, {a.DNS_NAMES: "é" * HUGE}),
    (a.URI_SANS, {a.URI_SANS: "u" * HUGE}),
    (a.EMAIL_SANS, {a.EMAIL_SANS: "e" * HUGE}),
    (a.IP_SANS, {a.IP_SANS: "1" * HUGE}),
    (a.DURATION, {a.DURATION: "1d" * (HUGE // 2)}),
    (a.RENEW_BEFORE, {a.RENEW_BEFORE: "-" * HUGE}),
    (a.IS_CA, {a.IS_CA: "t" * HUGE}),
    (a.KEY_USAGES, {a.KEY_USAGES: "x," * (HUGE // 2)}),
    (a.KEY_USAGES, {a.KEY_USAGES: "u" * HUGE}),
    (a.KEY_ALGORITHM, {a.KEY_ALGORITHM: "A" * HUGE}),
    (a.KEY_SIZE, {a.KEY_SIZE: "9" * HUGE}),
    (a.KEY_ENCODING, {a.KEY_ENCODING: "P" * HUGE}),
    (a.CERTIFICATE_FILE, {a.CERTIFICATE_FILE: "f" * HUGE}),
    (a.FS_GROUP, {a.FS_GROUP: "g" * HUGE}),
    (a.PKCS12_ENABLE, {a.PKCS12_ENABLE: "y" * HUGE}),
    ("example.com/" + "n" * HUGE, {"example.com/" + "n" * HUGE: "v"}),
]


@pytest.mark.parametrize(("attribute", "overrides"), CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_the_error_names_the_attribute_and_stays_short(
    reject: Reject, attribute: str, overrides: Mapping[str, str]
) -> None:
    err = reject(overrides)
    assert err.attribute == attribute
    assert len(str(err)) < 1500, str(err)[:300]
