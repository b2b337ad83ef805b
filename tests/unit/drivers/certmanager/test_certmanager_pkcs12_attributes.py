"""pkcs12-enable, pkcs12-filename and pkcs12-password, and that the password never shows."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from certcsi.drivers.certmanager.attributes import (
    PKCS12_ENABLE,
    PKCS12_FILENAME,
    PKCS12_PASSWORD,
    CertAttributes,
)
from certcsi.errors import InvalidVolumeAttribute
from certcsi.redact import REDACTED

Parse = Callable[[Mapping[str, str | None]], CertAttributes]
Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]


def test_enabled_with_password_and_default_filename(parse: Parse) -> None:
    attrs = parse({PKCS12_ENABLE: "true", PKCS12_PASSWORD: "my-password"})
    assert attrs.pkcs12_enabled is True
    assert attrs.pkcs12_filename == "keystore.p12"
    assert attrs.pkcs12_password == "my-password"


def test_password_is_not_in_repr(parse: Parse) -> None:
    attrs = parse({PKCS12_ENABLE: "true", PKCS12_PASSWORD: "my-password"})
    assert "my-password" not in repr(attrs)


def test_disabled_needs_no_password(parse: Parse) -> None:
    assert parse({PKCS12_ENABLE: "false"}).pkcs12_enabled is False


@pytest.mark.parametrize("password", [None, ""])
def test_enabled_requires_a_password(reject: Reject, password: str | None) -> None:
    err = reject({PKCS12_ENABLE: "true", PKCS12_PASSWORD: password})
    assert err.attribute == PKCS12_PASSWORD
    assert "required" in err.rule


@pytest.mark.parametrize("value", ["yes", "True", "on"])
def test_enable_must_be_true_or_false(reject: Reject, value: str) -> None:
    err = reject({PKCS12_ENABLE: value, PKCS12_PASSWORD: "pw-123"})
    assert err.attribute == PKCS12_ENABLE
    assert "pw-123" not in str(err)


@pytest.mark.parametrize("key", [PKCS12_FILENAME, PKCS12_PASSWORD])
def test_pkcs12_attributes_need_pkcs12_enable(reject: Reject, key: str) -> None:
    err = reject({key: "hunter2-secret"})
    assert err.attribute == key
    assert PKCS12_ENABLE in err.rule
    assert "hunter2-secret" not in str(err)


def test_password_is_scrubbed_even_when_another_value_contains_it(reject: Reject) -> None:
    # The password also appears in a rejected DNS name: the message must not reveal it.
    dns_names = "csi.cert-manager.io/dns-names"
    err = reject({PKCS12_ENABLE: "true", PKCS12_PASSWORD: "Tr0ub4dor", dns_names: "a b Tr0ub4dor"})
    assert err.attribute == dns_names
    assert "Tr0ub4dor" not in str(err)
    assert REDACTED in err.rule
    assert err.__context__ is None and err.__cause__ is None
