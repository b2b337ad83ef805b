"""--extra-certificate-request-annotations: parsed like pflag, reserved keys dropped, bad input refused."""

from __future__ import annotations

import pytest

from certcsi.drivers.spiffe import parse_extra_annotations
from certcsi.drivers.spiffe.annotations import is_reserved


def test_pairs_are_parsed() -> None:
    parsed = parse_extra_annotations("hello=world,example.com/team=payments")
    assert dict(parsed.annotations) == {"hello": "world", "example.com/team": "payments"}
    assert parsed.dropped == ()


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_means_none(text: str) -> None:
    assert dict(parse_extra_annotations(text).annotations) == {}


def test_a_value_keeps_equals_signs_and_quoted_commas() -> None:
    parsed = parse_extra_annotations('a=b=c,"d=e,f",g=')
    assert dict(parsed.annotations) == {"a": "b=c", "d": "e,f", "g": ""}


@pytest.mark.parametrize(
    "key",
    [
        "spiffe.csi.cert-manager.io/identity",
        "spiffe.csi.cert-manager.io/anything",
        "team.spiffe.csi.cert-manager.io/x",
        "spiffe.csi.cert-manager.io.example.com/x",  # upstream's plain prefix test drops this too
    ],
)
def test_reserved_keys_are_dropped_and_reported(key: str) -> None:
    parsed = parse_extra_annotations(f"keep=1,{key}=forged")
    assert dict(parsed.annotations) == {"keep": "1"}
    assert parsed.dropped == (key,)
    assert is_reserved(key)


def test_a_lookalike_prefix_is_not_reserved() -> None:
    assert not is_reserved("csi.cert-manager.io/x")
    assert not is_reserved("example.com/spiffe.csi.cert-manager.io")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("novalue", "must be formatted as key=value"),
        ("=v", "must be formatted as key=value"),
        ("a=1,a=2", "given twice"),
        ("bad key=1", "must be a name"),
        ("-x=1", "must be a name"),
        ("Example.com/x=1", "prefix"),
        ("/x=1", "empty prefix"),
        (f"{'a' * 64}=1", "at most 63"),
        ('"a=1', "malformed quoting"),
    ],
)
def test_malformed_input_is_refused(text: str, why: str) -> None:
    with pytest.raises(ValueError, match="--extra-certificate-request-annotations") as info:
        parse_extra_annotations(text)
    assert why in str(info.value)
