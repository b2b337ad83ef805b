"""Discovery: standard clients learn the served types, their verbs, scopes and subresources."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver_support import Cluster
from kubernetes_asyncio import client

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _by_name(resource_list: Any) -> dict[str, Any]:
    return {r.name: r for r in resource_list.resources}


async def test_version_answers_without_a_token(cluster: Cluster) -> None:
    status, body = await cluster.request("GET", "/version", headers={})
    assert status == 200
    assert (body["major"], body["minor"]) == ("1", "36")
    assert body["gitVersion"].startswith("v1.36.")


async def test_version_through_the_client(admin: client.ApiClient) -> None:
    info = await client.VersionApi(admin).get_code()
    assert info.major == "1"


async def test_core_group_lists_types_and_subresources(admin: client.ApiClient) -> None:
    resources = _by_name(await client.CoreV1Api(admin).get_api_resources())
    assert set(resources) >= {
        "namespaces",
        "pods",
        "pods/status",
        "serviceaccounts",
        "serviceaccounts/token",
        "configmaps",
        "secrets",
        "events",
    }
    pods = resources["pods"]
    assert (pods.kind, pods.namespaced, pods.singular_name) == ("Pod", True, "pod")
    assert set(pods.verbs) == {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
    assert pods.short_names == ["po"]
    assert resources["namespaces"].namespaced is False
    assert set(resources["pods/status"].verbs) == {"get", "patch", "update"}
    token = resources["serviceaccounts/token"]
    assert (token.group, token.version, token.kind, token.verbs) == (
        "authentication.k8s.io",
        "v1",
        "TokenRequest",
        ["create"],
    )


async def test_groups_list_every_served_group(admin: client.ApiClient) -> None:
    groups = await client.ApisApi(admin).get_api_versions()
    names = {g.name: g.preferred_version.group_version for g in groups.groups}
    assert names == {
        "apps": "apps/v1",
        "apiextensions.k8s.io": "apiextensions.k8s.io/v1",
        "authentication.k8s.io": "authentication.k8s.io/v1",
        "authorization.k8s.io": "authorization.k8s.io/v1",
        "coordination.k8s.io": "coordination.k8s.io/v1",
        "storage.k8s.io": "storage.k8s.io/v1",
        "rbac.authorization.k8s.io": "rbac.authorization.k8s.io/v1",
        "cert-manager.io": "cert-manager.io/v1",
    }


async def test_cert_manager_group_version(admin: client.ApiClient) -> None:
    resources = _by_name(await client.CustomObjectsApi(admin).get_api_resources("cert-manager.io", "v1"))
    assert resources["certificaterequests"].short_names == ["cr", "crs"]
    assert resources["certificaterequests"].namespaced is True
    assert resources["clusterissuers"].namespaced is False
    assert "certificaterequests/status" in resources


async def test_single_group_document(cluster: Cluster) -> None:
    status, body = await cluster.request("GET", "/apis/rbac.authorization.k8s.io")
    assert status == 200
    assert body["kind"] == "APIGroup"
    assert body["versions"] == [{"groupVersion": "rbac.authorization.k8s.io/v1", "version": "v1"}]


async def test_api_versions_name_the_server(cluster: Cluster) -> None:
    status, body = await cluster.request("GET", "/api")
    assert status == 200
    assert body["versions"] == ["v1"]
    assert body["serverAddressByClientCIDRs"][0]["serverAddress"] == f"127.0.0.1:{cluster.server.port}"


@pytest.mark.parametrize("path", ["/apis/example.com/v1", "/apis/cert-manager.io/v2", "/api/v2", "/nope"])
async def test_unknown_group_versions_are_not_found(cluster: Cluster, path: str) -> None:
    assert await cluster.request("GET", path) == (404, b"404 page not found\n")


async def test_discovery_is_read_only(cluster: Cluster) -> None:
    status, body = await cluster.request("POST", "/api/v1", body=b"{}")
    assert (status, body["reason"]) == (405, "MethodNotAllowed")
