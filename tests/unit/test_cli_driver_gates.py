"""`certcsi driver` readiness-gate flags: parsed into NodeOptions; bad values are usage errors naming the flag."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from node_commands import collect_runs

from certcsi.cli import main
from certcsi.nodeplugin import NodeOptions
from certcsi.volumes.gates import PodAnnotationGate, PodIPGate, gate_backoff


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[NodeOptions]:
    """Run the command without starting anything; collect the options it would run with."""
    return collect_runs(monkeypatch, lambda run: run["options"])


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["driver", "--node-id", "node-1", *args])


def test_defaults_have_no_gates_and_upstreams_backoff(started: list[NodeOptions]) -> None:
    result = invoke()
    assert result.exit_code == 0, result.output
    (options,) = started
    assert options.pod_readiness_gates == ()
    assert options.continue_on_not_ready is False
    assert options.gate_backoff == gate_backoff(duration=1.0, factor=2.0, jitter=0.5, cap=10.0)


def test_gates_and_backoff_flags_reach_the_node_options(started: list[NodeOptions]) -> None:
    result = invoke(
        "--pod-readiness-gate=pod-ip:ipv4",
        "--pod-readiness-gate",
        "pod-annotation:example.com/ready",
        "--continue-on-not-ready",
        "--gate-backoff-duration=500ms",
        "--gate-backoff-factor=1.5",
        "--gate-backoff-jitter=0.2",
        "--gate-backoff-cap=0",
    )
    assert result.exit_code == 0, result.output
    (options,) = started
    assert options.pod_readiness_gates == (PodIPGate("ipv4"), PodAnnotationGate("example.com/ready"))
    assert options.continue_on_not_ready is True
    assert options.gate_backoff == gate_backoff(duration=0.5, factor=1.5, jitter=0.2, cap=0.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--pod-readiness-gate=pod-ip:ipv5"],
            "Invalid value for '--pod-readiness-gate': 'pod-ip:ipv5': pod-ip family",
        ),
        (["--pod-readiness-gate=pod-ip:any"], "'pod-ip:any': needs --continue-on-not-ready"),
        (["--gate-backoff-jitter=2"], "Invalid value for '--gate-backoff-jitter': '2': must be in [0, 1]"),
        (["--gate-backoff-duration=20s"], "Invalid value for '--gate-backoff-cap': '10s': must be 0 (no cap) or >="),
        (["--gate-backoff-cap=1d"], "Invalid value for '--gate-backoff-cap': '1d': time: unknown unit"),
    ],
)
def test_bad_gate_flags_are_usage_errors(started: list[NodeOptions], args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert started == []
