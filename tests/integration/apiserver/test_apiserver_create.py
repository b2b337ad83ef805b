"""Create: 201 with uid, creationTimestamp and a rising resourceVersion; generateName; conflicts."""

from __future__ import annotations

import json
import re

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_create_answers_201_with_server_fields(cluster: Cluster) -> None:
    status, body = await cluster.request(
        "POST", "/api/v1/namespaces/default/configmaps", body=json.dumps({"metadata": {"name": "fresh"}}).encode()
    )
    assert status == 201
    meta = body["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert (body["kind"], body["apiVersion"], meta["namespace"]) == ("ConfigMap", "v1", "default")


async def test_resource_versions_rise_with_every_write(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    versions = []
    for i in range(5):
        cm = await v1.create_namespaced_config_map("default", {"metadata": {"name": f"rv-{i}"}})
        versions.append(int(cm.metadata.resource_version))
    assert versions == sorted(versions) and len(set(versions)) == 5


async def test_generate_name_appends_a_random_suffix(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    first = await v1.create_namespaced_config_map("default", {"metadata": {"generateName": "gen-"}})
    second = await v1.create_namespaced_config_map("default", {"metadata": {"generateName": "gen-"}})
    assert re.fullmatch(r"gen-[a-z0-9]{5}", first.metadata.name)
    assert first.metadata.name != second.metadata.name
    assert first.metadata.generate_name == "gen-"


async def test_second_create_of_a_name_is_409_already_exists(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await v1.create_namespaced_secret("default", {"metadata": {"name": "twice"}})
    with pytest.raises(ApiException) as caught:
        await v1.create_namespaced_secret("default", {"metadata": {"name": "twice"}})
    status = json.loads(caught.value.body)
    assert (caught.value.status, status["reason"]) == (409, "AlreadyExists")
    assert status["message"] == 'secrets "twice" already exists'
    assert status["details"] == {"name": "twice", "kind": "secrets"}


async def test_create_in_a_missing_namespace_is_404(admin: client.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(admin).create_namespaced_config_map("nowhere", {"metadata": {"name": "x"}})
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["message"] == 'namespaces "nowhere" not found'


async def test_cluster_scoped_create(admin: client.ApiClient) -> None:
    ns = await client.CoreV1Api(admin).create_namespace({"metadata": {"name": "made-by-test"}})
    assert ns.status.phase == "Active" and ns.metadata.namespace is None
    issuer = await client.CustomObjectsApi(admin).create_cluster_custom_object(
        CM_GROUP,
        CM_VERSION,
        "clusterissuers",
        {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "ca"}, "spec": {}},
    )
    assert issuer["metadata"]["uid"] and "namespace" not in issuer["metadata"]


async def test_custom_resource_create(admin: client.ApiClient) -> None:
    created = await client.CustomObjectsApi(admin).create_namespaced_custom_object(
        CM_GROUP, CM_VERSION, "default", "certificaterequests", certificate_request("cr-create")
    )
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["namespace"] == "default"


async def test_body_of_another_kind_is_400(cluster: Cluster) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}).encode()
    status, answer = await cluster.request("POST", "/api/v1/namespaces/default/configmaps", body=body)
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert "Pod" in answer["message"] and "ConfigMap" in answer["message"]


async def test_body_namespace_must_match_the_url(cluster: Cluster) -> None:
    body = json.dumps({"metadata": {"name": "elsewhere", "namespace": "other"}}).encode()
    status, answer = await cluster.request("POST", "/api/v1/namespaces/default/configmaps", body=body)
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert "does not match the namespace" in answer["message"]
