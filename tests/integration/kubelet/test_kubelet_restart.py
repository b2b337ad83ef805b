"""A kubelet restart: volumes stay mounted while it is down; afterwards live pods are set up again
(idempotently, keeping their IP) and pods deleted meanwhile are torn down from vol_data.json."""

from __future__ import annotations

from pathlib import Path

from kubelet_harness import DRIVER, NODE, POD_YAML, SERVICE_ACCOUNT, FakeNode, csidriver, eventually

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.clock import FakeClock


def _kubelet(tmp_path: Path, endpoint: str) -> Kubelet:
    return Kubelet(
        kubeconfig=tmp_path / "kubeconfig",
        node_name=NODE,
        root_dir=tmp_path / "kubelet",
        drivers={DRIVER: endpoint},
        clock=FakeClock(),
    )


async def _first_run(tmp_path: Path, endpoint: str) -> tuple[str, Path]:
    first = _kubelet(tmp_path, endpoint)
    await first.start()
    await first.apply([SERVICE_ACCOUNT, csidriver()])
    await first.apply(POD_YAML)
    await first.wait_ready("default", "web", timeout=5)
    uid, target = first.pod_uid("default", "web"), first.pod_volume_path("default", "web", "tls")
    await first.stop()
    return uid, target


async def test_stop_unmounts_nothing_and_restart_resumes(
    sandbox: Sandbox, fake_node: tuple[FakeNode, str], tmp_path: Path
) -> None:
    node, endpoint = fake_node
    _, target = await _first_run(tmp_path, endpoint)
    assert node.unpublished == []
    assert (target / "tls.crt").exists()
    ip = sandbox.store.get(BY_KEY["/pods"], "default", "web")["status"]["podIP"]
    async with _kubelet(tmp_path, endpoint) as second:
        await second.wait_ready("default", "web", timeout=5)
        assert len(node.published) == 2
        assert node.published[1].request.volume_id == node.published[0].request.volume_id
    assert sandbox.store.get(BY_KEY["/pods"], "default", "web")["status"]["podIP"] == ip
    assert node.unpublished == []


async def test_pod_deleted_while_down_is_torn_down_after_restart(
    sandbox: Sandbox, fake_node: tuple[FakeNode, str], tmp_path: Path
) -> None:
    node, endpoint = fake_node
    uid, target = await _first_run(tmp_path, endpoint)
    sandbox.store.delete(BY_KEY["/pods"], "default", "web")
    async with _kubelet(tmp_path, endpoint):
        await eventually(lambda: not (tmp_path / "kubelet" / "pods" / uid).exists(), what="orphan cleanup")
    (call,) = node.unpublished
    assert call.volume_id == node.published[0].request.volume_id
    assert call.target_path == str(target)
