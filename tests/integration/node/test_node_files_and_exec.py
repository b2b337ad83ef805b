"""`certcsi sandbox files` and `certcsi sandbox exec` against a running sandbox: what they show, and the
clear errors for what they cannot do (an unknown pod, a volume that is not CSI, a container with no process)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from certcsi.cli import main
from certcsi.pki.certs import certificate_pem
from certcsi.pki.signing import create_ca
from certcsi.sandbox.bringup import LocalCluster
from certcsi.sandbox.podfiles import what_is

NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def cli(cluster: LocalCluster, command: str, *args: str) -> Result:
    argv = ["sandbox", command, "--kubeconfig", str(cluster.kubeconfig), *args]
    return await asyncio.to_thread(CliRunner().invoke, main, argv)


@pytest.fixture
async def placeholder(cluster: LocalCluster) -> dict[str, Any]:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "plain"},
        "spec": {
            "containers": [{"name": "app", "image": "busybox"}],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
        },
    }
    (created,) = await cluster.kubelet.apply(body)
    return created


async def test_files_refuses_what_it_cannot_show_naming_it(cluster: LocalCluster, placeholder: dict[str, Any]) -> None:
    missing = await cli(cluster, "files", "nope")
    assert missing.exit_code == 1 and 'pods "nope" not found in namespace default' in missing.output
    empty_dir = await cli(cluster, "files", "plain", "scratch")
    assert 'volume "scratch" is not a CSI volume' in empty_dir.output
    unknown = await cli(cluster, "files", "plain", "tls")
    assert 'pod default/plain has no volume "tls" (scratch, kube-api-access-' in unknown.output
    none = await cli(cluster, "files", "plain")
    assert none.exit_code == 0 and none.output.strip() == "pod default/plain has no CSI volumes"


async def test_exec_enters_only_certcsi_containers(cluster: LocalCluster, placeholder: dict[str, Any]) -> None:
    await cluster.kubelet.wait_ready("default", "plain", timeout=10)
    refused = await cli(cluster, "exec", "plain", "--", "true")
    assert refused.exit_code == 1
    assert (
        "container app of pod default/plain runs no process in the sandbox (image busybox is not run)" in refused.output
    )
    wrong = await cli(cluster, "exec", "plain", "-c", "sidecar", "--", "true")
    assert "container sidecar is not valid for pod default/plain: choose one of: [app]" in wrong.output
    workload = await cli(cluster, "exec", "ds/nothing", "--", "true")
    assert 'daemonsets.apps "nothing" not found in namespace default' in workload.output


def test_what_a_file_holds_never_shows_its_secret() -> None:
    key, ca = create_ca(common_name="Test CA", now=NOW - timedelta(days=1))
    bundle = what_is("ca.crt", certificate_pem(ca), NOW)
    assert bundle == "CA bundle, 1 certificate: CN=Test CA"
    leaf = what_is("tls.crt", certificate_pem(ca), NOW)
    assert leaf.startswith("certificate: subject CN=Test CA; SANs (none); issuer CN=Test CA; valid ")
    ec_key = ec.generate_private_key(ec.SECP384R1())
    pem = ec_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    assert what_is("tls.key", pem, NOW) == "private key: ECDSA P-384"
    assert what_is("keystore.p12", b"\x30\x82", NOW) == "PKCS#12 keystore (password-protected)"
    assert what_is("tls.crt", certificate_pem(ca), NOW + timedelta(days=4000)).endswith("ago)")
    del key
