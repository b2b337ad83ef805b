"""The proxy: the cluster's proxy-url, else the environment's (NO_PROXY respected), chosen once, no ~/.netrc."""

from __future__ import annotations

from pathlib import Path

import pytest
from kube_support import ADMIN_TOKEN, FakeApiServer

from certcsi.kube import connect
from certcsi.kube._access import Access
from certcsi.kube._http import proxy_for

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_proxy_url_from_the_kubeconfig_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    assert (
        proxy_for(Access(server="https://api:6443", proxy="http://cluster-proxy:8080")) == "http://cluster-proxy:8080"
    )


def test_the_environment_proxy_for_the_server_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    assert proxy_for(Access(server="https://api:6443")) == "http://env-proxy:3128"
    assert proxy_for(Access(server="http://api:8080")) is None


def test_no_proxy_covers_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    monkeypatch.setenv("NO_PROXY", "10.0.0.0,.cluster.local,api")
    assert proxy_for(Access(server="https://api:6443")) is None
    assert proxy_for(Access(server="https://kubernetes.default.svc.cluster.local")) is None
    assert proxy_for(Access(server="https://elsewhere:6443")) == "http://env-proxy:3128"


async def test_calls_go_through_the_environment_proxy(
    api_server: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server address nothing listens on: the call only succeeds through the proxy (the fake server).
    path = api_server.write_kubeconfig(tmp_path / "kubeconfig")
    path.write_text(path.read_text().replace(api_server.url, "http://unreachable.invalid:81"))
    monkeypatch.setenv("HTTP_PROXY", api_server.url)
    async with await connect(kubeconfig=str(path), qps=0, burst=1) as kube:
        await kube.get_pod("ns", "p")
    (seen,) = api_server.seen
    assert seen.path == "/api/v1/namespaces/ns/pods/p"
    assert seen.headers["Authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert seen.headers["Host"] == "unreachable.invalid:81"


async def test_netrc_is_not_read(api_server: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    user = {"username": "", "password": ""}  # no credential of our own: aiohttp would have used the netrc one
    path = api_server.write_kubeconfig(tmp_path / "kubeconfig", user=user)
    async with await connect(kubeconfig=str(path), qps=0, burst=1) as kube:
        await kube.get_pod("ns", "p")
    assert "Authorization" not in api_server.seen[0].headers
