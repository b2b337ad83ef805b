"""TokenRequest (POST serviceaccounts/<name>/token): a signed JWT with the claims real ones carry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from apiserver_support import Cluster
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = pytest.mark.asyncio(loop_scope="module")
ISSUER = "https://kubernetes.default.svc.cluster.local"


async def _service_account(admin: client.ApiClient, name: str) -> client.V1ServiceAccount:
    return await client.CoreV1Api(admin).create_namespaced_service_account("default", {"metadata": {"name": name}})


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_token_request_returns_201_with_a_token(cluster: Cluster, admin: client.ApiClient) -> None:
    sa = await _service_account(admin, "plain")
    status, body = await cluster.request(
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/plain/token",
        body=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}).encode(),
    )
    assert status == 201
    assert (body["kind"], body["apiVersion"]) == ("TokenRequest", "authentication.k8s.io/v1")
    assert body["spec"]["expirationSeconds"] == 3600 and body["spec"]["audiences"] == [ISSUER]
    claims = _claims(body["status"]["token"])
    assert claims["iss"] == ISSUER and claims["aud"] == [ISSUER]
    assert claims["sub"] == "system:serviceaccount:default:plain"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"] == {
        "namespace": "default",
        "serviceaccount": {"name": "plain", "uid": sa.metadata.uid},
    }
    expires = datetime.strptime(body["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert expires.timestamp() == claims["exp"]


async def test_bound_token_names_the_pod_and_audiences(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    sa = await _service_account(admin, "bound")
    pod = await v1.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "bound-pod"},
            "spec": {"serviceAccountName": "bound", "containers": [{"name": "c", "image": "i"}]},
        },
    )
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(
            audiences=["cert-manager-spiffe"],
            expiration_seconds=900,
            bound_object_ref=client.V1BoundObjectReference(
                kind="Pod", api_version="v1", name="bound-pod", uid=pod.metadata.uid
            ),
        )
    )
    answer = await v1.create_namespaced_service_account_token("bound", "default", request)
    assert answer.spec.audiences == ["cert-manager-spiffe"]
    assert answer.status.expiration_timestamp.tzinfo is not None
    claims = _claims(answer.status.token)
    assert claims["aud"] == ["cert-manager-spiffe"] and claims["exp"] - claims["iat"] == 900
    assert claims["kubernetes.io"]["pod"] == {"name": "bound-pod", "uid": pod.metadata.uid}
    assert claims["kubernetes.io"]["serviceaccount"]["uid"] == sa.metadata.uid


async def test_a_minted_token_authenticates_as_its_service_account(cluster: Cluster, admin: client.ApiClient) -> None:
    await _service_account(admin, "caller")
    token = (
        await client.CoreV1Api(admin).create_namespaced_service_account_token("caller", "default", {"spec": {}})
    ).status.token
    status, body = await cluster.request("GET", "/api/v1/namespaces/default/secrets", token=token)
    assert status == 403
    assert 'User "system:serviceaccount:default:caller" cannot list resource "secrets"' in body["message"]


async def test_a_pod_bound_token_dies_with_its_pod(cluster: Cluster, admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await _service_account(admin, "short-lived")
    pod = await v1.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "short-pod"},
            "spec": {"serviceAccountName": "short-lived", "containers": [{"name": "c", "image": "i"}]},
        },
    )
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "short-pod", "uid": pod.metadata.uid}
    token = (
        await v1.create_namespaced_service_account_token("short-lived", "default", {"spec": {"boundObjectRef": ref}})
    ).status.token
    assert (await cluster.request("GET", "/api/v1/namespaces/default/secrets", token=token))[0] == 403
    await v1.delete_namespaced_pod("short-pod", "default")
    assert (await cluster.request("GET", "/api/v1/namespaces/default/secrets", token=token))[0] == 401


async def _token_error(admin: client.ApiClient, name: str, spec: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(admin).create_namespaced_service_account_token(name, "default", {"spec": spec})
    return caught.value.status, json.loads(caught.value.body)


async def test_token_for_a_missing_service_account_is_404(admin: client.ApiClient) -> None:
    status, body = await _token_error(admin, "ghost", {})
    assert (status, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'serviceaccounts "ghost" not found'


@pytest.mark.parametrize(
    ("spec", "code", "reason"),
    [
        ({"expirationSeconds": 60}, 422, "Invalid"),
        ({"expirationSeconds": "long"}, 400, "BadRequest"),
        ({"audiences": "one"}, 400, "BadRequest"),
        ({"boundObjectRef": {"kind": "Secret", "name": "s"}}, 400, "BadRequest"),
        ({"boundObjectRef": {"kind": "Pod", "name": "no-such-pod"}}, 404, "NotFound"),
        ({"boundObjectRef": {"kind": "Pod", "name": "uid-pod", "uid": "stale-uid"}}, 409, "Conflict"),
    ],
)
async def test_bad_token_requests(admin: client.ApiClient, spec: dict[str, Any], code: int, reason: str) -> None:
    v1 = client.CoreV1Api(admin)
    if not (await v1.list_namespaced_service_account("default", field_selector="metadata.name=checked")).items:
        await _service_account(admin, "checked")
        await v1.create_namespaced_pod(
            "default",
            {
                "metadata": {"name": "uid-pod"},
                "spec": {"serviceAccountName": "checked", "containers": [{"name": "c", "image": "i"}]},
            },
        )
    status, body = await _token_error(admin, "checked", spec)
    assert (status, body["reason"]) == (code, reason)


async def test_token_subresource_body_must_be_a_token_request(cluster: Cluster, admin: client.ApiClient) -> None:
    await _service_account(admin, "wrong-kind")
    status, body = await cluster.request(
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/wrong-kind/token",
        body=json.dumps({"apiVersion": "v1", "kind": "ServiceAccount"}).encode(),
    )
    assert (status, body["reason"]) == (400, "BadRequest")
