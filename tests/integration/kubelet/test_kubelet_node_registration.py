"""The kubelet registers its Node as kubelet does (labels, kubelet's conditions, addresses, nodeInfo) and keeps
it alive with the Lease in kube-node-lease, renewed every 10 s, its status re-posted every 5 minutes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubelet_harness import advance, eventually

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.clock import FakeClock

NODES, LEASES = BY_KEY["/nodes"], BY_KEY["coordination.k8s.io/leases"]


def node_kubelet(tmp_path: Path, **options: Any) -> Kubelet:
    return Kubelet(
        kubeconfig=tmp_path / "kubeconfig",
        node_name="node-7",
        root_dir=tmp_path / "kubelet",
        drivers={},
        register_node=True,
        **options,
    )


@pytest.fixture
async def registered(sandbox: Sandbox, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Kubelet]:
    agent = node_kubelet(tmp_path, clock=clock, host_ip="10.0.0.7", node_annotations={"example.com/rack": "r1"})
    await agent.start()
    yield agent
    await agent.stop()


def conditions(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in node["status"]["conditions"]}


async def test_the_node_is_registered_ready_with_kubelets_labels_and_status(
    registered: Kubelet, sandbox: Sandbox
) -> None:
    node = sandbox.store.get(NODES, None, "node-7")
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "node-7" and labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] == labels["beta.kubernetes.io/arch"]
    assert node["metadata"]["annotations"]["example.com/rack"] == "r1"
    found = conditions(node)
    assert (found["Ready"]["status"], found["Ready"]["reason"], found["Ready"]["message"]) == (
        "True",
        "KubeletReady",
        "kubelet is posting ready status",
    )
    for kind, reason in (
        ("MemoryPressure", "KubeletHasSufficientMemory"),
        ("DiskPressure", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "KubeletHasSufficientPID"),
    ):
        assert (found[kind]["status"], found[kind]["reason"]) == ("False", reason)
    assert node["status"]["addresses"] == [
        {"type": "InternalIP", "address": "10.0.0.7"},
        {"type": "Hostname", "address": "node-7"},
    ]
    info = node["status"]["nodeInfo"]
    assert info["operatingSystem"] == "linux" and info["containerRuntimeVersion"].startswith("certcsi-sandbox://")
    assert re.fullmatch(r"v1\.\d+\.\d+.*", info["kubeletVersion"])
    assert int(node["status"]["capacity"]["pods"]) == 110


async def test_the_lease_is_owned_by_the_node_and_renewed_every_ten_seconds(
    registered: Kubelet, sandbox: Sandbox, clock: FakeClock
) -> None:
    lease = sandbox.store.get(LEASES, "kube-node-lease", "node-7")
    node = sandbox.store.get(NODES, None, "node-7")
    assert lease["spec"]["holderIdentity"] == "node-7" and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "node-7", "uid": node["metadata"]["uid"]}
    ]
    first = lease["spec"]["renewTime"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first)  # MicroTime, as the API requires
    await eventually(lambda: clock.pending_timers == 1, what="the heartbeat timer")
    await advance(clock, 10)
    await eventually(lambda: sandbox.store.get(LEASES, "kube-node-lease", "node-7")["spec"]["renewTime"] != first)
    heartbeat = conditions(node)["Ready"]["lastHeartbeatTime"]
    for _ in range(30):  # 5 minutes of renewals: then the status is posted again
        await eventually(lambda: clock.pending_timers == 1, what="the heartbeat timer")
        await advance(clock, 10)
    await eventually(
        lambda: conditions(sandbox.store.get(NODES, None, "node-7"))["Ready"]["lastHeartbeatTime"] != heartbeat,
        what="a status post with a new heartbeat",
    )
    ready = conditions(sandbox.store.get(NODES, None, "node-7"))["Ready"]
    assert ready["lastTransitionTime"] == conditions(node)["Ready"]["lastTransitionTime"]  # still Ready since start


async def test_a_restarted_kubelet_adopts_its_node(registered: Kubelet, sandbox: Sandbox, tmp_path: Path) -> None:
    uid = sandbox.store.get(NODES, None, "node-7")["metadata"]["uid"]
    again = node_kubelet(tmp_path)
    await again.start()
    await again.stop()
    assert sandbox.store.get(NODES, None, "node-7")["metadata"]["uid"] == uid
