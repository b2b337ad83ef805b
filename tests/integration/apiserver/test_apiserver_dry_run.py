"""`dryRun=All` on every write: validated and admitted as for real, nothing stored, no new resourceVersion."""

from __future__ import annotations

import json

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from certcsi.sandbox.apiserver.resources import BY_KEY

pytestmark = pytest.mark.asyncio(loop_scope="module")
CRS = (CM_GROUP, CM_VERSION, "default", "certificaterequests")
ALL = "All"


async def test_dry_run_create_stores_nothing_and_has_no_version(cluster: Cluster, admin: client.ApiClient) -> None:
    before = cluster.store.resource_version
    created = await client.CoreV1Api(admin).create_namespaced_config_map(
        "default", {"metadata": {"name": "dry-create"}, "data": {"a": "b"}}, dry_run=ALL
    )
    assert created.metadata.uid and created.metadata.resource_version is None
    assert cluster.store.find(BY_KEY["/configmaps"], "default", "dry-create") is None
    assert cluster.store.resource_version == before


async def test_dry_run_create_is_still_validated(admin: client.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(admin).create_namespaced_pod(
            "default", {"metadata": {"name": "dry-invalid"}, "spec": {"containers": []}}, dry_run=ALL
        )
    assert caught.value.status == 422


async def test_dry_run_update_patch_and_delete_change_nothing(cluster: Cluster, admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    created = await v1.create_namespaced_config_map("default", {"metadata": {"name": "dry-target"}, "data": {"a": "1"}})
    rv = created.metadata.resource_version
    created.data = {"a": "2"}
    replaced = await v1.replace_namespaced_config_map("dry-target", "default", created, dry_run=ALL)
    patched = await v1.patch_namespaced_config_map("dry-target", "default", {"data": {"a": "3"}}, dry_run=ALL)
    await v1.delete_namespaced_config_map("dry-target", "default", dry_run=ALL)
    assert (replaced.data, patched.data) == ({"a": "2"}, {"a": "3"})
    assert replaced.metadata.resource_version == rv == patched.metadata.resource_version
    stored = cluster.store.get(BY_KEY["/configmaps"], "default", "dry-target")
    assert (stored["data"], stored["metadata"]["resourceVersion"]) == ({"a": "1"}, rv)


async def test_dry_run_of_a_custom_resource_runs_its_schema(cluster: Cluster, admin: client.ApiClient) -> None:
    api = client.CustomObjectsApi(admin)
    answer = await api.create_namespaced_custom_object(*CRS, certificate_request("dry-cr"), dry_run=ALL)
    assert answer["spec"]["issuerRef"]["group"] == "cert-manager.io"  # the CRD's default, filled in
    assert cluster.store.find(BY_KEY[f"{CM_GROUP}/certificaterequests"], "default", "dry-cr") is None


async def test_an_unknown_dry_run_value_is_refused(cluster: Cluster) -> None:
    raw = json.dumps({"metadata": {"name": "dry-bad"}}).encode()
    status, body = await cluster.request("POST", "/api/v1/namespaces/default/configmaps?dryRun=Some", body=raw)
    assert (status, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Some"}: supported values: "All"'
    )
