"""`certcsi sandbox demo`: the whole path of a pod certificate on one machine, in under a minute.

Starts the sandbox control plane, the csi.cert-manager.io driver as its own process on a real unix
socket, and the kubelet stand-in; applies example pods; shows the files each pod sees, a live
renewal and an mTLS handshake between two pods; then deletes everything. As root it runs in a
private mount namespace with real tmpfs and read-only bind mounts; without root it says so and
runs the driver with --unsafe-no-mount.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.pki.certs import parse_pem_chain
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.mount import read_mountinfo, topmost_mount

NODE = "sandbox-node"
NAMESPACE = "sandbox"
DRIVER = "csi.cert-manager.io"

CSIDRIVER_YAML = f"""
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: {DRIVER}
spec:
  attachRequired: false
  podInfoOnMount: true
  fsGroupPolicy: File
  volumeLifecycleModes: [Ephemeral]
"""

KEYSTORE_PASSWORD = "demo-keystore-password"

PODS_YAML = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: Pod
metadata:
  name: my-csi-app
  namespace: {NAMESPACE}
  labels: {{app: my-csi-app}}
spec:
  securityContext: {{fsGroup: 2000}}
  containers:
    - name: my-frontend
      image: busybox
      command: [sleep, "1000000"]
      volumeMounts: [{{name: tls, mountPath: /tls}}]
  volumes:
    - name: tls
      csi:
        driver: {DRIVER}
        readOnly: true
        volumeAttributes:
          csi.cert-manager.io/issuer-name: {CA_ISSUER}
          csi.cert-manager.io/issuer-kind: ClusterIssuer
          csi.cert-manager.io/dns-names: ${{POD_NAME}}.${{POD_NAMESPACE}}.svc.cluster.local
          csi.cert-manager.io/key-usages: server auth,client auth,digital signature,key encipherment
          csi.cert-manager.io/pkcs12-enable: "true"
          csi.cert-manager.io/pkcs12-password: {KEYSTORE_PASSWORD}
---
apiVersion: v1
kind: Pod
metadata:
  name: my-csi-app-short-lived
  namespace: {NAMESPACE}
spec:
  containers:
    - name: client
      image: busybox
      command: [sleep, "1000000"]
      volumeMounts: [{{name: tls, mountPath: /tls}}]
  volumes:
    - name: tls
      csi:
        driver: {DRIVER}
        readOnly: true
        volumeAttributes:
          csi.cert-manager.io/issuer-name: {CA_ISSUER}
          csi.cert-manager.io/issuer-kind: ClusterIssuer
          csi.cert-manager.io/common-name: ${{POD_NAME}}
          csi.cert-manager.io/dns-names: ${{POD_NAME}}.${{POD_NAMESPACE}}.svc.cluster.local
          csi.cert-manager.io/uri-sans: spiffe://cluster.local/ns/${{POD_NAMESPACE}}/pod/${{POD_NAME}}
          csi.cert-manager.io/key-algorithm: ECDSA
          csi.cert-manager.io/key-usages: client auth,digital signature
          csi.cert-manager.io/duration: 30s
          csi.cert-manager.io/renew-before: 20s
"""


