"""Readiness gates end to end: the driver process, the kubelet stand-in and the sandbox API server.

The kubelet stand-in reports a pod's IP only once every volume is published, as kubelet does (the
pod sandbox, and so its IP, is created after the volumes are mounted). So `pod-ip:any` works only
with --continue-on-not-ready: the publish mounts an empty directory, the pod gets its IP, and the
driver's pod watch sees it and issues a certificate carrying that IP (`ip-sans: ${POD_IP}`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from certcsi.kube import Backoff
from certcsi.pki.certs import parse_pem_chain
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.sandbox.demo import CSIDRIVER_YAML, DRIVER, NODE, Progress, driver_process
from certcsi.sandbox.kubelet import Kubelet

NAMESPACE = "gates"
FAST = Backoff(base=0.2, factor=2.0, cap=1.0, jitter=0.0)
READY_ANNOTATION = "example.com/ready"


def pod_yaml(name: str, attributes: dict[str, str]) -> str:
    attrs = "\n".join(f"          {key}: {value!r}" for key, value in attributes.items())
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  containers: [{{name: app, image: busybox}}]
  volumes:
    - name: tls
      csi:
        driver: {DRIVER}
        readOnly: true
        volumeAttributes:
          csi.cert-manager.io/issuer-name: {CA_ISSUER}
          csi.cert-manager.io/issuer-kind: ClusterIssuer
          csi.cert-manager.io/key-algorithm: ECDSA
{attrs}
"""


@contextlib.asynccontextmanager
async def environment(driver_args: Sequence[str]) -> AsyncIterator[tuple[Sandbox, Kubelet]]:
    # Unix socket paths are limited to 108 bytes: a short work directory under /tmp.
    workdir = Path(tempfile.mkdtemp(prefix="gates-", dir="/tmp"))
    try:
        async with Sandbox() as cluster:
            kubeconfig = workdir / "kubeconfig"
            cluster.write_kubeconfig(kubeconfig)
            running = driver_process(
                workdir=workdir,
                kubeconfig=kubeconfig,
                unsafe=True,  # plain directories: this test is about gates, not mounts
                progress=Progress(lambda _: None),
                extra_args=[*driver_args, "--gate-backoff-duration=200ms", "--gate-backoff-cap=1s"],
            )
            async with running as driver:
                kubelet = Kubelet(
                    node_name=NODE,
                    root_dir=workdir / "kubelet",
                    drivers={DRIVER: driver.endpoint},
                    kubeconfig=kubeconfig,
                    publish_backoff=FAST,
                )
                async with kubelet:
                    await kubelet.apply(CSIDRIVER_YAML)
                    await kubelet.apply(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NAMESPACE}}}\n")
                    yield cluster, kubelet
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def the_pod(cluster: Sandbox, name: str) -> dict[str, Any]:
    return cluster.store.get(BY_KEY["/pods"], NAMESPACE, name)


async def certificate(path: Path, timeout: float = 15.0) -> x509.Certificate:
    deadline = time.monotonic() + timeout
    while not path.exists():  # files appear through the driver process, no event here
        if time.monotonic() > deadline:
            raise AssertionError(f"no certificate at {path} within {timeout:g}s")
        await asyncio.sleep(0.05)
    return parse_pem_chain(path.read_bytes())[0]


async def test_pod_ip_gate_with_continue_on_not_ready_puts_the_pods_ip_in_the_certificate() -> None:
    args = ["--pod-readiness-gate=pod-ip:any", "--continue-on-not-ready"]
    async with environment(args) as (cluster, kubelet):
        attributes = {"csi.cert-manager.io/ip-sans": "${POD_IP}", "csi.cert-manager.io/dns-names": "${POD_NAME}"}
        await kubelet.apply(pod_yaml("web", attributes))
        # The publish returned with an empty volume, so the pod runs and has its IP...
        await kubelet.wait_ready(NAMESPACE, "web", timeout=30)
        pod_ip = the_pod(cluster, "web")["status"]["podIP"]
        assert pod_ip
        # ...and only then can the certificate, which names that IP, appear.
        leaf = await certificate(kubelet.pod_volume_path(NAMESPACE, "web", "tls") / "tls.crt")
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(pod_ip)]
        assert sans.get_values_for_type(x509.DNSName) == ["web"]
        assert kubelet.last_failure(NAMESPACE, "web") is None


async def test_gate_unmet_fails_the_mount_naming_it_until_the_pod_passes() -> None:
    args = [f"--pod-readiness-gate=pod-annotation:{READY_ANNOTATION}", "--issue-timeout=1"]
    async with environment(args) as (cluster, kubelet):
        await kubelet.apply(pod_yaml("late", {"csi.cert-manager.io/dns-names": "late.example.com"}))
        deadline = time.monotonic() + 15
        while kubelet.last_failure(NAMESPACE, "late") is None:  # polled state of another task
            assert time.monotonic() < deadline, "no FailedMount recorded"
            await asyncio.sleep(0.05)
        failure = kubelet.last_failure(NAMESPACE, "late") or ""
        assert (
            f'pod readiness gate pod-annotation:{READY_ANNOTATION} not met: pod has no annotation "{READY_ANNOTATION}" '
            "yet (waited 1s)" in failure
        )
        assert not (kubelet.pod_volume_path(NAMESPACE, "late", "tls") / "tls.crt").exists()

        # What a webhook or controller would do: the next publish kubelet retries goes through.
        cluster.store.mutate(
            BY_KEY["/pods"],
            NAMESPACE,
            "late",
            lambda pod: pod["metadata"].setdefault("annotations", {}).update({READY_ANNOTATION: "yes"}),
        )
        await kubelet.wait_ready(NAMESPACE, "late", timeout=30)
        leaf = await certificate(kubelet.pod_volume_path(NAMESPACE, "late", "tls") / "tls.crt", timeout=1)
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["late.example.com"]
