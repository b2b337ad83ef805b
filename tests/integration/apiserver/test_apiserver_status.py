"""The status subresource: writes to /status change only status; writes to the object ignore status."""

from __future__ import annotations

import json
from typing import Any

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = pytest.mark.asyncio(loop_scope="module")
MERGE = "application/merge-patch+json"
CRS = (CM_GROUP, CM_VERSION, "default", "certificaterequests")


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}}


async def test_pod_status_put_changes_only_status(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    pod = await v1.create_namespaced_pod("default", _pod("status-put"))
    assert pod.status.phase == "Pending"
    pod.status.phase = "Running"
    pod.spec.node_name = "ignored"
    updated = await v1.replace_namespaced_pod_status("status-put", "default", pod)
    assert (updated.status.phase, updated.spec.node_name) == ("Running", "n1")


async def test_pod_put_ignores_status(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    pod = await v1.create_namespaced_pod("default", _pod("object-put"))
    pod.status.phase = "Succeeded"
    pod.metadata.labels = {"changed": "yes"}
    updated = await v1.replace_namespaced_pod("object-put", "default", pod)
    assert updated.status.phase == "Pending"
    assert updated.metadata.labels == {"changed": "yes"}


async def test_pod_status_patch_and_get(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await v1.create_namespaced_pod("default", _pod("status-patch"))
    patch = {"status": {"phase": "Running"}, "spec": {"nodeName": "ignored"}}
    await v1.patch_namespaced_pod_status("status-patch", "default", patch, _content_type=MERGE)
    read = await v1.read_namespaced_pod_status("status-patch", "default")
    assert (read.status.phase, read.spec.node_name) == ("Running", "n1")


async def test_certificate_request_status_subresource(admin: client.ApiClient) -> None:
    api = client.CustomObjectsApi(admin)
    await api.create_namespaced_custom_object(*CRS, certificate_request("cr-status"))
    condition = {"type": "Approved", "status": "True", "reason": "test", "message": "ok"}
    patched = await api.patch_namespaced_custom_object_status(
        *CRS, "cr-status", {"status": {"conditions": [condition]}, "spec": {"isCA": True}}, _content_type=MERGE
    )
    assert patched["status"]["conditions"] == [condition]
    assert "isCA" not in patched["spec"]
    assert patched["metadata"]["generation"] == 1  # a status write is not a spec change
    read = await api.get_namespaced_custom_object_status(*CRS, "cr-status")
    read["status"]["certificate"] = "Y2VydA=="
    replaced = await api.replace_namespaced_custom_object_status(*CRS, "cr-status", read)
    assert replaced["status"]["certificate"] == "Y2VydA=="


async def test_certificate_request_object_writes_ignore_status(admin: client.ApiClient) -> None:
    api = client.CustomObjectsApi(admin)
    created = await api.create_namespaced_custom_object(*CRS, certificate_request("cr-object"))
    created["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    created["metadata"]["labels"] = {"x": "y"}
    replaced = await api.replace_namespaced_custom_object(*CRS, "cr-object", created)
    assert "status" not in replaced  # a custom resource has no status until its /status is written
    assert replaced["metadata"]["labels"] == {"x": "y"}


async def test_custom_resource_create_answers_without_status(admin: client.ApiClient) -> None:
    body = certificate_request("cr-no-status")
    body["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    created = await client.CustomObjectsApi(admin).create_namespaced_custom_object(*CRS, body)
    assert "status" not in created


async def test_status_of_a_type_without_one_is_404(cluster: Cluster) -> None:
    status, body = await cluster.request("GET", "/api/v1/namespaces/default/configmaps/x/status")
    assert (status, body) == (404, b"404 page not found\n")


async def test_status_takes_no_delete(cluster: Cluster, admin: client.ApiClient) -> None:
    await client.CoreV1Api(admin).create_namespaced_pod("default", _pod("status-delete"))
    status, body = await cluster.request("DELETE", "/api/v1/namespaces/default/pods/status-delete/status")
    assert (status, body["reason"]) == (405, "MethodNotAllowed")


async def test_status_write_with_a_stale_version_is_409(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    pod = await v1.create_namespaced_pod("default", _pod("status-stale"))
    await v1.patch_namespaced_pod_status(
        "status-stale", "default", {"status": {"phase": "Running"}}, _content_type=MERGE
    )
    with pytest.raises(ApiException) as caught:
        await v1.replace_namespaced_pod_status("status-stale", "default", pod)
    assert (caught.value.status, json.loads(caught.value.body)["reason"]) == (409, "Conflict")
