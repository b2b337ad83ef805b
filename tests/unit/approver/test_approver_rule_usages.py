"""Rule 7 (usages): spec.usages must be exactly the four SPIFFE usages, in any order."""

from __future__ import annotations

import itertools

import pytest
from approver_support import POLICY, USAGES, assert_approved, assert_denied, make_request, without

from certcsi.approver import REQUIRED_USAGES, evaluate


def test_the_required_usages_are_upstreams() -> None:
    assert set(REQUIRED_USAGES) == {"key encipherment", "digital signature", "client auth", "server auth"}


@pytest.mark.parametrize("usages", [list(p) for p in itertools.permutations(USAGES)][::5])
def test_any_order_passes(usages: list[str]) -> None:
    assert_approved(evaluate(make_request(usages=usages), POLICY))


@pytest.mark.parametrize(
    "usages",
    [
        USAGES[:3],
        [*USAGES, "cert sign"],
        [*USAGES[:3], "signing"],  # an alias is still not the required spelling
        [*USAGES, USAGES[0]],
        [USAGES[0], *USAGES[:3]],
        [],
        ["KEY ENCIPHERMENT", *USAGES[1:]],
    ],
)
def test_anything_else_is_denied(usages: list[str]) -> None:
    assert_denied(evaluate(make_request(usages=usages), POLICY), "usages", "wrong usages")


@pytest.mark.parametrize(
    "usages", ["key encipherment,digital signature,client auth,server auth", None, 4, [1, 2, 3, 4]]
)
def test_a_malformed_usages_field_is_denied(usages: object) -> None:
    assert_denied(evaluate(make_request(usages=usages), POLICY), "usages")


def test_missing_usages_are_denied() -> None:
    assert_denied(evaluate(without(make_request(), "spec", "usages"), POLICY), "usages")
