"""A pod's token never reaches an exception message or a log line, even with DEBUG logging on."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from kube_support import FakeApiServer, Seen, status

from certcsi.errors import KubernetesError
from certcsi.kube import Kube

POD_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dGVhbS1hOndlYiJ9.c2ln"
OPAQUE_TOKEN = "opaque-pod-token-value-42"


async def test_forbidden_keeps_the_api_message_and_drops_the_token(
    api_server: FakeApiServer, kube: Kube, caplog: pytest.LogCaptureFixture
) -> None:
    forbidden = (
        'certificaterequests.cert-manager.io is forbidden: User "system:serviceaccount:team-a:web" '
        'cannot create resource "certificaterequests" in API group "cert-manager.io" in the namespace "team-a"'
    )

    async def handler(request: web.Request, seen: Seen) -> web.StreamResponse:
        # A misbehaving server (or proxy) that echoes the credential back.
        return status(403, "Forbidden", forbidden + " " + request.headers["Authorization"])

    api_server.handler = handler
    caplog.set_level(logging.DEBUG)
    for token in (POD_TOKEN, OPAQUE_TOKEN):
        with pytest.raises(KubernetesError) as caught:
            await kube.create_certificate_request("team-a", {"metadata": {"name": "r"}}, token=token)
        err = caught.value
        assert err.status == 403
        assert str(err).startswith(forbidden)
        assert token not in str(err)
        assert token not in repr(err.args)
        assert err.__cause__ is None
    assert POD_TOKEN not in caplog.text
    assert OPAQUE_TOKEN not in caplog.text


async def test_unreachable_server_has_no_status(tmp_path: object) -> None:
    from pathlib import Path

    from kube_support import FakeApiServer as Server

    from certcsi.kube import connect

    server = Server()
    await server.start()
    path = server.write_kubeconfig(Path(str(tmp_path)) / "kubeconfig")
    await server.stop()  # nothing listens on that port any more
    async with await connect(kubeconfig=str(path), qps=0, burst=1) as kube:
        with pytest.raises(KubernetesError) as caught:
            await kube.create_certificate_request("team-a", {"metadata": {}}, token=POD_TOKEN)
    assert caught.value.status is None
    assert "cannot reach the Kubernetes API" in str(caught.value)
    assert POD_TOKEN not in str(caught.value)
