"""Delete answers with the object (pods, services, service accounts) or a Success Status (the rest,
custom resources included); deleting an owner garbage-collects its dependents; collections."""

from __future__ import annotations

import json

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from protobuf_bodies import envelope, field

pytestmark = pytest.mark.asyncio(loop_scope="module")
CRS = (CM_GROUP, CM_VERSION, "default", "certificaterequests")


async def test_delete_of_a_pod_returns_the_object(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    pod = {"metadata": {"name": "del"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    created = await v1.create_namespaced_pod("default", pod)
    response = await v1.delete_namespaced_pod("del", "default", _preload_content=False)
    assert response.status == 200
    deleted = await response.json()
    assert (deleted["kind"], deleted["metadata"]["uid"]) == ("Pod", created.metadata.uid)
    assert int(deleted["metadata"]["resourceVersion"]) > int(created.metadata.resource_version)
    with pytest.raises(ApiException) as caught:
        await v1.read_namespaced_pod("del", "default")
    assert caught.value.status == 404


async def test_delete_of_a_configmap_returns_a_success_status(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    created = await v1.create_namespaced_config_map("default", {"metadata": {"name": "del"}, "data": {"k": "v"}})
    response = await v1.delete_namespaced_config_map("del", "default", _preload_content=False)
    assert response.status == 200
    assert await response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "del", "kind": "configmaps", "uid": created.metadata.uid},
    }


async def test_delete_of_a_custom_resource_returns_a_success_status(admin: client.ApiClient) -> None:
    api = client.CustomObjectsApi(admin)
    created = await api.create_namespaced_custom_object(*CRS, certificate_request("del-cr"))
    answer = await api.delete_namespaced_custom_object(*CRS, "del-cr")
    assert answer == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": "del-cr",
            "group": "cert-manager.io",
            "kind": "certificaterequests",
            "uid": created["metadata"]["uid"],
        },
    }


async def test_delete_of_a_missing_object_is_404(admin: client.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(admin).delete_namespaced_config_map("never", "default")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["reason"] == "NotFound"


async def test_deleting_a_pod_collects_its_certificate_requests(admin: client.ApiClient) -> None:
    v1, api = client.CoreV1Api(admin), client.CustomObjectsApi(admin)
    pod = await v1.create_namespaced_pod(
        "default", {"metadata": {"name": "owner"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    )
    owner = {"apiVersion": "v1", "kind": "Pod", "name": "owner", "uid": pod.metadata.uid, "controller": True}
    for name in ("owned-1", "owned-2"):
        body = certificate_request(name)
        body["metadata"]["ownerReferences"] = [owner]
        await api.create_namespaced_custom_object(*CRS, body)
    await api.create_namespaced_custom_object(*CRS, certificate_request("unowned"))
    await v1.delete_namespaced_pod("owner", "default")
    left = {cr["metadata"]["name"] for cr in (await api.list_namespaced_custom_object(*CRS))["items"]}
    assert "unowned" in left and not left & {"owned-1", "owned-2"}


async def test_uid_precondition(cluster: Cluster, admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    created = await v1.create_namespaced_config_map("default", {"metadata": {"name": "precondition"}})
    wrong = json.dumps({"preconditions": {"uid": "not-the-uid"}}).encode()
    status, body = await cluster.request("DELETE", "/api/v1/namespaces/default/configmaps/precondition", body=wrong)
    assert (status, body["reason"]) == (409, "Conflict")
    right = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=created.metadata.uid))
    await v1.delete_namespaced_config_map("precondition", "default", body=right)


async def test_a_protobuf_delete_options_body_is_read(cluster: Cluster, admin: client.ApiClient) -> None:
    # client-go's typed clients (Helm's release storage among them) send DeleteOptions as protobuf.
    created = await client.CoreV1Api(admin).create_namespaced_secret("default", {"metadata": {"name": "pb-delete"}})
    path = "/api/v1/namespaces/default/secrets/pb-delete"
    headers = cluster.headers(**{"Content-Type": "application/vnd.kubernetes.protobuf", "Accept": "application/json"})

    def options(uid: str) -> bytes:
        preconditions = field(1, uid.encode())
        raw = field(2, preconditions) + field(4, b"Background")
        return envelope(api_version="meta.k8s.io/v1", kind="DeleteOptions", raw=raw)

    status, body = await cluster.request(
        "DELETE", path, body=options("not-the-uid"), headers=headers, content_type=None
    )
    assert (status, body["reason"]) == (409, "Conflict"), "the precondition in the body was read"
    status, body = await cluster.request(
        "DELETE", path, body=options(created.metadata.uid), headers=headers, content_type=None
    )
    assert (status, body["status"]) == (200, "Success")


async def test_resource_version_precondition(cluster: Cluster, admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    created = await v1.create_namespaced_config_map("default", {"metadata": {"name": "rv-precondition"}})
    await v1.patch_namespaced_config_map("rv-precondition", "default", {"data": {"a": "b"}})
    stale = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=created.metadata.resource_version)
    )
    with pytest.raises(ApiException) as caught:
        await v1.delete_namespaced_config_map("rv-precondition", "default", body=stale)
    assert caught.value.status == 409


async def test_delete_collection_by_label(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    for name, group in (("g1", "a"), ("g2", "a"), ("g3", "b")):
        await v1.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": {"group": group}}})
    response = await v1.delete_collection_namespaced_config_map(
        "default", label_selector="group=a", _preload_content=False
    )
    deleted = await response.json()
    assert [item["metadata"]["name"] for item in deleted["items"]] == ["g1", "g2"]
    left = [cm.metadata.name for cm in (await v1.list_namespaced_config_map("default", label_selector="group")).items]
    assert left == ["g3"]


async def test_deleting_a_namespace_deletes_its_contents(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await v1.create_namespace({"metadata": {"name": "doomed"}})
    await v1.create_namespaced_secret("doomed", {"metadata": {"name": "s"}})
    await v1.delete_namespace("doomed")
    assert (await v1.list_namespaced_secret("doomed")).items == []
