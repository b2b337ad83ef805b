"""Rule 2 (duration): spec.duration must be set and equal the enforced duration."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from approver_support import POLICY, assert_approved, assert_denied, make_request, without

from certcsi.approver import evaluate


@pytest.mark.parametrize("duration", ["1h0m0s", "1h", "60m", "3600s"])
def test_the_enforced_duration_in_any_spelling_passes(duration: str) -> None:
    assert_approved(evaluate(make_request(duration=duration), POLICY))


def test_missing_duration_is_denied() -> None:
    verdict = evaluate(without(make_request(), "spec", "duration"), POLICY)
    assert_denied(verdict, "duration", "'1h0m0s'", "got none")


@pytest.mark.parametrize("duration", ["30m", "1h0m1s", "2h", "-1h", "0s"])
def test_another_duration_is_denied(duration: str) -> None:
    assert_denied(evaluate(make_request(duration=duration), POLICY), "duration", repr(duration))


@pytest.mark.parametrize("duration", ["one hour", "", 3600, 1.5, None, ["1h"]])
def test_an_unparsable_duration_is_denied(duration: object) -> None:
    assert_denied(evaluate(make_request(duration=duration), POLICY), "duration")


def test_the_enforced_duration_comes_from_the_policy() -> None:
    policy = replace(POLICY, certificate_duration=timedelta(hours=2))
    assert_denied(evaluate(make_request(duration="1h"), policy), "duration", "'2h0m0s'")
    assert_approved(evaluate(make_request(duration="2h"), policy))
