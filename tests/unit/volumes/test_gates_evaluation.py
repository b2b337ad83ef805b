"""Gate evaluation on one pod: every gate must pass; the first unmet one is named with why; ${POD_IP}."""

from __future__ import annotations

import pytest
from gates_support import pod

from certcsi.volumes.gates import GateSet, parse_gates


def gate_set(*texts: str) -> GateSet:
    return GateSet(parse_gates(texts))


@pytest.mark.parametrize(
    ("gate", "ips", "unmet"),
    [
        ("pod-ip:any", (), "pod readiness gate pod-ip:any not met: pod has no IPv4/IPv6 address yet"),
        ("pod-ip:any", ("fd00::5",), None),
        ("pod-ip:ipv4", ("fd00::5",), "pod readiness gate pod-ip:ipv4 not met: pod has no IPv4 address yet"),
        ("pod-ip:ipv4", ("fd00::5", "10.244.0.5"), None),
        ("pod-ip:ipv6", ("10.244.0.5",), "pod readiness gate pod-ip:ipv6 not met: pod has no IPv6 address yet"),
        ("pod-ip:ipv6", ("::ffff:10.0.0.1",), "pod has no IPv6 address yet"),  # IPv4-mapped counts as IPv4
        ("pod-ip:any", ("not-an-ip",), "pod has no IPv4/IPv6 address yet"),
    ],
)
def test_pod_ip_gate_reads_the_pod_ips(gate: str, ips: tuple[str, ...], unmet: str | None) -> None:
    result = gate_set(gate).unmet(pod(ips=ips))
    if unmet is None:
        assert result is None
    else:
        assert result is not None and result.endswith(unmet)


def test_pod_ip_gate_falls_back_to_status_pod_ip() -> None:
    obj = pod()
    obj["status"]["podIP"] = "10.1.2.3"  # an API server that does not fill podIPs
    assert gate_set("pod-ip:ipv4").unmet(obj) is None


@pytest.mark.parametrize(
    ("gate", "conditions", "unmet"),
    [
        ("pod-condition:example.com/net", {}, "pod has no example.com/net condition yet"),
        ("pod-condition:example.com/net", {"example.com/net": "False"}, 'is "False", want "True"'),
        ("pod-condition:example.com/net", {"example.com/net": "True"}, None),
        ("pod-condition:Ready=False", {"Ready": "False"}, None),
    ],
)
def test_pod_condition_gate_wants_its_status(gate: str, conditions: dict[str, str], unmet: str | None) -> None:
    result = gate_set(gate).unmet(pod(conditions=conditions))
    if unmet is None:
        assert result is None
    else:
        assert result is not None and result.startswith(f"pod readiness gate {parse_gates([gate])[0].spec} not met")
        assert unmet in result


@pytest.mark.parametrize(
    ("annotations", "unmet"),
    [
        ({}, 'pod has no annotation "example.com/ok" yet'),
        ({"example.com/ok": ""}, 'pod annotation "example.com/ok" is empty'),
        ({"example.com/ok": "yes"}, None),
    ],
)
def test_pod_annotation_gate_wants_a_non_empty_value(annotations: dict[str, str], unmet: str | None) -> None:
    result = gate_set("pod-annotation:example.com/ok").unmet(pod(annotations=annotations))
    assert (result is None) if unmet is None else (result is not None and result.endswith(unmet))


def test_all_gates_must_pass_and_the_first_unmet_is_named() -> None:
    gates = gate_set("pod-annotation:a", "pod-ip:any")
    assert (
        gates.unmet(pod(ips=("10.0.0.1",)))
        == 'pod readiness gate pod-annotation:a not met: pod has no annotation "a" yet'
    )
    assert gates.unmet(pod(annotations={"a": "1"})) == (
        "pod readiness gate pod-ip:any not met: pod has no IPv4/IPv6 address yet"
    )
    assert gates.unmet(pod(ips=("10.0.0.1",), annotations={"a": "1"})) is None


@pytest.mark.parametrize(
    ("gate", "ips", "expected"),
    [
        ("pod-ip:any", ("fd00::5", "10.0.0.5"), "fd00::5"),  # the primary address
        ("pod-ip:ipv4", ("fd00::5", "10.0.0.5"), "10.0.0.5"),  # the gate's family
        ("pod-ip:ipv6", ("10.0.0.5", "fd00::5"), "fd00::5"),
        ("pod-annotation:a", ("10.0.0.5",), None),  # no pod-ip gate: no ${POD_IP}
    ],
)
def test_pod_ip_variable_is_the_first_address_of_the_gates_family(
    gate: str, ips: tuple[str, ...], expected: str | None
) -> None:
    assert gate_set(gate).pod_ip(pod(ips=ips)) == expected


def test_placeholder_pod_ip_matches_the_gate_family() -> None:
    assert gate_set("pod-ip:ipv6").placeholder_pod_ip() == "2001:db8::1"
    assert gate_set("pod-ip:ipv4").placeholder_pod_ip() == "192.0.2.1"
    assert gate_set("pod-annotation:a").placeholder_pod_ip() is None


def test_trimmed_pod_keeps_only_what_the_gates_read_and_evaluates_the_same() -> None:
    gates = gate_set("pod-annotation:a", "pod-condition:example.com/x", "pod-ip:any")
    full = pod(
        ips=("10.0.0.1",),
        conditions={"example.com/x": "True", "Ready": "False"},
        annotations={"a": "1", "big": "x" * 10_000},
    )
    trimmed = gates.trim(full)
    assert trimmed["metadata"]["annotations"] == {"a": "1"}
    assert [c["type"] for c in trimmed["status"]["conditions"]] == ["example.com/x"]
    assert "spec" not in trimmed
    assert gates.unmet(trimmed) is None and gates.pod_ip(trimmed) == "10.0.0.1"


def test_an_empty_gate_set_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one gate"):
        GateSet(())
