"""CertificateRequest calls over real HTTP: paths, bodies, plain-dict answers, 404 handling."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from aiohttp import web
from kube_support import ADMIN_TOKEN, FakeApiServer, Seen, status

import certcsi
from certcsi.errors import KubernetesError
from certcsi.kube import Kube

BODY = {"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "metadata": {"name": "r1"}, "spec": {}}


async def test_create_posts_json_and_returns_a_dict(api_server: FakeApiServer, kube: Kube) -> None:
    async def handler(request: web.Request, seen: Seen) -> web.StreamResponse:
        return web.json_response({**seen.body, "metadata": {"name": "r1", "uid": "u-1"}}, status=201)

    api_server.handler = handler
    created = await kube.create_certificate_request("team-a", BODY)
    (seen,) = api_server.seen
    assert (seen.method, seen.path) == ("POST", "/apis/cert-manager.io/v1/namespaces/team-a/certificaterequests")
    assert seen.body == BODY
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == f"certcsi/{certcsi.__version__}"
    assert created["metadata"] == {"name": "r1", "uid": "u-1"}
    assert type(created) is dict


async def test_a_read_only_mapping_in_a_body_is_sent_as_the_object_it_views(
    api_server: FakeApiServer, kube: Kube
) -> None:
    annotations = MappingProxyType({"csi.cert-manager.io/pod": "web-0", "note": "caf\u00e9 <&>"})
    await kube.create_certificate_request("team-a", {**BODY, "metadata": {"name": "r1", "annotations": annotations}})
    (seen,) = api_server.seen
    assert seen.body["metadata"]["annotations"] == dict(annotations)


async def test_a_body_that_is_not_json_fails_before_anything_is_sent(api_server: FakeApiServer, kube: Kube) -> None:
    with pytest.raises(TypeError, match="not JSON serializable: set"):
        await kube.create_certificate_request("team-a", {**BODY, "spec": {"usages": {"digital signature"}}})
    assert api_server.seen == []


async def test_the_client_identity_is_used_without_a_token(api_server: FakeApiServer, kube: Kube) -> None:
    await kube.create_certificate_request("team-a", BODY)
    assert api_server.seen[0].headers["Authorization"] == f"Bearer {ADMIN_TOKEN}"


async def test_a_token_replaces_the_client_identity_for_that_call_only(api_server: FakeApiServer, kube: Kube) -> None:
    await kube.create_certificate_request("team-a", BODY, token="pod-sa-token")
    await kube.create_certificate_request("team-a", BODY)
    first, second = api_server.seen
    assert first.headers["Authorization"] == "Bearer pod-sa-token"
    assert ADMIN_TOKEN not in str(first.headers)
    assert second.headers["Authorization"] == f"Bearer {ADMIN_TOKEN}"


async def test_list_is_cluster_wide_with_the_selector(api_server: FakeApiServer, kube: Kube) -> None:
    async def handler(request: web.Request, seen: Seen) -> web.StreamResponse:
        return web.json_response(
            {"kind": "CertificateRequestList", "metadata": {}, "items": [{"metadata": {"name": "a"}}]}
        )

    api_server.handler = handler
    items = await kube.list_certificate_requests("csi.cert-manager.io/node-id-hash=f56fd9f8b")
    (seen,) = api_server.seen
    assert seen.path == "/apis/cert-manager.io/v1/certificaterequests"
    assert seen.query == {"labelSelector": "csi.cert-manager.io/node-id-hash=f56fd9f8b"}
    assert items == [{"metadata": {"name": "a"}}]


async def test_delete_of_a_missing_request_is_fine(api_server: FakeApiServer, kube: Kube) -> None:
    async def handler(request: web.Request, seen: Seen) -> web.StreamResponse:
        return status(404, "NotFound", 'certificaterequests.cert-manager.io "r1" not found')

    api_server.handler = handler
    await kube.delete_certificate_request("team-a", "r1")
    assert (api_server.seen[0].method, api_server.seen[0].path) == (
        "DELETE",
        "/apis/cert-manager.io/v1/namespaces/team-a/certificaterequests/r1",
    )


async def test_delete_failure_is_raised(api_server: FakeApiServer, kube: Kube) -> None:
    async def handler(request: web.Request, seen: Seen) -> web.StreamResponse:
        return status(500, "InternalError", "etcd is sad")

    api_server.handler = handler
    try:
        await kube.delete_certificate_request("team-a", "r1")
    except KubernetesError as err:
        assert (err.status, str(err)) == (500, "etcd is sad")
    else:
        raise AssertionError("expected KubernetesError")


async def test_get_pod_and_missing_pod(api_server: FakeApiServer, kube: Kube) -> None:
    async def handler(request: web.Request, seen: Seen) -> web.StreamResponse:
        if request.path.endswith("/web-0"):
            return web.json_response({"kind": "Pod", "metadata": {"name": "web-0"}})
        return status(404, "NotFound", 'pods "gone" not found')

    api_server.handler = handler
    pod = await kube.get_pod("team-a", "web-0")
    assert pod is not None and pod["metadata"]["name"] == "web-0"
    assert await kube.get_pod("team-a", "gone") is None
    assert api_server.seen[0].path == "/api/v1/namespaces/team-a/pods/web-0"


async def test_names_are_path_escaped(api_server: FakeApiServer, kube: Kube) -> None:
    await kube.get_pod("team-a", "a/b")
    assert api_server.seen[0].raw_path == "/api/v1/namespaces/team-a/pods/a%2Fb"
