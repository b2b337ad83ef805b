"""Pod status as kubelet reports it: Pending while volumes mount, then Running with a pod IP."""

from __future__ import annotations

import asyncio
from typing import Any

from kubelet_harness import POD_YAML, SERVICE_ACCOUNT, FakeNode, csidriver, eventually

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import Kubelet


def _status(sandbox: Sandbox, name: str) -> dict[str, Any]:
    pod = sandbox.store.find(BY_KEY["/pods"], "default", name)
    assert pod is not None
    status: dict[str, Any] = pod.get("status") or {}
    return status


def _condition(status: dict[str, Any], kind: str) -> str | None:
    return next((c["status"] for c in status.get("conditions") or [] if c["type"] == kind), None)


async def test_pending_then_running_with_an_ip(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    node.gate = asyncio.Event()
    await kubelet.apply([SERVICE_ACCOUNT, csidriver()])
    await kubelet.apply(POD_YAML)
    await asyncio.wait_for(node.publish_started.wait(), 5)
    await eventually(lambda: _condition(_status(sandbox, "web"), "Ready") == "False", what="Ready=False")
    pending = _status(sandbox, "web")
    assert pending["phase"] == "Pending"
    assert "podIP" not in pending
    assert pending["hostIP"] == "10.0.0.10"
    node.gate.set()
    await kubelet.wait_ready("default", "web", timeout=5)
    running = _status(sandbox, "web")
    assert running["phase"] == "Running"
    assert running["podIP"] == "10.244.0.1"
    assert running["podIPs"] == [{"ip": "10.244.0.1"}]
    assert running["startTime"] == pending["startTime"]
    for kind in ("Ready", "ContainersReady", "Initialized", "PodScheduled"):
        assert _condition(running, kind) == "True"


async def test_each_pod_gets_its_own_ip(kubelet: Kubelet, sandbox: Sandbox) -> None:
    await kubelet.apply([SERVICE_ACCOUNT, csidriver()])
    for name in ("a", "b"):
        await kubelet.apply(POD_YAML.replace("name: web", f"name: {name}"))
        await kubelet.wait_ready("default", name, timeout=5)
    assert {_status(sandbox, "a")["podIP"], _status(sandbox, "b")["podIP"]} == {"10.244.0.1", "10.244.0.2"}


async def test_pod_without_csi_volumes_runs_at_once(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"}}
    await kubelet.apply({**pod, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    await kubelet.wait_ready("default", "plain", timeout=5)
    assert _status(sandbox, "plain")["phase"] == "Running"
    assert node.published == []
