"""The server's own pieces: HTTPS with its serving CA, the kubeconfig it writes, start and stop."""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
import yaml
from apiserver_support import Cluster
from cryptography import x509
from kubernetes_asyncio import client, config

from certcsi.sandbox.apiserver.server import ApiServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_kubeconfig_embeds_the_ca_and_the_admin_token(cluster: Cluster) -> None:
    written = yaml.safe_load(cluster.kubeconfig.read_text())
    assert written == cluster.server.kubeconfig()
    server = written["clusters"][0]["cluster"]
    assert server["server"] == f"https://127.0.0.1:{cluster.server.port}"
    assert base64.b64decode(server["certificate-authority-data"]) == cluster.server.ca_pem
    assert written["users"][0]["user"] == {"token": cluster.admin_token}
    assert written["current-context"] == written["contexts"][0]["name"]
    assert stat.S_IMODE(cluster.kubeconfig.stat().st_mode) == 0o600


async def test_kubeconfig_for_another_token(cluster: Cluster) -> None:
    assert cluster.server.kubeconfig("abc")["users"][0]["user"] == {"token": "abc"}


async def test_serving_certificate_is_for_loopback_and_signed_by_the_ca(cluster: Cluster) -> None:
    tls = ssl.create_default_context(cadata=cluster.server.ca_pem.decode())
    _, writer = await asyncio.open_connection("127.0.0.1", cluster.server.port, ssl=tls, server_hostname="localhost")
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    ca = x509.load_pem_x509_certificate(cluster.server.ca_pem)
    assert cert.issuer == ca.subject


async def test_clients_that_do_not_trust_the_ca_are_refused(cluster: Cluster) -> None:
    async with aiohttp.ClientSession() as session:  # system trust store only
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(cluster.url("/version"))


async def test_plain_http_gets_no_api(cluster: Cluster) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(f"http://127.0.0.1:{cluster.server.port}/version") as response:
                await response.read()


async def test_lifecycle_on_a_given_port(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ApiServer(port=port)
    with pytest.raises(RuntimeError):
        _ = server.url
    async with server:
        assert server.url == f"https://127.0.0.1:{port}"
        with pytest.raises(RuntimeError):
            await server.start()
        server.write_kubeconfig(tmp_path / "kubeconfig")
        configuration = client.Configuration()
        await config.load_kube_config(config_file=str(tmp_path / "kubeconfig"), client_configuration=configuration)
        async with client.ApiClient(configuration) as api:
            assert (await client.CoreV1Api(api).list_namespace()).items == []
    await server.stop()  # a second stop is harmless
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # the port was released
