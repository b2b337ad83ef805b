"""What a user reads with kubectl: `get` with the printer columns of CRDs and built-in kinds, `explain`,
`--chunk-size` paging, and `delete namespace` waiting for the namespace to go."""

from __future__ import annotations

import json
import re

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request

from certcsi.sandbox.apiserver.resources import BY_KEY

pytestmark = pytest.mark.asyncio(loop_scope="module")
CRS = BY_KEY[f"{CM_GROUP}/certificaterequests"]


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip()]


async def test_get_certificaterequests_shows_the_crd_columns(cluster: Cluster) -> None:
    body = certificate_request("columns")
    body["spec"]["username"] = "system:serviceaccount:default:app"
    status, _ = await cluster.request(
        "POST", f"/apis/{CM_GROUP}/{CM_VERSION}/namespaces/default/certificaterequests", body=json.dumps(body).encode()
    )
    assert status == 201
    conditions = {
        "status": {
            "conditions": [
                {"type": "Approved", "status": "True", "reason": "x", "message": "ok"},
                {"type": "Ready", "status": "True", "reason": "Issued", "message": "Certificate fetched from issuer"},
            ]
        }
    }
    status, _ = await cluster.request(
        "PATCH",
        f"/apis/{CM_GROUP}/{CM_VERSION}/namespaces/default/certificaterequests/columns/status",
        body=json.dumps(conditions).encode(),
        content_type="application/merge-patch+json",
    )
    assert status == 200
    rows = _rows((await cluster.kubectl("get", "cr", "-n", "default")).ok())
    assert rows[0] == ["NAME", "APPROVED", "DENIED", "READY", "ISSUER", "REQUESTER", "AGE"]
    # Denied has no condition: the cell is empty, so the row has one word fewer than the header.
    assert rows[1][:5] == ["columns", "True", "True", "ca", "system:serviceaccount:default:app"]
    # A date column is an age, as the real server's table convertor writes it (kubectl prints cells as sent).
    assert re.fullmatch(r"\d+s", rows[1][-1]), rows[1]
    wide = _rows((await cluster.kubectl("get", "cr", "columns", "-n", "default", "-o", "wide")).ok())
    assert wide[0][-2:] == ["STATUS", "AGE"]
    assert "Certificate fetched from issuer" in " ".join(wide[1])


async def test_get_pods_shows_the_pod_columns(cluster: Cluster) -> None:
    pod = {"metadata": {"name": "shown"}, "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i"}]}}
    status, _ = await cluster.request("POST", "/api/v1/namespaces/default/pods", body=json.dumps(pod).encode())
    assert status == 201
    rows = _rows((await cluster.kubectl("get", "pods", "shown", "-n", "default", "-o", "wide")).ok())
    header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    assert rows[0] == header
    assert rows[1][:4] == ["shown", "0/1", "Pending", "0"]
    assert rows[1][5:7] == ["<none>", "node-1"]


async def test_explain_reads_the_crd_schema(cluster: Cluster) -> None:
    out = (await cluster.kubectl("explain", "certificaterequest.spec")).ok()
    assert "KIND:       CertificateRequest" in out
    assert "FIELD: spec <Object>" in out
    assert "issuerRef\t<Object> -required-" in out
    pod = (await cluster.kubectl("explain", "pods.spec.containers.image")).ok()
    assert "FIELD: image <string>" in pod and "Container image name" in pod


async def test_chunked_get_pages_through_the_list(cluster: Cluster) -> None:
    cluster.namespace("paged")
    for i in range(5):
        body = json.dumps({"metadata": {"name": f"cm-{i}"}}).encode()
        assert (await cluster.request("POST", "/api/v1/namespaces/paged/configmaps", body=body))[0] == 201
    answer = await cluster.kubectl("get", "configmaps", "-n", "paged", "--chunk-size=2", "-o", "name", "-v=6")
    assert answer.ok().split() == [f"configmap/cm-{i}" for i in range(5)] + ["configmap/kube-root-ca.crt"]
    requests = [line for line in answer.err.splitlines() if "GET https" in line and "/configmaps?" in line]
    assert len(requests) == 3 and "continue=" in requests[1]


async def test_delete_namespace_waits_until_it_is_gone(cluster: Cluster) -> None:
    (await cluster.kubectl("create", "namespace", "doomed-by-kubectl")).ok()
    (await cluster.kubectl("create", "configmap", "left", "-n", "doomed-by-kubectl")).ok()
    out = (await cluster.kubectl("delete", "namespace", "doomed-by-kubectl")).ok()
    assert out.strip() == 'namespace "doomed-by-kubectl" deleted'
    assert cluster.store.find(BY_KEY["/namespaces"], None, "doomed-by-kubectl") is None
