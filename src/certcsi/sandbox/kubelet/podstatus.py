"""A pod's status as kubelet's status manager writes it, from what the pod worker knows: pure functions.

conditions(...)       PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled,
                      with kubelet's reasons and messages (`containers with unready status: [a b]`,
                      readiness gates)
phase(...)            Pending until every container has started, Running, and Succeeded/Failed once
                      a deleted pod's containers have all stopped
mount_timeout_message(...)   the pod-level FailedMount event kubelet writes every 2m3s while volumes are unmounted
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from certcsi.sandbox.kubelet.planning import as_dict
from certcsi.sandbox.kubelet.running import ContainerState

# kubelet's podAttachAndMountTimeout
MOUNT_TIMEOUT = 123.0


def _go_list(names: Iterable[str]) -> str:
    return "[" + " ".join(names) + "]"


def readiness_gate_problem(pod: Mapping[str, Any]) -> str | None:
    """kubelet's message for the first readiness gate whose condition is not True, or None."""
    status = as_dict(pod.get("status"))
    current = {as_dict(c).get("type"): as_dict(c) for c in status.get("conditions") or []}
    for gate in as_dict(pod.get("spec")).get("readinessGates") or []:
        kind = str(as_dict(gate).get("conditionType") or "")
        condition = current.get(kind)
        if condition is None:
            return f'corresponding condition of pod readiness gate "{kind}" does not exist.'
        if condition.get("status") != "True":
            return f'the status of pod readiness gate "{kind}" is not "True", but {condition.get("status")}'
    return None


def conditions(
    pod: Mapping[str, Any], *, sandbox_ready: bool, containers: Sequence[ContainerState]
) -> list[dict[str, Any]]:
    unready = [c.name for c in containers if not c.ready]
    containers_ready: dict[str, Any] = {"type": "ContainersReady", "status": "True"}
    if unready:
        containers_ready = {
            "type": "ContainersReady",
            "status": "False",
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: {_go_list(unready)}",
        }
    ready = {**containers_ready, "type": "Ready"}
    if not unready and (gate := readiness_gate_problem(pod)) is not None:
        ready = {"type": "Ready", "status": "False", "reason": "ReadinessGatesNotReady", "message": gate}
    return [
        {"type": "PodReadyToStartContainers", "status": "True" if sandbox_ready else "False"},
        {"type": "Initialized", "status": "True"},
        ready,
        containers_ready,
        {"type": "PodScheduled", "status": "True"},
    ]


def phase(containers: Sequence[ContainerState], *, stopped: bool, restart_policy: str = "Always") -> str:
    """Pending until every container has started; Succeeded or Failed once all have stopped for good
    (the pod was deleted, or its restartPolicy lets none of them start again)."""
    codes = [c.state.get("terminated", {}).get("exitCode") for c in containers]
    done_for_good = (
        containers
        and all(code is not None for code in codes)
        and (restart_policy == "Never" or (restart_policy == "OnFailure" and all(code == 0 for code in codes)))
    )
    if stopped or done_for_good:
        return "Succeeded" if all(code in (0, None) for code in codes) else "Failed"
    started = all(c.started or "terminated" in c.state or c.restart_count for c in containers)
    return "Running" if containers and started else "Pending"


def mount_timeout_message(unmounted: Sequence[str]) -> str:
    """The FailedMount event of a pod whose volumes did not all mount within MOUNT_TIMEOUT."""
    return (
        f"Unable to attach or mount volumes: unmounted volumes={_go_list(unmounted)}, unattached volumes=[], "
        "failed to process volumes=[]: context deadline exceeded"
    )