class Progress:
    """Numbered, timed steps on stdout so a reader sees where the demo is."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self._out = out
        self._start = time.monotonic()
        self._step = 0

    def step(self, text: str) -> None:
        self._step += 1
        self._out(f"\n[{time.monotonic() - self._start:5.1f}s] {self._step}. {text}")

    def info(self, text: str) -> None:
        self._out(f"         {text}")


def describe_certificate(pem: bytes) -> list[str]:
    chain = parse_pem_chain(pem)
    leaf = chain[0]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        names += [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        names = []
    return [
        f"subject:   {leaf.subject.rfc4514_string() or '(empty)'}",
        f"issuer:    {leaf.issuer.rfc4514_string()}",
        f"SANs:      {', '.join(names) or '(none)'}",
        f"valid:     {leaf.not_valid_before_utc:%Y-%m-%d %H:%M:%S} → {leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC",
        f"serial:    {leaf.serial_number:x}",
    ]


def openssl_verify(ca: Path, cert: Path) -> str:
    if shutil.which("openssl") is None:
        return "openssl not installed: skipped the external check"
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)], capture_output=True, text=True, check=False
    )
    return (result.stdout or result.stderr).strip()


def show_files(progress: Progress, directory: Path) -> None:
    mount = topmost_mount(read_mountinfo(), str(directory))
    if mount is not None:
        mode = "read-only" if "ro" in mount.options else "READ-WRITE"
        progress.info(f"mount:    {mode} bind of a {mount.fs_type} ({mount.root.rsplit('/', 2)[-2][:16]}…/data)")
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".."):
            continue
        st = entry.stat()
        progress.info(f"{entry.name:<14} {oct(st.st_mode & 0o777)} gid={st.st_gid} {st.st_size} bytes")


def keytool_list(keystore: Path, password: str) -> str:
    """What Java sees in the PKCS#12 keystore (the password is the demo's own, printed nowhere)."""
    if shutil.which("keytool") is None:
        return "keytool not installed: skipped"
    result = subprocess.run(
        ["keytool", "-list", "-storetype", "PKCS12", "-keystore", str(keystore), "-storepass", password],
        capture_output=True,
        text=True,
        check=False,
    )
    entries = [line.strip(", ") for line in result.stdout.splitlines() if "Entry" in line]
    return "; ".join(entries) if result.returncode == 0 and entries else (result.stderr or result.stdout).strip()


PeerCheck = Callable[[x509.Certificate], str]


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def pod_tls_context(directory: Path, purpose: ssl.Purpose) -> ssl.SSLContext:
    """A TLS context with the pod's own key pair, trusting only the pod's mounted ca.crt, peer cert required."""
    context = ssl.create_default_context(purpose, cafile=str(directory / "ca.crt"))
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclass(frozen=True)
class TlsExchange:
    """What each side's `PeerCheck` returned about the other, and the line the server sent."""

    server_saw: str
    client_saw: str
    greeting: str


def _peer(transport_info: object) -> x509.Certificate:
    if not isinstance(transport_info, ssl.SSLObject):
        raise TypeError("not a TLS connection")
    der = transport_info.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the peer presented no certificate")
    return x509.load_der_x509_certificate(der)


async def tls_exchange(
    *,
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    server_hostname: str | None,
    check_client: PeerCheck,
    check_server: PeerCheck,
) -> TlsExchange:
    """One TLS connection on loopback; after the handshake each side runs its check on the peer's leaf.

    A check raises to refuse the peer: the server then closes without a word, the client without
    reading; the exception propagates.
    """
    seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            verdict = check_client(_peer(writer.get_extra_info("ssl_object")))
        except Exception as err:  # handed to the caller through the future
            if not seen.done():
                seen.set_exception(err)
            writer.close()
            return
        if not seen.done():  # the client may have given up already
            seen.set_result(verdict)
        writer.write(b"hello from the server pod\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname=server_hostname
        )
        try:
            client_saw = check_server(_peer(writer.get_extra_info("ssl_object")))
            line = (await reader.readline()).decode().strip()
        finally:
            writer.close()
        return TlsExchange(server_saw=await asyncio.wait_for(seen, 5), client_saw=client_saw, greeting=line)
    finally:
        if seen.done() and not seen.cancelled():
            seen.exception()  # marks it retrieved: the client's own refusal already propagates
        seen.cancel()
        server.close()
        await server.wait_closed()


async def mtls_handshake(server_dir: Path, client_dir: Path, server_name: str) -> tuple[str, str]:
    """A TLS 1.3 handshake where each side proves itself with its pod's certificate."""
    exchange = await tls_exchange(
        server_ctx=pod_tls_context(server_dir, ssl.Purpose.CLIENT_AUTH),
        client_ctx=pod_tls_context(client_dir, ssl.Purpose.SERVER_AUTH),
        server_hostname=server_name,
        check_client=common_name,
        check_server=common_name,
    )
    return exchange.server_saw, exchange.greeting


