"""Authorization: RBAC on every request, with kube-apiserver's verbs, subresources, resourceNames
from a metadata.name field selector, and its 403 Status shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from certcsi.sandbox.apiserver.resources import ResourceType

pytestmark = pytest.mark.asyncio(loop_scope="module")
RBAC = "rbac.authorization.k8s.io"
CRS = (CM_GROUP, CM_VERSION, "default", "certificaterequests")


async def _identity(
    cluster: Cluster, name: str, *rules: dict[str, Any], namespace: str = "default"
) -> client.ApiClient:
    """A ServiceAccount `name` with a Role of `rules` bound in `namespace`, and a client using its token."""
    admin = await cluster.client()
    v1, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    await v1.create_namespaced_service_account("default", {"metadata": {"name": name}})
    if rules:
        await rbac.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": list(rules)})
        await rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}],
            },
        )
    token = (await v1.create_namespaced_service_account_token(name, "default", {"spec": {}})).status.token
    return await cluster.client(token)


def _forbidden(caught: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(caught.value.body)
    assert (caught.value.status, body["reason"], body["code"]) == (403, "Forbidden", 403)
    return body


async def test_denied_list_has_kubes_message_and_details(cluster: Cluster) -> None:
    api = await _identity(cluster, "nobody")
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(api).list_namespaced_config_map("default")
    body = _forbidden(caught)
    assert body["message"] == (
        'configmaps is forbidden: User "system:serviceaccount:default:nobody" cannot list resource "configmaps" '
        'in API group "" in the namespace "default"'
    )
    assert body["details"] == {"kind": "configmaps"}


async def test_denied_get_names_the_object_and_group(cluster: Cluster) -> None:
    api = await _identity(cluster, "nobody-cr")
    with pytest.raises(ApiException) as caught:
        await client.CustomObjectsApi(api).get_namespaced_custom_object(*CRS, "some-cr")
    body = _forbidden(caught)
    assert body["message"].startswith('certificaterequests.cert-manager.io "some-cr" is forbidden: User ')
    assert body["message"].endswith(
        'cannot get resource "certificaterequests" in API group "cert-manager.io" in the namespace "default"'
    )
    assert body["details"] == {"name": "some-cr", "group": "cert-manager.io", "kind": "certificaterequests"}


async def test_cluster_scoped_denial_says_cluster_scope(cluster: Cluster) -> None:
    api = await _identity(cluster, "nobody-ns")
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(api).list_namespace()
    assert _forbidden(caught)["message"].endswith(
        'cannot list resource "namespaces" in API group "" at the cluster scope'
    )


class _Recorder:
    """Admission that remembers who created what: the server must hand the caller to the store."""

    def __init__(self) -> None:
        self.users: dict[str, Any] = {}

    def admit(self, *, operation: str, rt: ResourceType, obj: dict[str, Any], old: object, user: Any) -> None:
        self.users[obj["metadata"]["name"]] = user


async def test_a_role_allows_create_in_its_namespace_only(cluster: Cluster) -> None:
    api = await _identity(
        cluster, "requester", {"apiGroups": [CM_GROUP], "resources": ["certificaterequests"], "verbs": ["create"]}
    )
    recorder = _Recorder()
    cluster.store.admission.append(recorder)
    try:
        created = await client.CustomObjectsApi(api).create_namespaced_custom_object(*CRS, certificate_request("by-sa"))
    finally:
        cluster.store.admission.remove(recorder)
    assert created["metadata"]["name"] == "by-sa"
    user = recorder.users["by-sa"]
    assert user.username == "system:serviceaccount:default:requester"
    assert "system:serviceaccounts:default" in user.groups
    with pytest.raises(ApiException) as caught:
        await client.CustomObjectsApi(api).create_namespaced_custom_object(
            CM_GROUP, CM_VERSION, "other", "certificaterequests", certificate_request("elsewhere")
        )
    _forbidden(caught)
    with pytest.raises(ApiException) as caught:
        await client.CustomObjectsApi(api).delete_namespaced_custom_object(*CRS, "by-sa")
    assert 'cannot delete resource "certificaterequests"' in _forbidden(caught)["message"]


async def test_status_subresource_needs_its_own_rule(cluster: Cluster) -> None:
    admin = client.CustomObjectsApi(await cluster.client())
    await admin.create_namespaced_custom_object(*CRS, certificate_request("to-approve"))
    api = client.CustomObjectsApi(
        await _identity(
            cluster,
            "approver",
            {"apiGroups": [CM_GROUP], "resources": ["certificaterequests/status"], "verbs": ["update", "patch"]},
        )
    )
    patch = {"status": {"conditions": [{"type": "Approved", "status": "True", "reason": "r", "message": "m"}]}}
    await api.patch_namespaced_custom_object_status(
        *CRS, "to-approve", patch, _content_type="application/merge-patch+json"
    )
    with pytest.raises(ApiException) as caught:
        await api.patch_namespaced_custom_object(
            *CRS, "to-approve", {"metadata": {"labels": {"a": "b"}}}, _content_type="application/merge-patch+json"
        )
    assert 'cannot patch resource "certificaterequests" in API group' in _forbidden(caught)["message"]
    with pytest.raises(ApiException) as caught:
        await api.get_namespaced_custom_object_status(*CRS, "to-approve")
    assert 'cannot get resource "certificaterequests/status"' in _forbidden(caught)["message"]


async def test_resource_names_reach_list_and_watch_through_the_field_selector(cluster: Cluster) -> None:
    await client.CoreV1Api(await cluster.client()).create_namespaced_config_map(
        "default", {"metadata": {"name": "runtime"}}
    )
    api = client.CoreV1Api(
        await _identity(
            cluster,
            "one-name",
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": ["runtime"],
                "verbs": ["get", "list", "watch"],
            },
        )
    )
    listed = await api.list_namespaced_config_map("default", field_selector="metadata.name=runtime")
    assert [cm.metadata.name for cm in listed.items] == ["runtime"]
    async with watch.Watch() as w:
        stream = w.stream(
            api.list_namespaced_config_map, "default", field_selector="metadata.name=runtime", timeout_seconds=5
        )
        assert (await stream.__anext__())["type"] == "ADDED"
    with pytest.raises(ApiException) as caught:
        await api.list_namespaced_config_map("default")
    _forbidden(caught)
    with pytest.raises(ApiException) as caught:
        await api.list_namespaced_config_map("default", field_selector="metadata.name=other")
    assert _forbidden(caught)["details"]["name"] == "other"


async def test_a_namespace_request_is_filed_under_that_namespace(cluster: Cluster) -> None:
    api = client.CoreV1Api(
        await _identity(cluster, "ns-reader", {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]})
    )
    assert (await api.read_namespace("default")).metadata.name == "default"
    with pytest.raises(ApiException) as caught:
        await api.read_namespace("other")
    _forbidden(caught)


async def test_minting_tokens_is_authorized_as_create_on_the_token_subresource(cluster: Cluster) -> None:
    api = client.CoreV1Api(
        await _identity(
            cluster, "minter", {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}
        )
    )
    answer = await api.create_namespaced_service_account_token("minter", "default", {"spec": {}})
    assert answer.status.token
    with pytest.raises(ApiException) as caught:
        await api.read_namespaced_service_account("minter", "default")
    _forbidden(caught)


async def test_binding_changes_apply_to_the_next_request(cluster: Cluster) -> None:
    api = client.CoreV1Api(
        await _identity(cluster, "revoked", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]})
    )
    await api.list_namespaced_secret("default")
    await client.RbacAuthorizationV1Api(await cluster.client()).delete_namespaced_role_binding("revoked", "default")
    with pytest.raises(ApiException) as caught:
        await api.list_namespaced_secret("default")
    _forbidden(caught)


async def test_group_subjects_and_cluster_role_bindings(cluster: Cluster) -> None:
    api = client.CoreV1Api(await _identity(cluster, "grouped"))
    rbac = client.RbacAuthorizationV1Api(await cluster.client())
    await rbac.create_cluster_role(
        {
            "metadata": {"name": "event-reader"},
            "rules": [{"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}],
        }
    )
    await rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "event-reader"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "event-reader"},
            "subjects": [{"kind": "Group", "apiGroup": RBAC, "name": "system:serviceaccounts:default"}],
        }
    )
    assert (await api.list_event_for_all_namespaces()).items is not None
    await api.list_namespaced_event("other")
