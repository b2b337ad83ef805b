"""Rule 6 (is-ca): spec.isCA must be false (or absent)."""

from __future__ import annotations

import pytest
from approver_support import POLICY, assert_approved, assert_denied, make_request, without

from certcsi.approver import evaluate


def test_is_ca_false_passes() -> None:
    assert_approved(evaluate(make_request(isCA=False), POLICY))


def test_absent_is_ca_means_false() -> None:
    assert_approved(evaluate(without(make_request(), "spec", "isCA"), POLICY))


def test_is_ca_true_is_denied() -> None:
    assert_denied(evaluate(make_request(isCA=True), POLICY), "is-ca", "spec.isCA=true")


@pytest.mark.parametrize("value", ["false", 0, None, [], "true"])
def test_a_non_boolean_is_ca_is_denied(value: object) -> None:
    assert_denied(evaluate(make_request(isCA=value), POLICY), "is-ca", "must be a boolean")
