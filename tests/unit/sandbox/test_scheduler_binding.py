"""The sandbox's scheduler: a pod without a node is bound to a Ready node that fits it, as kube-scheduler
binds (spec.nodeName, PodScheduled, the Scheduled event); one that fits nowhere waits, Unschedulable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.scheduling import Scheduler, unschedulable_message, why_not

PODS, NODES, EVENTS, NAMESPACES = BY_KEY["/pods"], BY_KEY["/nodes"], BY_KEY["/events"], BY_KEY["/namespaces"]
READY = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}


def node(name: str, *, ready: bool = True, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": READY if ready else {"conditions": [{"type": "Ready", "status": "False"}]},
    }


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}], **spec}}


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = Store()
    s.create(NAMESPACES, {"metadata": {"name": "default"}})
    scheduler = Scheduler(s)
    scheduler.start()
    yield s
    await scheduler.stop()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def scheduled(store: Store, name: str) -> dict[str, Any]:
    found = store.get(PODS, "default", name)
    return next(c for c in found["status"].get("conditions") or [] if c["type"] == "PodScheduled")


def events(store: Store, reason: str) -> list[str]:
    return [e["message"] for e in store.all_objects(EVENTS) if e["reason"] == reason]


async def test_a_pod_is_bound_to_the_ready_node(store: Store) -> None:
    store.create(NODES, node("sandbox-node"))
    store.create(PODS, pod("web"), namespace="default")
    await settle()
    bound = store.get(PODS, "default", "web")
    assert bound["spec"]["nodeName"] == "sandbox-node"
    assert scheduled(store, "web")["status"] == "True"
    assert events(store, "Scheduled") == ["Successfully assigned default/web to sandbox-node"]
    (event,) = [e for e in store.all_objects(EVENTS) if e["reason"] == "Scheduled"]
    assert (
        event["source"] == {"component": "default-scheduler"}
        and event["involvedObject"]["uid"] == bound["metadata"]["uid"]
    )


async def test_without_nodes_the_pod_waits_and_is_bound_when_one_registers(store: Store) -> None:
    store.create(PODS, pod("web"), namespace="default")
    await settle()
    waiting = scheduled(store, "web")
    assert (waiting["status"], waiting["reason"], waiting["message"]) == (
        "False",
        "Unschedulable",
        "no nodes available to schedule pods",
    )
    assert events(store, "FailedScheduling") == ["no nodes available to schedule pods"]
    store.create(NODES, node("late"))
    await settle()
    assert store.get(PODS, "default", "web")["spec"]["nodeName"] == "late"


async def test_a_node_selector_that_matches_nothing_says_so_like_kube_scheduler(store: Store) -> None:
    store.create(NODES, node("sandbox-node"))
    store.create(PODS, pod("gpu", nodeSelector={"gpu": "yes"}), namespace="default")
    await settle()
    assert scheduled(store, "gpu")["message"] == (
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    store.mutate(NODES, None, "sandbox-node", lambda n: n["metadata"]["labels"].update(gpu="yes"))
    await settle()
    assert store.get(PODS, "default", "gpu")["spec"]["nodeName"] == "sandbox-node"


async def test_a_pod_with_a_node_is_left_alone(store: Store) -> None:
    store.create(NODES, node("a"))
    store.create(PODS, pod("pinned", nodeName="elsewhere"), namespace="default")
    await settle()
    assert store.get(PODS, "default", "pinned")["spec"]["nodeName"] == "elsewhere"
    assert events(store, "Scheduled") == []


def test_daemon_pod_affinity_taints_and_readiness_decide_the_node() -> None:
    daemon = pod(
        "ds-x",
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
    )
    assert why_not(daemon, node("a")) is None
    assert why_not(daemon, node("b")) == "node(s) didn't match Pod's node affinity/selector"
    tainted = node("a", taints=[{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}])
    assert why_not(daemon, tainted) == "node(s) had untolerated taint {dedicated: infra}"
    tolerant = {**daemon, "spec": {**daemon["spec"], "tolerations": [{"key": "dedicated", "operator": "Exists"}]}}
    assert why_not(tolerant, tainted) is None
    assert why_not(daemon, node("a", ready=False)) == "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    assert why_not(daemon, node("a", unschedulable=True)) == "node(s) were unschedulable"
    assert unschedulable_message({"node(s) were unschedulable": 2}, 2).startswith(
        "0/2 nodes are available: 2 node(s) were unschedulable. "
    )
