"""certificate-file, privatekey-file, ca-file and pkcs12-filename: plain, safe, distinct names."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from certcsi.drivers.certmanager.attributes import (
    CA_FILE,
    CERTIFICATE_FILE,
    PKCS12_ENABLE,
    PKCS12_FILENAME,
    PKCS12_PASSWORD,
    PRIVATEKEY_FILE,
    CertAttributes,
)
from certcsi.errors import InvalidVolumeAttribute

Parse = Callable[[Mapping[str, str | None]], CertAttributes]
Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]
PKCS12_ON = {PKCS12_ENABLE: "true", PKCS12_PASSWORD: "s3cret"}


def test_custom_names(parse: Parse) -> None:
    attrs = parse(
        {
            CERTIFICATE_FILE: "foo.crt",
            PRIVATEKEY_FILE: "foo.key",
            CA_FILE: "foo.ca",
            **PKCS12_ON,
            PKCS12_FILENAME: "tls.p12",
        }
    )
    assert (attrs.certificate_file, attrs.privatekey_file, attrs.ca_file) == ("foo.crt", "foo.key", "foo.ca")
    assert attrs.pkcs12_filename == "tls.p12"


@pytest.mark.parametrize("name", [".hidden", "a..b", "x" * 255, "ü" * 127, "tls crt", "tls.crt.bak"])
def test_accepted_names(parse: Parse, name: str) -> None:
    assert parse({CERTIFICATE_FILE: name}).certificate_file == name


@pytest.mark.parametrize("key", [CERTIFICATE_FILE, PRIVATEKEY_FILE, CA_FILE, PKCS12_FILENAME])
@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("/etc/passwd", "without '/'"),
        ("a/b", "without '/'"),
        ("..", "must not start with '..'"),
        ("..data", "must not start with '..'"),
        ("..2024_01_01", "must not start with '..'"),
        (".", "must not be '.'"),
        ("x" * 256, "at most 255 bytes"),
        ("ü" * 128, "at most 255 bytes"),
        (" tls.crt", "whitespace"),
        ("tls.crt\t", "whitespace"),
        ("a\x00b", "NUL"),
    ],
)
def test_rejected_names(reject: Reject, key: str, name: str, fragment: str) -> None:
    err = reject({**PKCS12_ON, key: name})
    assert err.attribute == key
    assert fragment in err.rule


@pytest.mark.parametrize(
    ("overrides", "culprit"),
    [
        ({PRIVATEKEY_FILE: "tls.crt"}, PRIVATEKEY_FILE),
        ({CA_FILE: "tls.key"}, CA_FILE),
        ({CERTIFICATE_FILE: "ca.crt"}, CA_FILE),
        ({**PKCS12_ON, PKCS12_FILENAME: "ca.crt"}, PKCS12_FILENAME),
    ],
)
def test_names_must_be_distinct(reject: Reject, overrides: dict[str, str], culprit: str) -> None:
    err = reject(overrides)
    assert err.attribute == culprit
    assert "already used by" in err.rule


def test_pkcs12_name_only_counts_when_enabled(parse: Parse) -> None:
    attrs = parse({PKCS12_ENABLE: "false", PKCS12_FILENAME: "ca.crt"})
    assert attrs.pkcs12_enabled is False
