"""The kinds beyond the product's own: apps/v1 DaemonSets and Deployments, Services, Nodes and
CustomResourceDefinitions, stored, defaulted and validated as kube-apiserver does (no controllers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _error(caught: pytest.ExceptionInfo[ApiException]) -> tuple[int, dict[str, Any]]:
    return caught.value.status, json.loads(caught.value.body)


def _workload(name: str, labels: dict[str, str], selector: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}},
        },
    }


async def test_a_daemonset_is_defaulted(admin: client.ApiClient) -> None:
    response = await client.AppsV1Api(admin).create_namespaced_daemon_set(
        "default", _workload("ds", {"app": "x"}, {"app": "x"}), _preload_content=False
    )
    created = await response.json()
    assert created["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert created["spec"]["revisionHistoryLimit"] == 10
    assert created["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert created["status"]["desiredNumberScheduled"] == 0 and created["metadata"]["generation"] == 1


async def test_a_selector_that_misses_the_template_is_422(admin: client.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        await client.AppsV1Api(admin).create_namespaced_deployment(
            "default", _workload("d", {"app": "x"}, {"app": "y"})
        )
    status, answer = _error(caught)
    assert (status, answer["reason"]) == (422, "Invalid")
    assert answer["details"]["causes"][0]["field"] == "spec.template.metadata.labels"
    assert answer["details"]["causes"][0]["message"].endswith("`selector` does not match template `labels`")


async def test_a_deployment_selector_is_immutable(admin: client.ApiClient) -> None:
    apps = client.AppsV1Api(admin)
    created = await apps.create_namespaced_deployment("default", _workload("web", {"app": "web"}, {"app": "web"}))
    assert (created.spec.replicas, created.spec.strategy.rolling_update.max_surge) == (1, "25%")
    patch = {"spec": {"selector": {"matchLabels": {"app": "web", "tier": "x"}}}}
    with pytest.raises(ApiException) as caught:
        await apps.patch_namespaced_deployment("web", "default", patch)
    assert _error(caught)[0] == 422


async def test_a_service_gets_a_cluster_ip(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    created = await v1.create_namespaced_service(
        "default", {"metadata": {"name": "svc"}, "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    )
    assert created.spec.type == "ClusterIP" and created.spec.cluster_ip.startswith("10.96.")
    assert (created.spec.ports[0].protocol, created.spec.ports[0].target_port) == ("TCP", 80)
    with pytest.raises(ApiException) as caught:
        await v1.create_namespaced_service("default", {"metadata": {"name": "portless"}, "spec": {}})
    assert _error(caught)[1]["details"]["causes"][0]["field"] == "spec.ports"


async def test_nodes_are_cluster_scoped(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await v1.create_node({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/worker": ""}}})
    assert [n.metadata.name for n in (await v1.list_node(label_selector="node-role.kubernetes.io/worker")).items] == [
        "n1"
    ]


async def test_the_cert_manager_crds_are_listed(admin: client.ApiClient) -> None:
    crds = await client.ApiextensionsV1Api(admin).list_custom_resource_definition()
    names = {c.metadata.name: c for c in crds.items}
    assert set(names) >= {
        "certificaterequests.cert-manager.io",
        "issuers.cert-manager.io",
        "clusterissuers.cert-manager.io",
    }
    established = {c.type: c.status for c in names["certificaterequests.cert-manager.io"].status.conditions}
    assert established == {"NamesAccepted": "True", "Established": "True"}


def _crd(name: str, plural: str, kind: str, *, scope: str, schema: dict[str, Any]) -> dict[str, Any]:
    version = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
    names = {"plural": plural, "kind": kind}
    return {
        "metadata": {"name": name},
        "spec": {"group": "example.com", "names": names, "scope": scope, "versions": [version]},
    }


async def test_an_invalid_crd_is_422(admin: client.ApiClient) -> None:
    crd = _crd("things.example.com", "stuff", "Thing", scope="Namespaced", schema={"type": "object"})
    with pytest.raises(ApiException) as caught:
        await client.ApiextensionsV1Api(admin).create_custom_resource_definition(crd)
    status, answer = _error(caught)
    assert (status, answer["details"]["causes"][0]["field"]) == (422, "metadata.name")


async def test_a_users_crd_serves_schema_checked_resources(admin: client.ApiClient) -> None:
    spec = {"type": "object", "properties": {"count": {"type": "integer"}}}
    crd = _crd(
        "gadgets.example.com",
        "gadgets",
        "Gadget",
        scope="Cluster",
        schema={"type": "object", "properties": {"spec": spec}},
    )
    await client.ApiextensionsV1Api(admin).create_custom_resource_definition(crd)
    api = client.CustomObjectsApi(admin)
    body = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"count": 2}}
    assert (await api.create_cluster_custom_object("example.com", "v1", "gadgets", body))["spec"] == {"count": 2}
    body["metadata"]["name"], body["spec"]["count"] = "bad", "two"
    with pytest.raises(ApiException) as caught:
        await api.create_cluster_custom_object("example.com", "v1", "gadgets", body)
    status, answer = _error(caught)
    assert (status, answer["details"]["causes"][0]["reason"]) == (422, "FieldValueTypeInvalid")
