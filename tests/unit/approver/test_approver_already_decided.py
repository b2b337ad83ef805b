"""Requests that already carry Approved=True or Denied=True are left alone."""

from __future__ import annotations

import pytest
from approver_support import POLICY, assert_approved, assert_denied, make_request

from certcsi.approver import evaluate


@pytest.mark.parametrize("kind", ["Approved", "Denied"])
def test_a_decided_request_is_not_ours_to_decide(kind: str) -> None:
    request = make_request(duration="2h")  # would be denied, were it undecided
    request["status"] = {"conditions": [{"type": kind, "status": "True", "reason": "x", "message": "y"}]}
    verdict = evaluate(request, POLICY)
    assert (verdict.approved, verdict.rule) == (None, "already-decided")


@pytest.mark.parametrize(
    "conditions",
    [[], [{"type": "Ready", "status": "False"}], [{"type": "Approved", "status": "False"}], "Approved", None, [1]],
)
def test_an_undecided_request_is_evaluated(conditions: object) -> None:
    request = make_request()
    request["status"] = {"conditions": conditions}
    assert_approved(evaluate(request, POLICY))
    request["spec"]["isCA"] = True
    assert_denied(evaluate(request, POLICY), "is-ca")
