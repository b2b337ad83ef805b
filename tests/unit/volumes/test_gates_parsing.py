"""`--pod-readiness-gate` values: the three gate forms parse; every bad value names the flag and the rule."""

from __future__ import annotations

import pytest

from certcsi.volumes.gates import (
    GateFlagError,
    PodAnnotationGate,
    PodConditionGate,
    PodIPGate,
    check_gates_can_pass,
    parse_gate,
    parse_gates,
)


@pytest.mark.parametrize(
    ("text", "gate"),
    [
        ("pod-ip:any", PodIPGate("any")),
        ("pod-ip:ipv4", PodIPGate("ipv4")),
        ("pod-ip:ipv6", PodIPGate("ipv6")),
        ("pod-condition:Ready", PodConditionGate("Ready", "True")),
        ("pod-condition:Ready=", PodConditionGate("Ready", "True")),  # upstream reads an empty status as True
        ("pod-condition:example.com/net-ready=False", PodConditionGate("example.com/net-ready", "False")),
        ("pod-condition:Initialized=Unknown", PodConditionGate("Initialized", "Unknown")),
        ("pod-annotation:k8s.v1.cni.cncf.io/network-status", PodAnnotationGate("k8s.v1.cni.cncf.io/network-status")),
        ("pod-annotation:ready", PodAnnotationGate("ready")),
    ],
)
def test_valid_gates_parse(text: str, gate: object) -> None:
    assert parse_gate(text) == gate


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("pod-ip:ipv5", "pod-ip family must be any, ipv4 or ipv6, got 'ipv5'"),
        ("pod-ip:ANY", "pod-ip family must be any, ipv4 or ipv6"),
        ("pod-ip:", "pod-ip needs a value after the colon"),
        ("pod-ip", "pod-ip needs a value after the colon"),
        ("pod-label:x", "unknown gate type 'pod-label'"),
        ("", "must be pod-ip:<any|ipv4|ipv6>, pod-condition:<Type>[=<Status>] or pod-annotation:<key>"),
        ("pod-condition:Ready=true", "status must be True, False or Unknown, got 'true'"),
        ("pod-condition:=True", "pod-condition type must be a valid condition type"),
        ("pod-condition:Has Space", "pod-condition type must be a valid condition type"),
        ("pod-annotation:-bad", "pod-annotation key must be a valid annotation key"),
        ("pod-annotation:Example.com/x", "pod-annotation key must be a valid annotation key"),
        ("pod-annotation:a/b/c", "pod-annotation key must be a valid annotation key"),
        ("pod-annotation:" + "x" * 64, "pod-annotation key must be a valid annotation key"),
    ],
)
def test_bad_gates_name_the_flag_the_value_and_the_rule(text: str, rule: str) -> None:
    with pytest.raises(GateFlagError) as info:
        parse_gate(text)
    assert info.value.flag == "--pod-readiness-gate"
    assert str(info.value).startswith(f"--pod-readiness-gate {text!r}: ")
    assert rule in info.value.detail


def test_repeated_gates_keep_order_and_drop_duplicates() -> None:
    gates = parse_gates(["pod-annotation:a", "pod-ip:any", "pod-annotation:a", "pod-condition:Ready=True"])
    assert gates == (PodAnnotationGate("a"), PodIPGate("any"), PodConditionGate("Ready"))


@pytest.mark.parametrize("text", ["pod-ip:any", "pod-ip:ipv6", "pod-condition:Ready", "pod-condition:ContainersReady"])
def test_gates_kubelet_satisfies_only_after_mounting_need_continue_on_not_ready(text: str) -> None:
    gates = parse_gates([text])
    with pytest.raises(GateFlagError, match="needs --continue-on-not-ready"):
        check_gates_can_pass(gates, continue_on_not_ready=False)
    check_gates_can_pass(gates, continue_on_not_ready=True)


@pytest.mark.parametrize("text", ["pod-annotation:a", "pod-condition:example.com/x", "pod-condition:Ready=False"])
def test_gates_something_else_can_satisfy_before_mounting_may_block_the_publish(text: str) -> None:
    check_gates_can_pass(parse_gates([text]), continue_on_not_ready=False)
