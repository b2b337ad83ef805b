"""The texts kube-apiserver answers with, where clients show them to people: invalid names, label
selectors, failed JSON patches, PUT without a resourceVersion, token requests; and the watch cache's
410 for a version older than the server's start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request, running_cluster
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.storage import Store

pytestmark = pytest.mark.asyncio(loop_scope="module")
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def _error(caught: pytest.ExceptionInfo[ApiException]) -> tuple[int, dict[str, Any]]:
    return caught.value.status, json.loads(caught.value.body)


async def test_an_invalid_name_quotes_the_rule_and_its_regex(cluster: Cluster) -> None:
    status, answer = await cluster.request(
        "POST", CONFIGMAPS, body=json.dumps({"metadata": {"name": "Bad_Name"}}).encode()
    )
    assert (status, answer["reason"]) == (422, "Invalid")
    assert answer["message"] == (
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain '
        "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a===b", "unable to parse requirement: found '=', expected: identifier"),
        ("=b", "found '=', expected: !, identifier, or 'end of string'"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in ()", "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty"),
        ("a,", "found '', expected: identifier after ','"),
    ],
)
async def test_a_bad_label_selector_gets_labels_parse_words(cluster: Cluster, selector: str, message: str) -> None:
    async with cluster.raw.get(
        cluster.url(CONFIGMAPS), params={"labelSelector": selector}, headers=cluster.headers()
    ) as response:
        answer = await response.json()
    assert (response.status, answer["reason"], answer["message"]) == (400, "BadRequest", message)


async def test_a_failed_json_patch_test_shows_no_implementation_detail(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await v1.create_namespaced_config_map("default", {"metadata": {"name": "tested"}, "data": {"a": "1"}})
    with pytest.raises(ApiException) as caught:
        await v1.patch_namespaced_config_map("tested", "default", [{"op": "test", "path": "/data/a", "value": "2"}])
    status, answer = _error(caught)
    assert (status, answer["reason"]) == (422, "Invalid")
    assert answer["message"] == "the server rejected our request due to an error in our request"
    assert "jsonpatch" not in json.dumps(answer) and "Exception" not in json.dumps(answer)


async def test_put_of_a_custom_resource_without_a_resource_version(admin: client.ApiClient) -> None:
    api = client.CustomObjectsApi(admin)
    crs = (CM_GROUP, CM_VERSION, "default", "certificaterequests")
    created = await api.create_namespaced_custom_object(*crs, certificate_request("a"))
    del created["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as caught:
        await api.replace_namespaced_custom_object(*crs, "a", created)
    status, answer = _error(caught)
    assert (status, answer["reason"], answer["details"]["kind"]) == (422, "Invalid", "certificaterequests")
    assert answer["message"] == (
        'certificaterequests.cert-manager.io "a" is invalid: metadata.resourceVersion: Invalid value: 0x0: '
        "must be specified for an update"
    )


async def test_token_request_rules(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    with pytest.raises(ApiException) as caught:
        await v1.create_namespaced_service_account_token("default", "default", {"spec": {"expirationSeconds": 500}})
    status, answer = _error(caught)
    assert (status, answer["reason"]) == (422, "Invalid")
    assert answer["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: 500: may not specify a duration less than 10 minutes",
            "field": "spec.expirationSeconds",
        }
    ]
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    await v1.create_namespaced_pod("default", pod)
    bound = {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "not-the-uid"}}}
    with pytest.raises(ApiException) as caught:
        await v1.create_namespaced_service_account_token("default", "default", bound)
    status, answer = _error(caught)
    assert (status, answer["reason"], answer["details"]) == (409, "Conflict", {"name": "p", "kind": "Pod"})
    assert answer["message"] == (
        'Operation cannot be fulfilled on Pod "p": the UID in the bound object reference (not-the-uid) does not '
        "match the UID in record. The object might have been deleted and then recreated"
    )


async def test_a_watch_from_before_the_server_started_is_410(tmp_path: Path) -> None:
    store = Store()
    store.create(BY_KEY["/namespaces"], {"metadata": {"name": "early"}})
    async with running_cluster(tmp_path, store=store) as fresh:
        started_at = fresh.store.compacted_version  # the version the watch cache started from
        assert started_at > 1
        path = "/api/v1/namespaces?watch=1&resourceVersion=1"
        async with fresh.raw.get(fresh.url(path), headers=fresh.headers()) as response:
            assert response.status == 200
            event = json.loads(await response.content.readline())
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert event["object"]["message"] == f"too old resource version: 1 ({started_at})"
