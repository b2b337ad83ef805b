"""TLS to the API server: the kubeconfig's CA is the trust, a wrong one fails, insecure-skip-tls-verify skips."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from kube_support import FakeApiServer

from certcsi.errors import KubernetesError
from certcsi.kube import connect
from certcsi.pki.signing import create_ca


@pytest.fixture
async def https_server() -> AsyncIterator[FakeApiServer]:
    _, client_ca = create_ca(common_name="client-ca")
    server = FakeApiServer(client_ca_pem=client_ca.public_bytes(Encoding.PEM))
    await server.start()
    yield server
    await server.stop()


def rewrite_cluster(path: Path, **cluster: object) -> None:
    config = json.loads(path.read_text())
    config["clusters"][0]["cluster"] = {"server": config["clusters"][0]["cluster"]["server"], **cluster}
    path.write_text(json.dumps(config))


async def test_the_kubeconfig_ca_is_trusted(https_server: FakeApiServer, tmp_path: Path) -> None:
    path = https_server.write_kubeconfig(tmp_path / "kubeconfig")
    async with await connect(kubeconfig=str(path), qps=0, burst=1) as kube:
        await kube.get_pod("ns", "p")
    assert https_server.seen[0].path == "/api/v1/namespaces/ns/pods/p"


async def test_another_ca_is_refused(https_server: FakeApiServer, tmp_path: Path) -> None:
    path = https_server.write_kubeconfig(tmp_path / "kubeconfig")
    _, stranger = create_ca(common_name="stranger")
    (tmp_path / "stranger.crt").write_bytes(stranger.public_bytes(Encoding.PEM))
    rewrite_cluster(path, **{"certificate-authority": "stranger.crt"})
    async with await connect(kubeconfig=str(path), qps=0, burst=1) as kube:
        with pytest.raises(KubernetesError, match="cannot reach the Kubernetes API") as caught:
            await kube.get_pod("ns", "p")
    assert caught.value.status is None
    assert https_server.seen == []


async def test_insecure_skip_tls_verify_accepts_any_server(https_server: FakeApiServer, tmp_path: Path) -> None:
    path = https_server.write_kubeconfig(tmp_path / "kubeconfig")
    rewrite_cluster(path, **{"insecure-skip-tls-verify": True})
    async with await connect(kubeconfig=str(path), qps=0, burst=1) as kube:
        await kube.get_pod("ns", "p")
    assert len(https_server.seen) == 1


async def test_a_client_key_that_does_not_match_is_a_load_error(https_server: FakeApiServer, tmp_path: Path) -> None:
    _, cert = create_ca(common_name="driver")
    other_key, _ = create_ca(common_name="other")
    user = {
        "client-certificate-data": base64.b64encode(cert.public_bytes(Encoding.PEM)).decode(),
        "client-key-data": base64.b64encode(
            other_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        ).decode(),
    }
    path = https_server.write_kubeconfig(tmp_path / "kubeconfig", user=user)
    with pytest.raises(KubernetesError, match=r"cannot load kubeconfig .*unusable TLS material"):
        await connect(kubeconfig=str(path), qps=0, burst=1)