@dataclass(frozen=True)
class RunningDriver:
    """The driver process as its callers need it: where it serves CSI, and its pid (benchmarks read /proc)."""

    endpoint: str
    pid: int


@contextlib.asynccontextmanager
async def child_process(args: Sequence[str], *, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`args` as a child process with stdout and stderr in `log`; terminated (killed after 10 s) on exit."""
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(*args, stdout=sink, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


@contextlib.asynccontextmanager
async def driver_process(
    *,
    workdir: Path,
    kubeconfig: Path,
    unsafe: bool,
    progress: Progress,
    extra_args: Sequence[str] = (),
    command: Sequence[str] = ("driver", "--driver-name", DRIVER),
    driver_name: str = DRIVER,
) -> AsyncIterator[RunningDriver]:
    """`certcsi <command> --node-id ... --endpoint ...` as a child process, once its CSI Probe answers.

    `command` is the subcommand with its driver-name flag (`("spiffe-driver",)` runs the SPIFFE driver);
    `driver_name` names the socket's directory, as kubelet's plugin directory is named.
    """
    socket = workdir / "plugins" / driver_name / "csi.sock"
    socket.parent.mkdir(parents=True)
    endpoint = f"unix://{socket}"
    args = driver_command(
        workdir=workdir, kubeconfig=kubeconfig, unsafe=unsafe, endpoint=endpoint, extra_args=extra_args, command=command
    )
    async with child_process(args, log=workdir / "driver.log") as proc:
        await wait_for_probe(endpoint, proc)
        progress.info(f"driver pid {proc.pid} serving CSI on {socket}")
        yield RunningDriver(endpoint=endpoint, pid=proc.pid)


def driver_command(
    *,
    workdir: Path,
    kubeconfig: Path,
    unsafe: bool,
    endpoint: str,
    extra_args: Sequence[str] = (),
    command: Sequence[str] = ("driver", "--driver-name", DRIVER),
) -> list[str]:
    """The command line `driver_process` runs (benchmarks restart a driver with it on the same data root)."""
    args = [
        sys.executable, "-m", "certcsi", *command,
        "--node-id", NODE, "--endpoint", endpoint,
        "--data-root", str(workdir / "csi-data-dir"), "--kubeconfig", str(kubeconfig),
    ]  # fmt: skip
    if unsafe:
        args.append("--unsafe-no-mount")
    args.extend(extra_args)
    return args


async def wait_for_probe(endpoint: str, proc: asyncio.subprocess.Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(endpoint, options=[("grpc.default_authority", "localhost")]) as channel:
        identity = csi_pb2_grpc.IdentityStub(channel)
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"the driver exited with code {proc.returncode}")
            try:
                await identity.Probe(csi_pb2.ProbeRequest(), timeout=2)
                return
            except grpc.aio.AioRpcError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


async def wait_for_renewal(path: Path, serial: int, timeout: float) -> x509.Certificate:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leaf = parse_pem_chain(path.read_bytes())[0]
        if leaf.serial_number != serial:
            return leaf
        await asyncio.sleep(0.25)
    raise TimeoutError(f"no renewal of {path} within {timeout:g}s")


async def run_demo(*, workdir: Path, out: Callable[[str], None] = print) -> None:
    progress = Progress(out)
    unsafe = announce_mount_mode(out)
    progress.step("Starting the sandbox control plane (API server + cert-manager stand-in)")
    async with Sandbox() as cluster:
        kubeconfig = workdir / "kubeconfig"
        cluster.write_kubeconfig(kubeconfig)
        progress.info(f"API {cluster.url}; ClusterIssuer {CA_ISSUER}; kubeconfig {kubeconfig}")
        progress.step(f"Starting the {DRIVER} driver as its own process")
        async with driver_process(workdir=workdir, kubeconfig=kubeconfig, unsafe=unsafe, progress=progress) as driver:
            kubelet = Kubelet(
                node_name=NODE, root_dir=workdir / "kubelet", drivers={DRIVER: driver.endpoint}, kubeconfig=kubeconfig
            )
            async with kubelet:
                await run_pods(kubelet, cluster, progress)
    progress.step("Done: sandbox stopped, driver stopped, nothing left mounted")


async def run_pods(kubelet: Kubelet, cluster: Sandbox, progress: Progress) -> None:
    progress.step("Applying the CSIDriver object and two example pods")
    await kubelet.apply(CSIDRIVER_YAML)
    await kubelet.apply(PODS_YAML)
    pods = ("my-csi-app", "my-csi-app-short-lived")
    await asyncio.gather(*(kubelet.wait_ready(NAMESPACE, pod, timeout=45) for pod in pods))
    dirs = {pod: kubelet.pod_volume_path(NAMESPACE, pod, "tls") for pod in pods}
    for pod, directory in dirs.items():
        progress.step(f"Files pod {NAMESPACE}/{pod} sees at /tls ({directory})")
        show_files(progress, directory)
        for line in describe_certificate((directory / "tls.crt").read_bytes()):
            progress.info(line)
        progress.info("openssl verify: " + openssl_verify(directory / "ca.crt", directory / "tls.crt"))
        if (directory / "keystore.p12").exists():
            progress.info("keytool -list: " + keytool_list(directory / "keystore.p12", KEYSTORE_PASSWORD))

    short = dirs["my-csi-app-short-lived"] / "tls.crt"
    old = parse_pem_chain(short.read_bytes())[0]
    progress.step("Waiting for the live renewal of the 30s certificate (renew-before 20s)")
    new = await wait_for_renewal(short, old.serial_number, timeout=25)
    progress.info(f"renewed: serial {old.serial_number:x} → {new.serial_number:x}")
    progress.info(f"new validity ends {new.not_valid_after_utc:%H:%M:%S} UTC; the pod's mount never changed")

    progress.step("mTLS between the two pods, each side checking the other's certificate")
    server_name = f"my-csi-app.{NAMESPACE}.svc.cluster.local"
    client_cn, greeting = await mtls_handshake(dirs["my-csi-app"], dirs["my-csi-app-short-lived"], server_name)
    progress.info(f"server verified client certificate CN={client_cn}")
    progress.info(f"client verified server name {server_name} and read: {greeting!r}")

    progress.step("Deleting the pods: volumes unpublished, CertificateRequests garbage-collected")
    await asyncio.gather(*(kubelet.delete_pod(NAMESPACE, pod) for pod in pods))
    from certcsi.sandbox.apiserver.resources import BY_KEY

    left, _ = cluster.store.list(BY_KEY["cert-manager.io/certificaterequests"], NAMESPACE)
    for pod, directory in dirs.items():
        progress.info(f"{pod}: mount {'still there!' if directory.exists() else 'gone'}")
    progress.info(f"CertificateRequests left in {NAMESPACE}: {len(left)}")


def announce_mount_mode(out: Callable[[str], None]) -> bool:
    """True when the driver must run with --unsafe-no-mount (not root), after saying so."""
    unsafe = os.geteuid() != 0
    if unsafe:
        out(
            "NOTE: not running as root, so no tmpfs and no bind mounts: the driver runs with "
            "--unsafe-no-mount (keys on plain disk). Run as root to see the real thing."
        )
    return unsafe


def run_in_workdir(demo: Callable[[Path], Coroutine[Any, Any, None]], *, keep: bool) -> None:
    """`demo(workdir)` on a fresh event loop in a fresh /tmp directory, removed afterwards unless `keep`."""
    workdir = Path(tempfile.mkdtemp(prefix="certcsi-demo-"))
    try:
        asyncio.run(demo(workdir))
    finally:
        if not keep:
            _remove_workdir(workdir)


def main(*, keep: bool = False) -> None:
    run_in_workdir(lambda workdir: run_demo(workdir=workdir), keep=keep)


def _remove_workdir(workdir: Path) -> None:
    tmpfs = workdir / "csi-data-dir" / "inmemfs"
    if os.geteuid() == 0:
        from certcsi.volumes.mount import SyscallMounter

        with contextlib.suppress(OSError):
            SyscallMounter().unmount(tmpfs)
    shutil.rmtree(workdir, ignore_errors=True)
