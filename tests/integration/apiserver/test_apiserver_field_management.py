"""Unknown fields (`Warning` headers, `fieldValidation=Strict`), server-side apply with managedFields and
conflicts naming their managers, and paged lists (limit, continue, remainingItemCount)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request
from kubernetes_asyncio import client

pytestmark = pytest.mark.asyncio(loop_scope="module")
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
APPLY = "application/apply-patch+yaml"


async def _post(cluster: Cluster, path: str, body: dict[str, Any]) -> tuple[int, Any, list[str]]:
    async with cluster.raw.post(cluster.url(path), json=body, headers=cluster.headers()) as response:
        return response.status, await response.json(), response.headers.getall("Warning", [])


async def test_unknown_fields_are_warned_about(cluster: Cluster) -> None:
    body = {"metadata": {"name": "warned", "bogus": 1}, "data": {"a": "b"}, "spec": {"x": 1}}
    status, created, warnings = await _post(cluster, CONFIGMAPS, body)
    assert status == 201 and "spec" not in created
    assert warnings == ['299 - "unknown field \\"metadata.bogus\\""', '299 - "unknown field \\"spec\\""']


async def test_strict_field_validation_refuses_unknown_fields(cluster: Cluster) -> None:
    body = {"metadata": {"name": "strict"}, "spec": {"x": 1}}
    status, answer, _ = await _post(cluster, CONFIGMAPS + "?fieldValidation=Strict", body)
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert answer["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec"'
    )


async def test_unknown_fields_of_a_custom_resource_are_pruned_and_warned(cluster: Cluster) -> None:
    body = certificate_request("pruned")
    body["spec"]["bogus"] = True
    status, created, warnings = await _post(
        cluster, f"/apis/{CM_GROUP}/{CM_VERSION}/namespaces/default/certificaterequests", body
    )
    assert status == 201 and "bogus" not in created["spec"]
    assert warnings == ['299 - "unknown field \\"spec.bogus\\""']
    ignored = await _post(
        cluster,
        f"/apis/{CM_GROUP}/{CM_VERSION}/namespaces/default/certificaterequests?fieldValidation=Ignore",
        {**body, "metadata": {"name": "pruned-quietly"}},
    )
    assert ignored[0] == 201 and ignored[2] == []


async def _apply(cluster: Cluster, name: str, data: dict[str, str], query: str) -> tuple[int, Any]:
    document = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
    return await cluster.request("PATCH", f"{CONFIGMAPS}/{name}?{query}", body=document.encode(), content_type=APPLY)


async def test_server_side_apply_creates_and_records_its_manager(cluster: Cluster) -> None:
    status, created = await _apply(cluster, "applied", {"a": "1"}, "fieldManager=tool")
    assert status == 201
    (entry,) = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == (
        "tool",
        "Apply",
        "v1",
        "FieldsV1",
    )
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}


async def test_apply_without_a_field_manager_is_422(cluster: Cluster) -> None:
    status, answer = await _apply(cluster, "applied", {"a": "1"}, "")
    assert (status, answer["reason"]) == (422, "Invalid")
    assert answer["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )


async def test_apply_conflicts_name_the_manager_and_force_takes_over(cluster: Cluster, admin: client.ApiClient) -> None:
    await _apply(cluster, "contested", {"a": "1", "b": "1"}, "fieldManager=first")
    status, answer = await _apply(cluster, "contested", {"a": "2"}, "fieldManager=second")
    assert (status, answer["reason"]) == (409, "Conflict")
    assert answer["message"] == 'Apply failed with 1 conflict: conflict with "first": .data.a'
    assert answer["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "first"', "field": ".data.a"}
    ]
    status, forced = await _apply(cluster, "contested", {"a": "2"}, "fieldManager=second&force=true")
    assert (status, forced["data"]) == (200, {"a": "2", "b": "1"})
    owners = {e["manager"]: e["fieldsV1"] for e in forced["metadata"]["managedFields"]}
    assert owners == {"first": {"f:data": {"f:b": {}}}, "second": {"f:data": {"f:a": {}}}}
    # An update by another client takes the fields it changes, named after its User-Agent product.
    await client.CoreV1Api(admin).patch_namespaced_config_map("contested", "default", {"data": {"b": "9"}})
    status, answer = await _apply(cluster, "contested", {"a": "1", "b": "1"}, "fieldManager=first")
    assert status == 409 and answer["message"].startswith('Apply failed with 2 conflicts: conflicts with "')


async def test_applying_less_removes_what_the_manager_no_longer_applies(cluster: Cluster) -> None:
    await _apply(cluster, "shrinking", {"a": "1", "b": "1"}, "fieldManager=tool")
    status, smaller = await _apply(cluster, "shrinking", {"a": "1"}, "fieldManager=tool")
    assert (status, smaller["data"]) == (200, {"a": "1"})


async def test_lists_are_paged(cluster: Cluster, admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await v1.create_namespace({"metadata": {"name": "pages"}})
    for i in range(5):
        await v1.create_namespaced_config_map("pages", {"metadata": {"name": f"p-{i}"}})
    first = await v1.list_namespaced_config_map("pages", limit=2)
    names = [c.metadata.name for c in first.items]
    assert len(names) == 2 and first.metadata._continue and first.metadata.remaining_item_count == 4
    second = await v1.list_namespaced_config_map("pages", limit=2, _continue=first.metadata._continue)
    third = await v1.list_namespaced_config_map("pages", limit=2, _continue=second.metadata._continue)
    names += [c.metadata.name for c in second.items + third.items]
    assert names == sorted(["kube-root-ca.crt"] + [f"p-{i}" for i in range(5)])
    assert third.metadata._continue is None and third.metadata.remaining_item_count is None
    assert first.metadata.resource_version == third.metadata.resource_version
    selected = await v1.list_namespaced_config_map("pages", limit=1, label_selector="!absent")
    assert selected.metadata._continue and selected.metadata.remaining_item_count is None


async def test_a_garbled_continue_token_is_400(cluster: Cluster) -> None:
    status, answer = await cluster.request("GET", f"{CONFIGMAPS}?limit=1&continue=not-a-token")
    assert (status, answer["reason"]) == (400, "BadRequest")
