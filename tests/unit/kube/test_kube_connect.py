"""connect(): kubeconfig when given, in-cluster otherwise; client certificates never mask a pod token."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from kube_support import FakeApiServer
from kubernetes_asyncio import config as kube_config
from kubernetes_asyncio.client import Configuration

from certcsi.errors import KubernetesError
from certcsi.kube import connect
from certcsi.kube.config import anonymous
from certcsi.pki.signing import create_ca


async def test_in_cluster_when_no_kubeconfig(api_server: FakeApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[Any] = []

    def fake_incluster(client_configuration: Configuration, **_: Any) -> None:
        loaded.append(client_configuration)
        client_configuration.host = api_server.url
        client_configuration.api_key = {"BearerToken": "Bearer in-cluster-sa-token"}

    monkeypatch.setattr(kube_config, "load_incluster_config", fake_incluster)
    async with await connect(kubeconfig=None, qps=0, burst=1) as kube:
        await kube.get_pod("ns", "p")
    assert len(loaded) == 1
    assert api_server.seen[0].headers["Authorization"] == "Bearer in-cluster-sa-token"


async def test_missing_kubeconfig_is_a_kubernetes_error(tmp_path: Path) -> None:
    with pytest.raises(KubernetesError, match="cannot load kubeconfig") as caught:
        await connect(kubeconfig=str(tmp_path / "nope"), qps=0, burst=1)
    assert caught.value.status is None


def test_anonymous_keeps_the_server_and_trust_but_no_credential() -> None:
    configuration = Configuration(host="https://10.0.0.1:6443")
    configuration.ssl_ca_cert = "/ca.crt"
    configuration.cert_file = "/client.crt"
    configuration.key_file = "/client.key"
    configuration.api_key = {"BearerToken": "Bearer driver"}
    bare = anonymous(configuration)
    assert (bare.host, bare.ssl_ca_cert, bare.verify_ssl) == ("https://10.0.0.1:6443", "/ca.crt", True)
    assert (bare.cert_file, bare.key_file, bare.api_key) == (None, None, {})
    assert configuration.api_key == {"BearerToken": "Bearer driver"}  # the original is untouched


async def test_client_certificate_users_send_pod_tokens_without_their_certificate(tmp_path: Path) -> None:
    key, cert = create_ca(common_name="driver")
    cert_pem = cert.public_bytes(Encoding.PEM)
    server = FakeApiServer(client_ca_pem=cert_pem)
    await server.start()
    user = {
        "client-certificate-data": base64.b64encode(cert_pem).decode(),
        "client-key-data": base64.b64encode(
            key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        ).decode(),
    }
    path = server.write_kubeconfig(tmp_path / "kubeconfig", user=user)
    try:
        async with await connect(kubeconfig=str(path), qps=0, burst=1) as kube:
            await kube.create_certificate_request("ns", {"metadata": {}})
            await kube.create_certificate_request("ns", {"metadata": {}}, token="pod-token")
    finally:
        await server.stop()
    as_driver, as_pod = server.seen
    # kube-apiserver would authenticate a presented client certificate before any bearer token.
    assert as_driver.client_certificate
    assert "Authorization" not in as_driver.headers
    assert not as_pod.client_certificate
    assert as_pod.headers["Authorization"] == "Bearer pod-token"


async def test_qps_budget_applies_to_calls(api_server: FakeApiServer, tmp_path: Path) -> None:
    path = api_server.write_kubeconfig(tmp_path / "kubeconfig")
    async with await connect(kubeconfig=str(path), qps=1000, burst=1) as kube:
        limiter: Any = kube._transport._limiter  # type: ignore[attr-defined]
        assert limiter._qps == 1000
        for _ in range(3):
            await kube.get_pod("ns", "p")
    assert len(api_server.seen) == 3
