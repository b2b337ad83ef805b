"""Deletion as kube-apiserver does it: finalizers hold an object (deletionTimestamp set) until the last
one is removed; a scheduled pod is deleted gracefully and finished by a grace-0 delete (kubelet's); a
namespace terminates (creates refused, NamespaceTerminating) and goes when its content has gone;
preconditions name what failed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from certcsi.sandbox.apiserver.resources import BY_KEY

pytestmark = pytest.mark.asyncio(loop_scope="module")
CRS = (CM_GROUP, CM_VERSION, "default", "certificaterequests")
MERGE = "application/merge-patch+json"


def _error(caught: pytest.ExceptionInfo[ApiException]) -> tuple[int, dict[str, Any]]:
    return caught.value.status, json.loads(caught.value.body)


async def test_finalizers_hold_an_object_until_removed(admin: client.ApiClient) -> None:
    api = client.CustomObjectsApi(admin)
    body = certificate_request("held")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await api.create_namespaced_custom_object(*CRS, body)
    deleted = await api.delete_namespaced_custom_object(*CRS, "held")
    assert deleted["metadata"]["deletionTimestamp"] and deleted["metadata"]["deletionGracePeriodSeconds"] == 0
    read = await api.get_namespaced_custom_object(*CRS, "held")
    assert read["metadata"]["deletionTimestamp"] == deleted["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiException) as caught:
        await api.create_namespaced_custom_object(*CRS, certificate_request("held"))
    status, answer = _error(caught)
    assert (status, answer["reason"]) == (409, "AlreadyExists")
    assert answer["message"] == 'object is being deleted: certificaterequests.cert-manager.io "held" already exists'
    with pytest.raises(ApiException) as caught:
        await api.patch_namespaced_custom_object(
            *CRS, "held", {"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}, _content_type=MERGE
        )
    status, answer = _error(caught)
    assert status == 422
    assert "no new finalizers can be added if the object is being deleted" in answer["message"]
    await api.patch_namespaced_custom_object(*CRS, "held", {"metadata": {"finalizers": None}}, _content_type=MERGE)
    with pytest.raises(ApiException) as caught:
        await api.get_namespaced_custom_object(*CRS, "held")
    assert caught.value.status == 404


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}], **spec}}


async def test_a_scheduled_pod_is_deleted_gracefully(cluster: Cluster, admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    created = await v1.create_namespaced_pod("default", _pod("graceful", nodeName="node-1"))
    response = await v1.delete_namespaced_pod("graceful", "default", _preload_content=False)
    answer = await response.json()
    assert (response.status, answer["kind"]) == (200, "Pod")
    assert answer["metadata"]["deletionGracePeriodSeconds"] == 30 and answer["metadata"]["deletionTimestamp"]
    assert (await v1.read_namespaced_pod("graceful", "default")).metadata.deletion_timestamp is not None
    # What kubelet does once the containers are gone: a final delete with grace 0 and the uid precondition.
    final = client.V1DeleteOptions(
        grace_period_seconds=0, preconditions=client.V1Preconditions(uid=created.metadata.uid)
    )
    await v1.delete_namespaced_pod("graceful", "default", body=final)
    assert cluster.store.find(BY_KEY["/pods"], "default", "graceful") is None


async def test_an_unscheduled_pod_goes_at_once(cluster: Cluster, admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await v1.create_namespaced_pod("default", _pod("unscheduled"))
    await v1.delete_namespaced_pod("unscheduled", "default")
    assert cluster.store.find(BY_KEY["/pods"], "default", "unscheduled") is None


async def test_a_terminating_namespace_refuses_new_content_and_goes_when_empty(
    cluster: Cluster, admin: client.ApiClient
) -> None:
    v1, api = client.CoreV1Api(admin), client.CustomObjectsApi(admin)
    await v1.create_namespace({"metadata": {"name": "ending"}})
    body = certificate_request("keeper")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await api.create_namespaced_custom_object(CM_GROUP, CM_VERSION, "ending", "certificaterequests", body)
    await v1.create_namespaced_config_map("ending", {"metadata": {"name": "plain"}})
    deleted = await v1.delete_namespace("ending", _preload_content=False)
    assert (await deleted.json())["status"]["phase"] == "Terminating"
    namespace = await v1.read_namespace("ending")
    assert (namespace.status.phase, namespace.metadata.deletion_timestamp is not None) == ("Terminating", True)
    assert (await v1.list_namespaced_config_map("ending")).items == []
    with pytest.raises(ApiException) as caught:
        await v1.create_namespaced_config_map("ending", {"metadata": {"name": "late"}})
    status, answer = _error(caught)
    assert (status, answer["reason"]) == (403, "Forbidden")
    assert answer["message"] == (
        'configmaps "late" is forbidden: '
        "unable to create new content in namespace ending because it is being terminated"
    )
    assert answer["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    await api.patch_namespaced_custom_object(
        CM_GROUP,
        CM_VERSION,
        "ending",
        "certificaterequests",
        "keeper",
        {"metadata": {"finalizers": None}},
        _content_type=MERGE,
    )
    with pytest.raises(ApiException) as caught:
        await v1.read_namespace("ending")
    assert caught.value.status == 404


@pytest.mark.parametrize(
    ("preconditions", "detail"),
    [
        ({"uid": "not-it"}, "UID in precondition: not-it, UID in object meta: {uid}"),
        ({"resourceVersion": "1"}, "ResourceVersion in precondition: 1, ResourceVersion in object meta: {rv}"),
    ],
)
async def test_failed_delete_preconditions_name_both_values(
    cluster: Cluster, admin: client.ApiClient, preconditions: dict[str, str], detail: str
) -> None:
    name = "pre-" + next(iter(preconditions)).lower()
    created = await client.CoreV1Api(admin).create_namespaced_config_map("default", {"metadata": {"name": name}})
    body = json.dumps({"preconditions": preconditions}).encode()
    status, answer = await cluster.request("DELETE", f"/api/v1/namespaces/default/configmaps/{name}", body=body)
    expected = detail.format(uid=created.metadata.uid, rv=created.metadata.resource_version)
    assert (status, answer["reason"], answer["details"]) == (409, "Conflict", {"name": name, "kind": "configmaps"})
    assert answer["message"] == f'Operation cannot be fulfilled on configmaps "{name}": Precondition failed: {expected}'
