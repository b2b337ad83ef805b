"""cert-manager usage strings to KeyUsage / ExtendedKeyUsage and back."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certcsi.pki.usages import (
    ALL_USAGES,
    DEFAULT_USAGES,
    extended_key_usage_extension,
    key_usage_extension,
    split_usages,
    usages_of,
)

CRD = Path(__file__).parents[3] / "src/certcsi/sandbox/data/certificaterequests.crd.yaml"

KEY_USAGES = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
}
EXT_KEY_USAGES = {
    "any": "2.5.29.37.0",
    "server auth": "1.3.6.1.5.5.7.3.1",
    "client auth": "1.3.6.1.5.5.7.3.2",
    "code signing": "1.3.6.1.5.5.7.3.3",
    "email protection": "1.3.6.1.5.5.7.3.4",
    "s/mime": "1.3.6.1.5.5.7.3.4",
    "ipsec end system": "1.3.6.1.5.5.7.3.5",
    "ipsec tunnel": "1.3.6.1.5.5.7.3.6",
    "ipsec user": "1.3.6.1.5.5.7.3.7",
    "timestamping": "1.3.6.1.5.5.7.3.8",
    "ocsp signing": "1.3.6.1.5.5.7.3.9",
    "microsoft sgc": "1.3.6.1.4.1.311.10.3.3",
    "netscape sgc": "2.16.840.1.113730.4.1",
}
ALIASES = {"signing": "digital signature", "s/mime": "email protection"}
KU_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _set_fields(ku: x509.KeyUsage) -> set[str]:
    fields = {f for f in KU_FIELDS if getattr(ku, f)}
    if ku.key_agreement:
        fields |= {f for f in ("encipher_only", "decipher_only") if getattr(ku, f)}
    return fields


def test_all_usages_is_the_crd_enum() -> None:
    crd = yaml.safe_load(CRD.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    enum = schema["properties"]["spec"]["properties"]["usages"]["items"]["enum"]
    assert list(ALL_USAGES) == enum


def test_default_usages() -> None:
    assert DEFAULT_USAGES == ("digital signature", "key encipherment")


@pytest.mark.parametrize(("usage", "field"), KEY_USAGES.items())
def test_each_key_usage_sets_exactly_its_bit(usage: str, field: str) -> None:
    ku = key_usage_extension([usage])
    assert ku is not None
    assert _set_fields(ku) == {field}
    assert extended_key_usage_extension([usage]) is None


@pytest.mark.parametrize(("usage", "field"), [("encipher only", "encipher_only"), ("decipher only", "decipher_only")])
def test_encipher_decipher_only_with_key_agreement(usage: str, field: str) -> None:
    ku = key_usage_extension([usage, "key agreement"])
    assert ku is not None
    assert _set_fields(ku) == {field, "key_agreement"}


@pytest.mark.parametrize("usage", ["encipher only", "decipher only"])
def test_encipher_decipher_only_without_key_agreement_is_rejected(usage: str) -> None:
    with pytest.raises(ValueError, match='require "key agreement"'):
        key_usage_extension([usage])


@pytest.mark.parametrize(("usage", "oid"), EXT_KEY_USAGES.items())
def test_each_extended_usage_maps_to_its_oid(usage: str, oid: str) -> None:
    eku = extended_key_usage_extension([usage])
    assert eku is not None
    assert [o.dotted_string for o in eku] == [oid]
    assert key_usage_extension([usage]) is None


def test_mixed_usages_split_between_extensions() -> None:
    usages = ["digital signature", "server auth", "key encipherment", "client auth"]
    ku = key_usage_extension(usages)
    eku = extended_key_usage_extension(usages)
    assert ku is not None and eku is not None
    assert _set_fields(ku) == {"digital_signature", "key_encipherment"}
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


def test_aliases_share_one_oid() -> None:
    eku = extended_key_usage_extension(["s/mime", "email protection", "s/mime"])
    assert eku is not None
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]


def test_no_usages_no_extensions() -> None:
    assert key_usage_extension([]) is None
    assert extended_key_usage_extension([]) is None


@pytest.mark.parametrize("build", [key_usage_extension, extended_key_usage_extension])
@pytest.mark.parametrize("bad", ["Server Auth", "serverAuth", "digital-signature", ""])
def test_unknown_usage_is_named(build: object, bad: str) -> None:
    assert callable(build)
    with pytest.raises(ValueError, match="unknown key usage") as excinfo:
        build(["digital signature", bad])
    assert repr(bad) in str(excinfo.value)


@pytest.mark.parametrize("usage", ALL_USAGES)
def test_usages_of_inverts_to_canonical_name(usage: str) -> None:
    extra = ["key agreement"] if usage in {"encipher only", "decipher only"} else []
    names = usages_of(key_usage_extension([usage, *extra]), extended_key_usage_extension([usage]))
    assert names == {ALIASES.get(usage, usage), *extra}


def test_usages_of_nothing() -> None:
    assert usages_of(None, None) == frozenset()


def test_usages_of_spiffe_set() -> None:
    usages = ["key encipherment", "digital signature", "client auth", "server auth"]
    names = usages_of(key_usage_extension(usages), extended_key_usage_extension(usages))
    assert names == frozenset(usages)


def test_usages_of_unknown_oid_is_dotted_string() -> None:
    eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ObjectIdentifier("1.2.3.4")])
    assert usages_of(None, eku) == {"server auth", "1.2.3.4"}


def test_split_usages() -> None:
    assert split_usages(" digital signature, key encipherment ,,server auth") == (
        "digital signature",
        "key encipherment",
        "server auth",
    )
    assert split_usages("") == ()
    with pytest.raises(ValueError, match="'bogus'"):
        split_usages("digital signature,bogus")
