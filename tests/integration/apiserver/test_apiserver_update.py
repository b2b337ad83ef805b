"""PUT with optimistic concurrency: the body's resourceVersion must be the stored one."""

from __future__ import annotations

import json

import pytest
from apiserver_support import Cluster
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_put_with_the_current_version_replaces_the_object(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    cm = await v1.create_namespaced_config_map("default", {"metadata": {"name": "put-ok"}, "data": {"a": "1"}})
    cm.data = {"b": "2"}
    updated = await v1.replace_namespaced_config_map("put-ok", "default", cm)
    assert updated.data == {"b": "2"}
    assert int(updated.metadata.resource_version) > int(cm.metadata.resource_version)
    assert updated.metadata.uid == cm.metadata.uid


async def test_put_with_a_stale_version_is_409_conflict(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    cm = await v1.create_namespaced_config_map("default", {"metadata": {"name": "put-stale"}})
    await v1.replace_namespaced_config_map(
        "put-stale", "default", {"metadata": {"name": "put-stale"}, "data": {"x": "y"}}
    )
    with pytest.raises(ApiException) as caught:
        await v1.replace_namespaced_config_map("put-stale", "default", cm)
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["reason"]) == (409, "Conflict")
    assert body["message"].startswith('Operation cannot be fulfilled on configmaps "put-stale"')


async def test_put_without_a_version_is_unconditional_for_builtins(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await v1.create_namespaced_config_map("default", {"metadata": {"name": "put-force"}})
    updated = await v1.replace_namespaced_config_map(
        "put-force", "default", {"metadata": {"name": "put-force"}, "data": {"k": "v"}}
    )
    assert updated.data == {"k": "v"}


async def test_put_of_a_missing_object_is_404(admin: client.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(admin).replace_namespaced_config_map(
            "absent", "default", {"metadata": {"name": "absent"}}
        )
    assert caught.value.status == 404


async def test_put_name_must_match_the_url(cluster: Cluster, admin: client.ApiClient) -> None:
    await client.CoreV1Api(admin).create_namespaced_config_map("default", {"metadata": {"name": "put-name"}})
    body = json.dumps({"metadata": {"name": "other-name"}}).encode()
    status, answer = await cluster.request("PUT", "/api/v1/namespaces/default/configmaps/put-name", body=body)
    assert (status, answer["reason"]) == (400, "BadRequest")


async def test_put_namespace_must_match_the_url(cluster: Cluster, admin: client.ApiClient) -> None:
    await client.CoreV1Api(admin).create_namespaced_config_map("default", {"metadata": {"name": "put-ns"}})
    body = json.dumps({"metadata": {"name": "put-ns", "namespace": "other"}}).encode()
    status, answer = await cluster.request("PUT", "/api/v1/namespaces/default/configmaps/put-ns", body=body)
    assert (status, answer["reason"]) == (400, "BadRequest")
