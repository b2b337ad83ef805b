"""Qualified names (label and annotation keys, condition types): one rule for every caller."""

from __future__ import annotations

import pytest

from certcsi.kube.names import is_dns_subdomain, is_name_part, is_qualified_name


@pytest.mark.parametrize("key", ["ready", "example.com/ready", "a.b-c/x_y.z", "x" * 63, "a" * 253 + "/n"])
def test_accepted(key: str) -> None:
    assert is_qualified_name(key)


@pytest.mark.parametrize(
    "key", ["", "/x", "Example.com/x", "a/b/c", "x" * 64, "a" * 254 + "/n", "-x", "x-", "a..b/x", "a/", "é"]
)
def test_refused(key: str) -> None:
    assert not is_qualified_name(key)


def test_the_parts_have_their_own_limits() -> None:
    assert is_dns_subdomain("a" * 253) and not is_dns_subdomain("a" * 254)
    assert is_name_part("A_b.c-D") and not is_name_part("a/b")
