"""connect(): kubeconfig when there is one, in-cluster otherwise; client certificates never mask a pod token."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from kube_support import FakeApiServer

from certcsi.errors import KubernetesError
from certcsi.kube import _access, connect
from certcsi.kube._access import Access, ClientCertificate
from certcsi.kube._credentials import NO_CREDENTIALS, Static
from certcsi.pki.signing import create_ca


async def test_in_cluster_when_no_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, cert = create_ca(common_name="unused-client-ca")
    server = FakeApiServer(client_ca_pem=cert.public_bytes(Encoding.PEM))  # HTTPS, as in a cluster
    await server.start()
    (tmp_path / "ca.crt").write_bytes(server.ca_pem)
    (tmp_path / "token").write_text("in-cluster-sa-token\n")
    monkeypatch.setattr(_access, "SERVICE_ACCOUNT_DIR", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", server.url.rsplit(":", 1)[1])
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config either
    try:
        async with await connect(kubeconfig=None, qps=0, burst=1) as kube:
            await kube.get_pod("ns", "p")
    finally:
        await server.stop()
    assert server.seen[0].headers["Authorization"] == "Bearer in-cluster-sa-token"


async def test_missing_kubeconfig_is_a_kubernetes_error(tmp_path: Path) -> None:
    with pytest.raises(KubernetesError, match="cannot load kubeconfig") as caught:
        await connect(kubeconfig=str(tmp_path / "nope"), qps=0, burst=1)
    assert caught.value.status is None


async def test_outside_a_pod_without_kubeconfig_is_a_kubernetes_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(KubernetesError, match=r"cannot load in-cluster configuration: no context in any kubeconfig"):
        await connect(kubeconfig=None, qps=0, burst=1)


def test_anonymous_keeps_the_server_and_trust_but_no_credential() -> None:
    access = Access(
        server="https://10.0.0.1:6443",
        ca_pem=b"ca",
        tls_server_name="kubernetes",
        client_certificate=ClientCertificate(certificate_pem=b"cert", key_pem=b"key"),
        credentials=Static("Bearer driver"),
    )
    bare = access.anonymous()
    assert (bare.server, bare.ca_pem, bare.verify, bare.tls_server_name) == (
        "https://10.0.0.1:6443",
        b"ca",
        True,
        "kubernetes",
    )
    assert (bare.client_certificate, bare.credentials) == (None, NO_CREDENTIALS)
    assert access.credentials == Static("Bearer driver")  # the original is untouched


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
