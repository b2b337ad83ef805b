"""Pods on the sandbox node through their life, as kubelet lives it: graceful deletion finished by the
kubelet, certcsi containers as processes (logs, restarts with kubelet's crash-loop back-off, a
terminal phase under restartPolicy Never) with the service-account token where in-cluster config reads it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from node_support import until

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.bringup import LocalCluster

PODS, EVENTS = BY_KEY["/pods"], BY_KEY["/events"]


def pod(name: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "busybox", **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def status(cluster: LocalCluster, name: str) -> dict[str, Any]:
    found = cluster.sandbox.store.find(PODS, "default", name)
    return (found or {}).get("status") or {}


def container(cluster: LocalCluster, name: str) -> dict[str, Any]:
    return dict((status(cluster, name).get("containerStatuses") or [{}])[0])


def reasons(cluster: LocalCluster, name: str) -> list[str]:
    return [e["reason"] for e in cluster.sandbox.store.all_objects(EVENTS) if e["involvedObject"]["name"] == name]


async def test_a_graceful_delete_is_finished_by_the_kubelet(cluster: LocalCluster) -> None:
    store = cluster.sandbox.store
    await cluster.kubelet.apply(pod("web"))
    await until(lambda: status(cluster, "web").get("phase") == "Running", what="Running")
    seen: list[tuple[str, str | None, bool]] = []
    watch = store.watch(PODS, "default", since=store.resource_version)

    async def record() -> None:
        async for event in watch:
            meta = event.object["metadata"]
            seen.append((event.type, event.object.get("status", {}).get("phase"), bool(meta.get("deletionTimestamp"))))
            if event.type == "DELETED":
                return

    recorder = asyncio.create_task(record())
    terminating = store.delete(PODS, "default", "web", grace_seconds=30)
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30  # the API only marks it
    await asyncio.wait_for(recorder, 15)
    assert seen[0] == ("MODIFIED", "Running", True)
    assert ("MODIFIED", "Succeeded", True) in seen  # containers stopped: kubelet reports the terminal phase
    assert seen[-1][0] == "DELETED"  # then deletes it for good (grace 0)
    assert "Killing" in reasons(cluster, "web")


async def test_a_certcsi_container_runs_as_a_process_with_its_token_where_in_cluster_config_reads_it(
    cluster: LocalCluster,
) -> None:
    command = {"command": ["certcsi", "inspect", "--data-root", "/var/run/secrets/kubernetes.io/serviceaccount"]}
    await cluster.kubelet.apply(
        pod("once", restartPolicy="Never", container={"image": "ghcr.io/certcsi/certcsi", **command})
    )
    await until(lambda: status(cluster, "once").get("phase") in ("Succeeded", "Failed"), what="a terminal phase")
    state = container(cluster, "once")["state"]["terminated"]
    # inspect found the directory (the projected token volume) but no volumes in it: exit code 1, "Error".
    assert (state["exitCode"], state["reason"], status(cluster, "once")["phase"]) == (1, "Error", "Failed")
    uid = cluster.sandbox.store.get(PODS, "default", "once")["metadata"]["uid"]
    log = (cluster.host.path("/var/log/pods") / f"default_once_{uid}" / "app" / "0.log").read_text()
    assert "/var/run/secrets/kubernetes.io/serviceaccount/inmemfs is missing or not a directory" in log
    assert "does not exist" not in log
    assert reasons(cluster, "once")[-3:] == ["Pulled", "Created", "Started"]


async def test_a_container_that_keeps_exiting_is_restarted_then_backed_off(cluster: LocalCluster) -> None:
    await cluster.kubelet.apply(
        pod("loop", container={"image": "ghcr.io/certcsi/certcsi", "command": ["certcsi", "--version"]})
    )
    waiting = await until(
        lambda: (
            container(cluster, "loop").get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
            and container(cluster, "loop")
        ),
        what="CrashLoopBackOff",
    )
    assert waiting["restartCount"] >= 2  # restarted at once the first time, then backed off
    assert waiting["lastState"]["terminated"]["reason"] == "Completed"
    assert waiting["state"]["waiting"]["message"].startswith(
        "back-off 10s restarting failed container=app pod=loop_default("
    )
    assert "BackOff" in reasons(cluster, "loop")
    assert status(cluster, "loop")["phase"] == "Running"  # restartPolicy Always: never terminal


async def test_a_command_other_than_certcsi_is_not_run(cluster: LocalCluster) -> None:
    await cluster.kubelet.apply(
        pod("shell", container={"image": "ghcr.io/certcsi/certcsi", "command": ["sh", "-c", "id"]})
    )
    waiting = await until(
        lambda: container(cluster, "shell").get("state", {}).get("waiting", {}).get("message"), what="why"
    )
    assert waiting == 'the sandbox node runs only certcsi in its containers, not "sh"'
    assert container(cluster, "shell")["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    failed = [e["message"] for e in cluster.sandbox.store.all_objects(EVENTS) if e["reason"] == "Failed"]
    assert failed == ['Error: the sandbox node runs only certcsi in its containers, not "sh"']


async def test_a_readiness_probe_decides_when_a_certcsi_container_is_ready(cluster: LocalCluster) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rbac = "rbac.authorization.k8s.io"
    await cluster.kubelet.apply(
        [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "approver"}},
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "approver-admin"},
                "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": "approver", "namespace": "default"}],
            },
        ]
    )
    args = [
        "--trust-domain=cluster.local",
        "--leader-election-namespace=default",
        "--metrics-bind-address=0",
        f"--readiness-probe-bind-address=127.0.0.1:{port}",
    ]
    readiness = {"httpGet": {"path": "/readyz", "port": "ready"}, "periodSeconds": 1}
    approver = {
        "image": "quay.io/jetstack/cert-manager-csi-driver-spiffe-approver:v0.15.0",  # upstream's: certcsi approver
        "args": args,
        "ports": [{"name": "ready", "containerPort": port}],
        "readinessProbe": readiness,
    }
    await cluster.kubelet.apply(pod("approver", serviceAccountName="approver", container=approver))
    await until(lambda: container(cluster, "approver").get("started"), what="the approver started")
    assert container(cluster, "approver")["ready"] is False  # not before the probe passes
    await until(lambda: container(cluster, "approver").get("ready"), what="the readiness probe to pass", timeout=45)
    conditions = {c["type"]: c["status"] for c in status(cluster, "approver")["conditions"]}
    assert conditions["Ready"] == conditions["ContainersReady"] == "True"
