"""The workload controllers on the sandbox: a DaemonSet runs one pod on the node and replaces it when its
template changes; a Deployment keeps `replicas` pods, rolls a new template out new-first, scales to zero,
and both report the status counts and conditions `kubectl rollout status` reads."""

from __future__ import annotations

from typing import Any

from node_support import until

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.bringup import LocalCluster

PODS = BY_KEY["/pods"]
DAEMONSETS, DEPLOYMENTS = BY_KEY["apps/daemonsets"], BY_KEY["apps/deployments"]


def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c", "image": image}]}}


def live_pods(cluster: LocalCluster) -> list[dict[str, Any]]:
    items, _ = cluster.sandbox.store.list(PODS, "default")
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def running_images(cluster: LocalCluster) -> list[str]:
    return sorted(
        p["spec"]["containers"][0]["image"] for p in live_pods(cluster) if p.get("status", {}).get("phase") == "Running"
    )


async def test_a_daemonset_runs_on_the_node_and_rolls_a_new_template(cluster: LocalCluster) -> None:
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}}
    await cluster.kubelet.apply(
        {**ds, "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": template("a:1")}}
    )
    await until(lambda: running_images(cluster) == ["a:1"], what="the daemon pod Running")
    (daemon,) = live_pods(cluster)
    assert daemon["metadata"]["generateName"] == "agent-" and daemon["spec"]["nodeName"] == cluster.node_name
    assert daemon["metadata"]["labels"]["pod-template-generation"] == "1"
    terms = daemon["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [cluster.node_name]}]}
    ]
    store = cluster.sandbox.store
    await until(
        lambda: store.get(DAEMONSETS, "default", "agent").get("status", {}).get("numberReady") == 1, what="ready"
    )

    def bump(obj: dict[str, Any]) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "a:2"

    store.mutate(DAEMONSETS, "default", "agent", bump)
    await until(lambda: running_images(cluster) == ["a:2"], what="the new template's pod")
    status = await until(
        lambda: (
            (s := store.get(DAEMONSETS, "default", "agent").get("status", {})).get("observedGeneration") == 2
            and s.get("numberReady") == 1
            and s
        ),
        what="status of generation 2",
    )
    assert (status["desiredNumberScheduled"], status["updatedNumberScheduled"], status["numberAvailable"]) == (1, 1, 1)


async def test_a_deployment_keeps_its_replicas_rolls_out_and_scales_to_zero(cluster: LocalCluster) -> None:
    store = cluster.sandbox.store
    spec = {"replicas": 2, "selector": {"matchLabels": {"app": "w"}}, "template": template("d:1")}
    await cluster.kubelet.apply(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}
    )
    await until(lambda: running_images(cluster) == ["d:1", "d:1"], what="two replicas Running")
    status = await until(
        lambda: (s := store.get(DEPLOYMENTS, "default", "web").get("status", {})).get("readyReplicas") == 2 and s,
        what="readyReplicas 2",
    )
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (2, 2, 2)
    available = {c["type"]: c for c in status["conditions"]}["Available"]
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    names = [p["metadata"]["name"] for p in live_pods(cluster)]
    hash_label = live_pods(cluster)[0]["metadata"]["labels"]["pod-template-hash"]
    assert all(name.startswith(f"web-{hash_label}-") for name in names)

    def roll(obj: dict[str, Any]) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "d:2"

    store.mutate(DEPLOYMENTS, "default", "web", roll)
    await until(lambda: running_images(cluster) == ["d:2", "d:2"], what="the rollout")
    progressing = await until(
        lambda: (
            {
                c["type"]: c for c in store.get(DEPLOYMENTS, "default", "web").get("status", {}).get("conditions") or []
            }.get("Progressing", {}).get("reason")
            == "NewReplicaSetAvailable"
        ),
        what="Progressing NewReplicaSetAvailable",
    )
    assert progressing

    def scale(obj: dict[str, Any]) -> None:
        obj["spec"]["replicas"] = 0

    store.mutate(DEPLOYMENTS, "default", "web", scale)
    await until(lambda: not cluster.sandbox.store.list(PODS, "default")[0], what="every pod gone")
