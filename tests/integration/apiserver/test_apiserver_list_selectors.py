"""List with label selectors (every operator) and field selectors, in one namespace and across all."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from apiserver_support import Cluster
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = pytest.mark.asyncio(loop_scope="module")

PODS = {
    # name: (namespace, labels, node)
    "a": ("default", {"app": "web", "tier": "front"}, "node-1"),
    "b": ("default", {"app": "web", "tier": "back"}, "node-2"),
    "c": ("default", {"app": "db"}, "node-1"),
    "d": ("other", {"app": "web", "tier": "front"}, "node-2"),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pods(admin: client.ApiClient) -> client.CoreV1Api:
    v1 = client.CoreV1Api(admin)
    for name, (namespace, labels, node) in PODS.items():
        body = {
            "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
        }
        await v1.create_namespaced_pod(namespace, body)
    return v1


async def _names(v1: client.CoreV1Api, namespace: str | None = "default", **selectors: str) -> list[str]:
    if namespace is None:
        result = await v1.list_pod_for_all_namespaces(**selectors)
    else:
        result = await v1.list_namespaced_pod(namespace, **selectors)
    return [p.metadata.name for p in result.items]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["a", "b"]),
        ("app==web", ["a", "b"]),
        ("app!=web", ["c"]),
        ("tier in (front,back)", ["a", "b"]),
        ("tier notin (front)", ["b", "c"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c"]),
        ("app=web,tier=back", ["b"]),
    ],
)
async def test_label_selector_operators(pods: client.CoreV1Api, selector: str, expected: list[str]) -> None:
    assert await _names(pods, label_selector=selector) == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=b", ["b"]),
        ("metadata.name!=b", ["a", "c"]),
        ("spec.nodeName=node-1", ["a", "c"]),
        ("spec.nodeName=node-1,metadata.name!=a", ["c"]),
    ],
)
async def test_field_selectors(pods: client.CoreV1Api, selector: str, expected: list[str]) -> None:
    assert await _names(pods, field_selector=selector) == expected


async def test_list_across_namespaces(pods: client.CoreV1Api) -> None:
    assert await _names(pods, None, label_selector="tier=front") == ["a", "d"]
    assert await _names(pods, None, field_selector="metadata.namespace=other") == ["d"]
    assert await _names(pods, None, field_selector="spec.nodeName=node-2") == ["b", "d"]


async def test_list_carries_kind_and_resource_version(pods: client.CoreV1Api, cluster: Cluster) -> None:
    status, body = await cluster.request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Ddb")
    assert status == 200
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert body["metadata"]["resourceVersion"] == str(cluster.store.resource_version)


async def test_list_in_an_empty_namespace_is_empty(pods: client.CoreV1Api) -> None:
    assert await _names(pods, "nowhere") == []


async def test_field_selector_on_an_unindexed_field_is_400(pods: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        await _names(pods, field_selector="spec.hostname=x")
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["reason"]) == (400, "BadRequest")
    assert "spec.hostname" in body["message"]


@pytest.mark.parametrize("selector", ["app in (web", "app=(x)", "=web", "tier notin ()"])
async def test_invalid_label_selector_is_400(pods: client.CoreV1Api, selector: str) -> None:
    with pytest.raises(ApiException) as caught:
        await _names(pods, label_selector=selector)
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["reason"] == "BadRequest"


async def test_cluster_scoped_list(admin: client.ApiClient) -> None:
    names = [ns.metadata.name for ns in (await client.CoreV1Api(admin).list_namespace()).items]
    assert {"default", "other"} <= set(names)


async def test_get_one(pods: client.CoreV1Api) -> None:
    pod = await pods.read_namespaced_pod("a", "default")
    assert pod.spec.node_name == "node-1"
    with pytest.raises(ApiException) as caught:
        await pods.read_namespaced_pod("a", "other")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["message"] == 'pods "a" not found'
