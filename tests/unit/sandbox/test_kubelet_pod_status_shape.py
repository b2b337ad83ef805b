"""The pod status the sandbox's kubelet writes: conditions with kubelet's reasons and messages, the phase,
containers' states, and the pod-level FailedMount text."""

from __future__ import annotations

from datetime import UTC, datetime

from certcsi.sandbox.kubelet.podstatus import conditions, mount_timeout_message, phase
from certcsi.sandbox.kubelet.running import ContainerState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def by_type(found: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {c["type"]: c for c in found}


def test_unready_containers_are_named_as_kubelet_names_them() -> None:
    states = [ContainerState("app", "busybox"), ContainerState("sidecar", "busybox")]
    states[1].run(NOW, "")
    states[1].ready = True
    found = by_type(conditions({}, sandbox_ready=False, containers=states))
    assert found["PodReadyToStartContainers"]["status"] == "False"
    assert found["Initialized"]["status"] == "True"
    for kind in ("Ready", "ContainersReady"):
        assert found[kind] == {
            "type": kind,
            "status": "False",
            "reason": "ContainersNotReady",
            "message": "containers with unready status: [app]",
        }


def test_readiness_gates_keep_a_pod_with_ready_containers_unready() -> None:
    state = ContainerState("app", "busybox")
    state.run(NOW, "")
    state.ready = True
    gated = {"spec": {"readinessGates": [{"conditionType": "example.com/warm"}]}}
    found = by_type(conditions(gated, sandbox_ready=True, containers=[state]))
    assert found["ContainersReady"]["status"] == "True"
    assert found["Ready"] == {
        "type": "Ready",
        "status": "False",
        "reason": "ReadinessGatesNotReady",
        "message": 'corresponding condition of pod readiness gate "example.com/warm" does not exist.',
    }
    gated["status"] = {"conditions": [{"type": "example.com/warm", "status": "False"}]}
    message = by_type(conditions(gated, sandbox_ready=True, containers=[state]))["Ready"]["message"]
    assert message == 'the status of pod readiness gate "example.com/warm" is not "True", but False'
    gated["status"] = {"conditions": [{"type": "example.com/warm", "status": "True"}]}
    assert by_type(conditions(gated, sandbox_ready=True, containers=[state]))["Ready"]["status"] == "True"


def test_phase_follows_the_containers() -> None:
    state = ContainerState("app", "busybox")
    assert state.to_api()["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert phase([state], stopped=False) == "Pending"
    state.run(NOW, "sandbox://42")
    assert phase([state], stopped=False) == "Running"
    assert state.to_api()["containerID"] == "sandbox://42"
    state.terminate(NOW, 0)
    assert state.to_api()["state"]["terminated"]["reason"] == "Completed"
    assert phase([state], stopped=True) == "Succeeded"
    killed = ContainerState("app", "busybox")
    killed.run(NOW, "")
    killed.terminate(NOW, 137)
    assert killed.to_api()["state"]["terminated"]["reason"] == "Error"
    assert phase([state, killed], stopped=True) == "Failed"


def test_the_mount_timeout_event_lists_unmounted_volumes_like_go_prints_a_slice() -> None:
    assert mount_timeout_message(["tls", "kube-api-access-x1"]) == (
        "Unable to attach or mount volumes: unmounted volumes=[tls kube-api-access-x1], unattached volumes=[], "
        "failed to process volumes=[]: context deadline exceeded"
    )
