"""Authentication: bearer tokens only; a malformed, unknown or expired token is 401, and a request
without one is system:anonymous (anonymous auth is on), whom RBAC lets read only public info."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from apiserver_support import Cluster, running_cluster
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from certcsi.sandbox.apiserver.authn import LEEWAY_SECONDS

pytestmark = pytest.mark.asyncio(loop_scope="module")
UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def clocked(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> AsyncIterator[Cluster]:
    async with running_cluster(tmp_path_factory.mktemp("authn"), clock=clock) as running:
        yield running


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Token abc"},
    ],
    ids=["empty-bearer", "unknown", "basic", "other-scheme"],
)
@pytest.mark.parametrize("path", ["/api/v1/namespaces", "/api", "/apis/cert-manager.io/v1", "/api/v1/nowhere"])
async def test_requests_without_a_valid_token_are_401(clocked: Cluster, headers: dict[str, str], path: str) -> None:
    assert await clocked.request("GET", path, headers=dict(headers)) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/api/v1/namespaces",
            'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" '
            "at the cluster scope",
        ),
        (
            "/apis/cert-manager.io/v1/namespaces/default/certificaterequests/x",
            'certificaterequests.cert-manager.io "x" is forbidden: User "system:anonymous" cannot get resource '
            '"certificaterequests" in API group "cert-manager.io" in the namespace "default"',
        ),
        ("/api", 'forbidden: User "system:anonymous" cannot get path "/api"'),
        ("/openapi/v3", 'forbidden: User "system:anonymous" cannot get path "/openapi/v3"'),
    ],
)
async def test_requests_without_credentials_are_system_anonymous(clocked: Cluster, path: str, message: str) -> None:
    status, body = await clocked.request("GET", path, headers={})
    assert (status, body["reason"], body["message"]) == (403, "Forbidden", message)


@pytest.mark.parametrize("path", ["/version", "/healthz", "/livez", "/readyz"])
async def test_anonymous_may_read_public_info(clocked: Cluster, path: str) -> None:
    status, _ = await clocked.request("GET", path, headers={})
    assert status == 200


async def test_an_invalid_token_is_401_even_on_public_paths(clocked: Cluster) -> None:
    assert await clocked.request("GET", "/version", headers={"Authorization": "Bearer nope"}) == (401, UNAUTHORIZED)
    status, _ = await clocked.request("GET", "/healthz", headers={})
    assert status == 200


async def test_the_client_sees_401(clocked: Cluster) -> None:
    api = await clocked.client("wrong-token")
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(api).list_namespace()
    assert caught.value.status == 401
    assert json.loads(caught.value.body) == UNAUTHORIZED


async def _mint(cluster: Cluster, name: str, seconds: int = 600) -> str:
    v1 = client.CoreV1Api(await cluster.client())
    await v1.create_namespaced_service_account("default", {"metadata": {"name": name}})
    request = {"spec": {"expirationSeconds": seconds}}
    answer = await v1.create_namespaced_service_account_token(name, "default", request)
    return str(answer.status.token)


async def _whoami_status(cluster: Cluster, token: str) -> int:
    status, _ = await cluster.request("GET", "/api/v1/namespaces/default/configmaps", token=token)
    return status


async def test_an_expired_token_is_401(clocked: Cluster, clock: Clock) -> None:
    token = await _mint(clocked, "expiring", seconds=600)
    assert await _whoami_status(clocked, token) == 403  # authenticated, merely not allowed
    clock.now += 600 + LEEWAY_SECONDS + 1
    try:
        assert await clocked.request("GET", "/api/v1/namespaces/default/configmaps", token=token) == (401, UNAUTHORIZED)
    finally:
        clock.now -= 600 + LEEWAY_SECONDS + 1


async def test_a_token_of_a_deleted_service_account_is_401(clocked: Cluster) -> None:
    token = await _mint(clocked, "deleted-sa")
    assert await _whoami_status(clocked, token) == 403
    await client.CoreV1Api(await clocked.client()).delete_namespaced_service_account("deleted-sa", "default")
    assert await _whoami_status(clocked, token) == 401


async def test_a_tampered_token_is_401(clocked: Cluster) -> None:
    token = await _mint(clocked, "tampered")
    head, payload, signature = token.split(".")
    forged = ".".join((head, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")))
    assert await _whoami_status(clocked, forged) == 401
