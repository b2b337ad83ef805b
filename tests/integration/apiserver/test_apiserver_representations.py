"""The answers clients negotiate: Table (a CRD's printer columns, the built-in columns), metadata only
(PartialObjectMetadata[List]), 406 for protobuf of a custom resource, aggregated discovery, OpenAPI v2
(JSON and protobuf) and v3, and the current version."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import pytest_asyncio
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request

from certcsi.sandbox.apiserver import protobodies

pytestmark = pytest.mark.asyncio(loop_scope="module")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
CRS = f"/apis/{CM_GROUP}/{CM_VERSION}/namespaces/default/certificaterequests"


async def _get(cluster: Cluster, path: str, accept: str) -> tuple[int, Any, str]:
    async with cluster.raw.get(cluster.url(path), headers=cluster.headers(Accept=accept)) as response:
        body = await response.read()
        content_type = response.headers.get("Content-Type", "")
        try:
            return response.status, json.loads(body), content_type
        except ValueError:
            return response.status, body, content_type


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def requested(cluster: Cluster) -> None:
    status, _ = await cluster.request("POST", CRS, body=json.dumps(certificate_request("tabled")).encode())
    assert status == 201


async def test_a_crd_table_has_its_printer_columns(cluster: Cluster, requested: None) -> None:
    status, table, _ = await _get(cluster, CRS, f"{TABLE},application/json")
    assert (status, table["kind"], table["apiVersion"]) == (200, "Table", "meta.k8s.io/v1")
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Approved", "Denied", "Ready", "Issuer", "Requester", "Status", "Age"]
    (row,) = [r for r in table["rows"] if r["cells"][0] == "tabled"]
    assert row["cells"][1:5] == [None, None, None, "ca"]
    assert re.fullmatch(r"\d+s", row["cells"][-1]), "a date column is an age (HumanDuration), not the timestamp"
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "tabled"
    status, with_object, _ = await _get(cluster, f"{CRS}/tabled?includeObject=Object", TABLE)
    assert with_object["rows"][0]["object"]["spec"]["issuerRef"]["name"] == "ca"


async def test_built_in_tables_have_kubectls_columns(cluster: Cluster) -> None:
    status, table, _ = await _get(cluster, "/api/v1/namespaces", TABLE)
    assert status == 200
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Age"]
    row = next(r for r in table["rows"] if r["cells"][0] == "default")
    assert row["cells"][1] == "Active"
    _status, roles, _ = await _get(cluster, "/apis/rbac.authorization.k8s.io/v1/clusterroles", TABLE)
    assert [c["name"] for c in roles["columnDefinitions"]] == ["Name", "Created At"]


async def test_metadata_only_lists(cluster: Cluster, requested: None) -> None:
    accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    status, answer, _ = await _get(cluster, CRS, accept)
    assert (status, answer["kind"]) == (200, "PartialObjectMetadataList")
    item = next(i for i in answer["items"] if i["metadata"]["name"] == "tabled")
    assert set(item) == {"kind", "apiVersion", "metadata"}


async def test_protobuf_of_a_custom_resource_is_406(cluster: Cluster) -> None:
    status, answer, _ = await _get(cluster, CRS, "application/vnd.kubernetes.protobuf")
    assert (status, answer["reason"]) == (406, "NotAcceptable")


async def test_aggregated_discovery(cluster: Cluster) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    status, answer, content_type = await _get(cluster, "/apis", accept)
    assert status == 200
    assert content_type == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert answer["kind"] == "APIGroupDiscoveryList"
    groups = {item["metadata"]["name"]: item for item in answer["items"]}
    (version,) = groups["cert-manager.io"]["versions"]
    requests = next(r for r in version["resources"] if r["resource"] == "certificaterequests")
    assert (requests["scope"], requests["shortNames"], requests["subresources"][0]["subresource"]) == (
        "Namespaced",
        ["cr", "crs"],
        "status",
    )
    _status, core, _ = await _get(cluster, "/api", accept)
    assert [v["version"] for v in core["items"][0]["versions"]] == ["v1"]


async def test_openapi_v3_documents_each_group_version(cluster: Cluster) -> None:
    status, index, _ = await _get(cluster, "/openapi/v3", "application/json")
    assert status == 200 and {"api/v1", "apis/apps/v1", "apis/cert-manager.io/v1"} <= set(index["paths"])
    url = index["paths"]["apis/cert-manager.io/v1"]["serverRelativeURL"]
    status, doc, _ = await _get(cluster, url, "application/json")
    schema = doc["components"]["schemas"]["io.cert-manager.v1.CertificateRequest"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "cert-manager.io", "kind": "CertificateRequest", "version": "v1"}
    ]
    patch = doc["paths"]["/apis/cert-manager.io/v1/namespaces/{namespace}/certificaterequests/{name}"]["patch"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


async def test_openapi_v2_as_json_and_protobuf(cluster: Cluster) -> None:
    status, doc, _ = await _get(cluster, "/openapi/v2", "application/json")
    assert (status, doc["swagger"]) == (200, "2.0")
    assert (
        doc["definitions"]["io.k8s.api.apps.v1.DaemonSet"]["x-kubernetes-group-version-kind"][0]["kind"] == "DaemonSet"
    )
    status, raw, content_type = await _get(
        cluster, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    )
    assert (status, content_type) == (200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    assert isinstance(raw, bytes)
    fields = dict(protobodies._fields(raw))  # the Document message: swagger=1, info=2, paths=8, definitions=9
    assert fields[1] == b"2.0" and {8, 9} <= set(fields)


async def test_version_is_1_36(cluster: Cluster) -> None:
    status, info, _ = await _get(cluster, "/version", "application/json")
    assert (status, info["major"], info["minor"], info["gitVersion"].split("+")[0]) == (200, "1", "36", "v1.36.0")


async def test_a_table_watch_sends_one_row_per_event(cluster: Cluster) -> None:
    # What `kubectl get -w` reads: each event's object is a Table of one row.
    path = "/api/v1/namespaces/default/configmaps?watch=1&labelSelector=watched%3Dtable"
    async with cluster.raw.get(cluster.url(path), headers=cluster.headers(Accept=TABLE)) as response:
        body = {"metadata": {"name": "table-watched", "labels": {"watched": "table"}}, "data": {"a": "b"}}
        assert (await cluster.request("POST", "/api/v1/namespaces/default/configmaps", body=json.dumps(body).encode()))[
            0
        ] == 201
        event = json.loads(await response.content.readline())
    assert (event["type"], event["object"]["kind"]) == ("ADDED", "Table")
    (row,) = event["object"]["rows"]
    assert row["cells"][:2] == ["table-watched", 1]
