"""What kube-apiserver's defaulting, admission and validation do to the objects users create: pod
defaults and the service-account token volume, 403 without the ServiceAccount, 422 without containers,
CSIDriver defaults and the token warning, Event and Lease rules, the node claim of pod-bound tokens."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from apiserver_support import Cluster
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from certcsi.sandbox.apiserver.admission import CSIDRIVER_TOKEN_WARNING

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _error(caught: pytest.ExceptionInfo[ApiException]) -> tuple[int, dict[str, Any]]:
    return caught.value.status, json.loads(caught.value.body)


async def test_a_pod_gets_kube_apiservers_defaults(admin: client.ApiClient) -> None:
    body = {"metadata": {"name": "defaulted"}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}}
    response = await client.CoreV1Api(admin).create_namespaced_pod("default", body, _preload_content=False)
    pod = await response.json()
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("default", "default")
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["schedulerName"]) == (
        "Always",
        "ClusterFirst",
        "default-scheduler",
    )
    assert (spec["priority"], spec["enableServiceLinks"], spec["terminationGracePeriodSeconds"]) == (0, True, 30)
    assert {(t["key"], t["tolerationSeconds"]) for t in spec["tolerations"]} == {
        ("node.kubernetes.io/not-ready", 300),
        ("node.kubernetes.io/unreachable", 300),
    }
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-")
    assert volume["projected"]["sources"][0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert container["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    ]
    assert (container["terminationMessagePath"], container["imagePullPolicy"]) == ("/dev/termination-log", "Always")
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


async def test_a_pod_without_containers_is_422(admin: client.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(admin).create_namespaced_pod(
            "default", {"metadata": {"name": "empty"}, "spec": {"containers": []}}
        )
    status, answer = _error(caught)
    assert (status, answer["reason"]) == (422, "Invalid")
    assert answer["message"] == 'Pod "empty" is invalid: spec.containers: Required value'


async def test_a_pod_of_a_missing_service_account_is_403(admin: client.ApiClient) -> None:
    body = {
        "metadata": {"name": "orphan"},
        "spec": {"serviceAccountName": "ghost", "containers": [{"name": "c", "image": "i"}]},
    }
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(admin).create_namespaced_pod("default", body)
    status, answer = _error(caught)
    assert (status, answer["reason"]) == (403, "Forbidden")
    assert answer["message"] == (
        'pods "orphan" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found'
    )


async def test_a_csidriver_gets_its_defaults_and_the_token_warning(cluster: Cluster) -> None:
    body = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIDriver",
        "metadata": {"name": "tokens.example.io"},
        "spec": {"tokenRequests": [{"audience": ""}], "volumeLifecycleModes": ["Ephemeral"]},
    }
    async with cluster.raw.post(
        cluster.url("/apis/storage.k8s.io/v1/csidrivers"), json=body, headers=cluster.headers()
    ) as response:
        assert response.status == 201
        spec = (await response.json())["spec"]
        warnings = response.headers.getall("Warning", [])
    assert (spec["fsGroupPolicy"], spec["seLinuxMount"], spec["storageCapacity"], spec["attachRequired"]) == (
        "ReadWriteOnceWithFSType",
        False,
        False,
        True,
    )
    assert warnings == ['299 - "' + CSIDRIVER_TOKEN_WARNING + '"']


@pytest.mark.parametrize(("involved", "ok"), [("default", True), ("other", False), ("", True)])
async def test_an_events_involved_object_is_in_its_namespace(admin: client.ApiClient, involved: str, ok: bool) -> None:
    event = {
        "metadata": {"name": f"ev-{involved or 'none'}"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": involved},
        "reason": "Tested",
        "message": "m",
    }
    v1 = client.CoreV1Api(admin)
    if ok:
        await v1.create_namespaced_event("default", event)
        return
    with pytest.raises(ApiException) as caught:
        await v1.create_namespaced_event("default", event)
    status, answer = _error(caught)
    assert (status, answer["reason"]) == (422, "Invalid")
    assert answer["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "other": does not match event.namespace',
            "field": "involvedObject.namespace",
        }
    ]


async def test_a_lease_time_needs_microseconds(cluster: Cluster) -> None:
    path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me", "renewTime": "2026-01-01T00:00:00Z"}}
    status, answer = await cluster.request("POST", path, body=json.dumps(lease).encode())
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert answer["message"] == (
        'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-01-01T00:00:00Z" as '
        '"2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"'
    )
    lease["spec"]["renewTime"] = "2026-01-01T00:00:00.000000Z"
    assert (await cluster.request("POST", path, body=json.dumps(lease).encode()))[0] == 201


async def test_an_event_series_time_needs_microseconds_and_the_first_bad_one_is_named(cluster: Cluster) -> None:
    path = "/api/v1/namespaces/default/events"
    event = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "series": {"count": 2, "lastObservedTime": "2026-01-01T00:00:01Z"},
        "reason": "R",
        "eventTime": "2026-01-01T00:00:02Z",
    }
    status, answer = await cluster.request("POST", path, body=json.dumps(event).encode())
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert 'parsing time "2026-01-01T00:00:01Z"' in answer["message"]  # series comes first in the body
    event["series"] = {"count": 2, "lastObservedTime": "2026-01-01T00:00:01.000000Z"}
    status, answer = await cluster.request("POST", path, body=json.dumps(event).encode())
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert 'parsing time "2026-01-01T00:00:02Z"' in answer["message"]
    event["eventTime"] = "2026-01-01T00:00:02.000000Z"
    assert (await cluster.request("POST", path, body=json.dumps(event).encode()))[0] == 201


async def test_a_pod_bound_token_names_the_node(cluster: Cluster, admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    node = await v1.create_node({"metadata": {"name": "worker-1"}})
    pod = await v1.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "on-node"},
            "spec": {"nodeName": "worker-1", "containers": [{"name": "c", "image": "i"}]},
        },
    )
    answer = await v1.create_namespaced_service_account_token(
        "default",
        "default",
        {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "on-node", "uid": pod.metadata.uid}}},
    )
    claims = jwt.decode(answer.status.token, options={"verify_signature": False})
    assert claims["kubernetes.io"]["node"] == {"name": "worker-1", "uid": node.metadata.uid}
    assert claims["kubernetes.io"]["pod"] == {"name": "on-node", "uid": pod.metadata.uid}
    who = await client.AuthenticationV1Api(await cluster.client(answer.status.token)).create_self_subject_review({})
    assert who.status.user_info.extra["authentication.kubernetes.io/node-name"] == ["worker-1"]
