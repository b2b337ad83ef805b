"""kubectl's --as/--as-uid/--as-group, --disable-compression and --request-timeout reach the wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from kube_support import FakeApiServer, Seen

from certcsi.errors import KubernetesError
from certcsi.kube import connect
from certcsi.kube._access import Overrides
from certcsi.kube.config import ClientConfig


async def test_impersonation_headers_on_our_calls_never_on_a_pods(api_server: FakeApiServer, tmp_path: Path) -> None:
    groups: list[list[str]] = []

    async def handler(request: web.Request, seen: Seen) -> web.StreamResponse:
        groups.append(request.headers.getall("Impersonate-Group", []))
        return web.json_response({"metadata": {"name": "x"}})

    api_server.handler = handler
    overrides = Overrides(
        impersonate="system:serviceaccount:cert-manager:driver",
        impersonate_uid="u-1",
        impersonate_groups=("system:serviceaccounts", "extra"),
    )
    config = ClientConfig(kubeconfig=str(api_server.write_kubeconfig(tmp_path / "k")), overrides=overrides)
    async with await connect(kubeconfig=config, qps=0, burst=1) as kube:
        await kube.create_certificate_request("ns", {"metadata": {}})
        await kube.create_certificate_request("ns", {"metadata": {}}, token="pod-token")
    ours, pods = api_server.seen
    assert ours.headers["Impersonate-User"] == "system:serviceaccount:cert-manager:driver"
    assert ours.headers["Impersonate-Uid"] == "u-1"
    assert groups == [["system:serviceaccounts", "extra"], []]
    assert not any(name.startswith("Impersonate") for name in pods.headers)


async def test_disable_compression_asks_for_identity(api_server: FakeApiServer, tmp_path: Path) -> None:
    path = str(api_server.write_kubeconfig(tmp_path / "k"))
    async with await connect(kubeconfig=path, qps=0, burst=1) as kube:
        await kube.get_pod("ns", "p")
    async with await connect(
        kubeconfig=ClientConfig(kubeconfig=path, disable_compression=True), qps=0, burst=1
    ) as kube:
        await kube.get_pod("ns", "p")
    default, disabled = api_server.seen
    assert "gzip" in default.headers.get("Accept-Encoding", "")
    assert disabled.headers["Accept-Encoding"] == "identity"


async def test_request_timeout_bounds_one_call(api_server: FakeApiServer, tmp_path: Path) -> None:
    async def slow(request: web.Request, seen: Seen) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response({})

    api_server.handler = slow
    config = ClientConfig(kubeconfig=str(api_server.write_kubeconfig(tmp_path / "k")), request_timeout=0.2)
    async with await connect(kubeconfig=config, qps=0, burst=1) as kube:
        started = asyncio.get_running_loop().time()
        with pytest.raises(KubernetesError):
            await kube.get_pod("ns", "p")
        assert asyncio.get_running_loop().time() - started < 3
