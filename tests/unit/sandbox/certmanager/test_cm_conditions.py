"""set_condition keeps one condition per type and moves lastTransitionTime only when status changes."""

from __future__ import annotations

from typing import Any

from certcsi.sandbox.certmanager.conditions import set_condition


def test_transition_time_moves_only_with_status() -> None:
    status: dict[str, Any] = {}
    set_condition(status, type_="Ready", status_value="False", reason="Pending", message="a", now="T1")
    set_condition(status, type_="Ready", status_value="False", reason="Pending", message="b", now="T2")
    assert status["conditions"] == [
        {"type": "Ready", "status": "False", "reason": "Pending", "message": "b", "lastTransitionTime": "T1"}
    ]
    set_condition(status, type_="Ready", status_value="True", reason="Issued", message="c", now="T3")
    assert status["conditions"][0]["lastTransitionTime"] == "T3"


def test_other_types_are_kept_in_order() -> None:
    status: dict[str, Any] = {"conditions": [{"type": "Approved", "status": "True"}]}
    set_condition(
        status, type_="Ready", status_value="True", reason="Issued", message="m", now="T", observed_generation=2
    )
    assert [c["type"] for c in status["conditions"]] == ["Approved", "Ready"]
    assert status["conditions"][1]["observedGeneration"] == 2
