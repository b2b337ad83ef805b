"""Pod conditions merged by type, as a strategic merge patch of kubelet's would merge them."""

from __future__ import annotations

from certcsi.sandbox.kubelet.api import merge_conditions


def test_conditions_of_others_survive() -> None:
    current = [{"type": "example.com/gate", "status": "True", "lastTransitionTime": "T0"}]
    merged = merge_conditions(current, [{"type": "Ready", "status": "True"}], "T1")
    assert merged == [
        {"type": "example.com/gate", "status": "True", "lastTransitionTime": "T0"},
        {"type": "Ready", "status": "True", "lastTransitionTime": "T1"},
    ]


def test_transition_time_moves_only_on_a_status_change() -> None:
    current = [
        {"type": "Ready", "status": "False", "lastTransitionTime": "T0"},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "T0"},
    ]
    wanted = [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]
    merged = {c["type"]: c for c in merge_conditions(current, wanted, "T1")}
    assert merged["Ready"]["lastTransitionTime"] == "T1"
    assert merged["PodScheduled"]["lastTransitionTime"] == "T0"


def test_stale_reason_is_dropped_with_the_new_condition() -> None:
    current = [{"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": "T0"}]
    (ready,) = merge_conditions(current, [{"type": "Ready", "status": "True"}], "T1")
    assert "reason" not in ready
