"""Access reviews and impersonation through the reference client: SelfSubjectAccessReview,
SelfSubjectRulesReview, SubjectAccessReview, SelfSubjectReview, and `Impersonate-*` headers that RBAC's
`impersonate` verb must allow."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_asyncio
from apiserver_support import Cluster
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = pytest.mark.asyncio(loop_scope="module")
RBAC_GROUP = "rbac.authorization.k8s.io"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def viewer(cluster: Cluster, admin: client.ApiClient) -> client.ApiClient:
    """A client for service account `viewer`, which may list configmaps in `default` and impersonate `jane`."""
    v1, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    await v1.create_namespaced_service_account("default", {"metadata": {"name": "viewer"}})
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]
    await rbac.create_namespaced_role("default", {"metadata": {"name": "viewer"}, "rules": rules})
    subject = [{"kind": "ServiceAccount", "name": "viewer", "namespace": "default"}]
    await rbac.create_namespaced_role_binding(
        "default",
        {
            "metadata": {"name": "viewer"},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "viewer"},
            "subjects": subject,
        },
    )
    impersonate = [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["jane"]}]
    await rbac.create_cluster_role({"metadata": {"name": "become-jane"}, "rules": impersonate})
    await rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "become-jane"},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "become-jane"},
            "subjects": subject,
        }
    )
    token = await v1.create_namespaced_service_account_token("viewer", "default", {"spec": {}})
    return await cluster.client(token.status.token)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def viewer_token(viewer: client.ApiClient, admin: client.ApiClient) -> str:
    token = await client.CoreV1Api(admin).create_namespaced_service_account_token("viewer", "default", {"spec": {}})
    return str(token.status.token)


async def test_self_subject_access_review(viewer: client.ApiClient) -> None:
    api = client.AuthorizationV1Api(viewer)
    review = {"spec": {"resourceAttributes": {"namespace": "default", "verb": "list", "resource": "configmaps"}}}
    allowed = await api.create_self_subject_access_review(review)
    assert allowed.status.allowed is True
    assert allowed.status.reason.startswith('RBAC: allowed by RoleBinding "viewer/default" of Role "viewer"')
    review["spec"]["resourceAttributes"]["verb"] = "delete"
    assert (await api.create_self_subject_access_review(review)).status.allowed is False


async def test_self_subject_rules_review(viewer: client.ApiClient) -> None:
    answer = await client.AuthorizationV1Api(viewer).create_self_subject_rules_review(
        {"spec": {"namespace": "default"}}
    )
    rules = [(r.verbs, r.api_groups, r.resources) for r in answer.status.resource_rules]
    assert (["list"], [""], ["configmaps"]) in rules
    assert answer.status.incomplete is False


async def test_subject_access_review_needs_its_own_permission(
    admin: client.ApiClient, viewer: client.ApiClient
) -> None:
    review = {
        "spec": {
            "user": "system:serviceaccount:default:viewer",
            "groups": ["system:authenticated"],
            "resourceAttributes": {"namespace": "default", "verb": "list", "resource": "configmaps"},
        }
    }
    assert (await client.AuthorizationV1Api(admin).create_subject_access_review(review)).status.allowed is True
    with pytest.raises(ApiException) as caught:
        await client.AuthorizationV1Api(viewer).create_subject_access_review(review)
    assert caught.value.status == 403


async def test_self_subject_review_says_who_the_caller_is(viewer: client.ApiClient) -> None:
    answer = await client.AuthenticationV1Api(viewer).create_self_subject_review({})
    info = answer.status.user_info
    assert info.username == "system:serviceaccount:default:viewer"
    assert info.groups == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]


async def _as(cluster: Cluster, token: str, user: str, path: str) -> tuple[int, Any]:
    headers = {**cluster.headers(token), "Impersonate-User": user}
    async with cluster.raw.get(cluster.url(path), headers=headers) as response:
        return response.status, json.loads(await response.read())


async def test_impersonation_is_honoured_only_where_allowed(cluster: Cluster, viewer_token: str) -> None:
    token = viewer_token
    status, answer = await _as(cluster, token, "jane", "/api/v1/namespaces/default/configmaps")
    assert (status, answer["message"]) == (
        403,
        'configmaps is forbidden: User "jane" cannot list resource "configmaps" in API group "" '
        'in the namespace "default"',
    )
    status, answer = await _as(cluster, token, "john", "/api/v1/namespaces/default/configmaps")
    assert (status, answer["message"]) == (
        403,
        'users "john" is forbidden: User "system:serviceaccount:default:viewer" cannot impersonate resource "users" '
        'in API group "" at the cluster scope',
    )
    status, _ = await _as(
        cluster, cluster.admin_token, "system:serviceaccount:default:viewer", "/api/v1/namespaces/default/configmaps"
    )
    assert status == 200


async def test_impersonating_a_group_without_a_user_is_an_internal_error(cluster: Cluster) -> None:
    headers = {**cluster.headers(), "Impersonate-Group": "devs"}
    async with cluster.raw.get(cluster.url("/api/v1/namespaces"), headers=headers) as response:
        answer = json.loads(await response.read())
    assert (response.status, answer["reason"]) == (500, "InternalError")
    assert answer["message"].endswith("without impersonating a user")
