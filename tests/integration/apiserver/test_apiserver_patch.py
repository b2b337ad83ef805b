"""PATCH by content type: merge patch, JSON patch, strategic merge patch; anything else is 415."""

from __future__ import annotations

import json

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _configmap(admin: client.ApiClient, name: str) -> client.CoreV1Api:
    v1 = client.CoreV1Api(admin)
    await v1.create_namespaced_config_map(
        "default", {"metadata": {"name": name, "labels": {"keep": "1", "drop": "1"}}, "data": {"a": "1"}}
    )
    return v1


async def test_merge_patch(admin: client.ApiClient) -> None:
    v1 = await _configmap(admin, "merge")
    patch = {"metadata": {"labels": {"drop": None, "new": "2"}}, "data": {"b": "2"}}
    patched = await v1.patch_namespaced_config_map(
        "merge", "default", patch, _content_type="application/merge-patch+json"
    )
    assert patched.metadata.labels == {"keep": "1", "new": "2"}
    assert patched.data == {"a": "1", "b": "2"}


async def test_json_patch(admin: client.ApiClient) -> None:
    v1 = await _configmap(admin, "jsonpatch")
    patch = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "changed"},
        {"op": "remove", "path": "/metadata/labels/drop"},
    ]
    patched = await v1.patch_namespaced_config_map("jsonpatch", "default", patch)  # client picks json-patch for a list
    assert patched.data == {"a": "changed"}
    assert patched.metadata.labels == {"keep": "1"}


async def test_json_patch_that_cannot_apply_is_422(admin: client.ApiClient) -> None:
    v1 = await _configmap(admin, "jsonpatch-fail")
    with pytest.raises(ApiException) as caught:
        await v1.patch_namespaced_config_map(
            "jsonpatch-fail", "default", [{"op": "test", "path": "/data/a", "value": "2"}]
        )
    assert (caught.value.status, json.loads(caught.value.body)["reason"]) == (422, "Invalid")


async def test_strategic_merge_patch_merges_like_a_merge_patch(admin: client.ApiClient) -> None:
    v1 = await _configmap(admin, "strategic")
    patched = await v1.patch_namespaced_config_map("strategic", "default", {"data": {"c": "3"}})  # dict → strategic
    assert patched.data == {"a": "1", "c": "3"}


async def test_patch_with_a_stale_version_is_409(admin: client.ApiClient) -> None:
    v1 = await _configmap(admin, "patch-stale")
    patch = {"metadata": {"resourceVersion": "1"}, "data": {"x": "y"}}
    with pytest.raises(ApiException) as caught:
        await v1.patch_namespaced_config_map(
            "patch-stale", "default", patch, _content_type="application/merge-patch+json"
        )
    assert caught.value.status == 409


async def test_custom_resources_take_merge_and_json_patch(admin: client.ApiClient) -> None:
    api = client.CustomObjectsApi(admin)
    await api.create_namespaced_custom_object(
        CM_GROUP, CM_VERSION, "default", "certificaterequests", certificate_request("cr-patch")
    )
    merged = await api.patch_namespaced_custom_object(
        CM_GROUP,
        CM_VERSION,
        "default",
        "certificaterequests",
        "cr-patch",
        {"metadata": {"labels": {"l": "v"}}},
        _content_type="application/merge-patch+json",
    )
    assert merged["metadata"]["labels"] == {"l": "v"}
    patched = await api.patch_namespaced_custom_object(
        CM_GROUP,
        CM_VERSION,
        "default",
        "certificaterequests",
        "cr-patch",
        [{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}],
    )
    assert patched["metadata"]["annotations"] == {"a": "b"}


async def test_custom_resources_refuse_strategic_merge_patch(cluster: Cluster, admin: client.ApiClient) -> None:
    await client.CustomObjectsApi(admin).create_namespaced_custom_object(
        CM_GROUP, CM_VERSION, "default", "certificaterequests", certificate_request("cr-strategic")
    )
    status, body = await cluster.request(
        "PATCH",
        "/apis/cert-manager.io/v1/namespaces/default/certificaterequests/cr-strategic",
        body=b"{}",
        content_type="application/strategic-merge-patch+json",
    )
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")
    assert body["message"].endswith(
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


async def test_a_dict_sent_as_json_patch_is_400(admin: client.ApiClient) -> None:
    # kubernetes-asyncio sends a dict as json-patch to custom objects unless told otherwise, and a
    # real kube-apiserver refuses it: code that forgets _content_type fails here as it would there.
    api = client.CustomObjectsApi(admin)
    await api.create_namespaced_custom_object(
        CM_GROUP, CM_VERSION, "default", "certificaterequests", certificate_request("cr-dict")
    )
    with pytest.raises(ApiException) as caught:
        await api.patch_namespaced_custom_object(
            CM_GROUP, CM_VERSION, "default", "certificaterequests", "cr-dict", {"a": 1}
        )
    assert (caught.value.status, json.loads(caught.value.body)["reason"]) == (400, "BadRequest")


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
async def test_other_patch_content_types_are_415(
    cluster: Cluster, admin: client.ApiClient, content_type: str | None
) -> None:
    name = "ct-" + "".join(c for c in (content_type or "none") if c.isalnum()).lower()
    await _configmap(admin, name)
    status, body = await cluster.request(
        "PATCH", f"/api/v1/namespaces/default/configmaps/{name}", body=b"{}", content_type=content_type
    )
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")
    assert "application/strategic-merge-patch+json" in body["message"]


async def test_patch_of_a_missing_object_is_404(admin: client.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(admin).patch_namespaced_config_map("absent", "default", {"data": {}})
    assert caught.value.status == 404
