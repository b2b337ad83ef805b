"""Runs every certcsi container of one upstream chart's rendered manifests against the sandbox; writes a report.

    python upstream_containers_scenario.py csi-driver-spiffe report.json      (in a fresh network namespace)

Each container runs as kubelet would start it: exactly its args, its environment, its working
directory standing in for the container's root (so `unix://plugin/csi.sock` and `csi-data-dir`
land in a temporary directory), and as its ServiceAccount under upstream's rendered RBAC: the
kubeconfig in KUBECONFIG carries a token of that account (the stand-in for the pod's mounted
service account). A pod then mounts a volume of each driver through the sandbox's kubelet.

test_cli_upstream_containers.py starts this in a new network namespace, so the containers bind
their manifests' ports (:9402, :6060) without meeting anything else on the machine; the report
(JSON) holds what was observed, and the test judges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from approver_sandbox_support import request_body, spiffe_id
from cryptography import x509
from netns import loopback_up
from upstream_manifests import RBAC_KINDS, ContainerRun, Obj, certcsi_containers, load

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.kube import connect
from certcsi.sandbox.apiserver.authn import UserInfo
from certcsi.sandbox.apiserver.rbac import Decision, RequestAttributes
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.certmanager import install_ca_cluster_issuer
from certcsi.sandbox.cluster import CA_ISSUER, Sandbox
from certcsi.sandbox.kubelet import Kubelet

NODE = "node-1"
APP_NAMESPACE = "app"
POD_ACCOUNT = "web"
TIMEOUT = 45.0
TLS_MOUNT = {"name": "tls", "mountPath": "/tls"}


async def eventually(check: Callable[[], Any], *, what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check() if asyncio.iscoroutinefunction(check) else check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.1)


def app_objects(chart: str, driver: str) -> list[Obj]:
    """The application side: a namespace, the pod's ServiceAccount (allowed to request, for SPIFFE) and the pod."""
    rbac = "rbac.authorization.k8s.io"
    meta = {"name": POD_ACCOUNT, "namespace": APP_NAMESPACE}
    attributes = (
        {}
        if chart == "csi-driver-spiffe"
        else {
            "csi.cert-manager.io/issuer-name": CA_ISSUER,
            "csi.cert-manager.io/issuer-kind": "ClusterIssuer",
            "csi.cert-manager.io/dns-names": "${POD_NAME}.${POD_NAMESPACE}.svc",
        }
    )
    volume = {"driver": driver, "readOnly": True, **({"volumeAttributes": attributes} if attributes else {})}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP_NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": [{"apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"], "verbs": ["create"]}],
        },
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": POD_ACCOUNT},
            "subjects": [{"kind": "ServiceAccount", "name": POD_ACCOUNT, "namespace": APP_NAMESPACE}],
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": {
                "serviceAccountName": POD_ACCOUNT,
                "containers": [
                    {"name": "app", "image": "busybox", "volumeMounts": [{"name": "tls", "mountPath": "/tls"}]}
                ],
                "volumes": [{"name": "tls", "csi": volume}],
            },
        },
    ]


FORGED = "forged"


async def forge(cluster: Sandbox, admin: Path) -> None:
    """The pod's account asks for another account's SPIFFE ID: the approver must deny it, with an Event."""
    token, _ = cluster.authority.mint(namespace=APP_NAMESPACE, service_account=POD_ACCOUNT, audiences=None)
    body = request_body(FORGED, spiffe_id(APP_NAMESPACE, "someone-else"), issuer="spiffe-ca")
    async with await connect(kubeconfig=str(admin), qps=0, burst=1) as kube:
        await kube.create_certificate_request(APP_NAMESPACE, body, token=token)

    def denied_with_event() -> bool:
        events = cluster.store.list(BY_KEY["/events"], APP_NAMESPACE)[0]
        return any(e["involvedObject"]["name"] == FORGED and e.get("reason") == "Denied" for e in events)

    await eventually(denied_with_event, what="the forged request's Denied event")


class Audit:
    """Every authorization decision of the sandbox, by user."""

    def __init__(self) -> None:
        self.checks: list[dict[str, Any]] = []

    def __call__(self, user: UserInfo, attrs: RequestAttributes, decision: Decision) -> None:
        self.checks.append(
            {
                "user": user.username,
                "verb": attrs.verb,
                "resource": f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource,
                "namespace": attrs.namespace,
                "allowed": decision.allowed,
            }
        )


@contextlib.asynccontextmanager
async def container(run: ContainerRun, *, root: Path, kubeconfig: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`certcsi <argv>` with the container's environment, working in `root` (its "/"), until SIGTERM."""
    root.mkdir(parents=True, exist_ok=True)
    for mount in run.mounts:
        (root / mount.lstrip("/")).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **run.env, "KUBECONFIG": str(kubeconfig)}
    with (root / "container.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "certcsi", *run.argv, cwd=root, env=env, stdout=log, stderr=log
        )
    try:
        yield proc
    finally:
        await stop(proc)


async def stop(proc: asyncio.subprocess.Process, grace: float = 15.0) -> None:
    """As kubelet stops a container: SIGTERM, then SIGKILL once the grace period is over."""
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    exited, _ = await asyncio.wait([asyncio.ensure_future(proc.wait())], timeout=grace)
    if not exited:
        proc.kill()
        await proc.wait()


async def csi_identity(socket_path: Path) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(
        f"unix://{socket_path}", options=[("grpc.default_authority", "localhost")]
    ) as ch:
        stub = csi_pb2_grpc.IdentityStub(ch)
        info = await stub.GetPluginInfo(csi_pb2.GetPluginInfoRequest(), timeout=5)
        probe = await stub.Probe(csi_pb2.ProbeRequest(), timeout=5)
    return {"name": info.name, "version": info.vendor_version, "ready": probe.ready.value}


async def http_get(url: str) -> tuple[int, str] | None:
    try:
        async with aiohttp.ClientSession() as session, session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as got:
            return got.status, await got.text()
    except (aiohttp.ClientError, TimeoutError):
        return None


def port_of(address: str | None) -> int | None:
    return int(address.rsplit(":", 1)[1]) if address and address not in ("0", "") else None


async def observe(run: ContainerRun, root: Path, proc: asyncio.subprocess.Process) -> dict[str, Any]:
    """What the container serves: its CSI socket (drivers), its readiness and metrics endpoints."""
    seen: dict[str, Any] = {"argv": list(run.argv), "cwd": str(root)}

    def alive() -> None:
        if proc.returncode is not None:
            raise RuntimeError(f"{run.container} exited with code {proc.returncode}")

    if run.command in ("driver", "spiffe-driver"):
        endpoint = run.flag("endpoint") or ""
        socket_path = root / endpoint.removeprefix("unix://")

        async def identity() -> dict[str, Any] | None:
            alive()
            with contextlib.suppress(grpc.aio.AioRpcError):
                return await csi_identity(socket_path) if socket_path.exists() else None
            return None

        seen["csi"] = await eventually(identity, what=f"{run.container}'s CSI socket")
        seen["socket"] = str(socket_path)
    for name, path in (("readiness", "/readyz"), ("metrics", "/metrics")):
        port = port_of(run.flag(f"{name}-probe-bind-address" if name == "readiness" else "metrics-bind-address"))
        if port is not None:

            async def get(port: int = port, path: str = path) -> tuple[int, str] | None:
                alive()
                answer = await http_get(f"http://127.0.0.1:{port}{path}")
                return answer if answer and answer[0] == 200 else None

            status, text = await eventually(get, what=f"{run.container} {path} on :{port}")
            seen[name] = {"port": port, "status": status, "body": text[:20000]}
    return seen


def certificate_facts(path: Path) -> dict[str, Any]:
    leaf = x509.load_pem_x509_certificates(path.read_bytes())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {
        "dns": san.get_values_for_type(x509.DNSName),
        "uris": san.get_values_for_type(x509.UniformResourceIdentifier),
        "not_after": leaf.not_valid_after_utc.isoformat(),
    }


async def run_chart(chart: str, workdir: Path) -> dict[str, Any]:
    objects = load(chart)
    runs = certcsi_containers(objects, node=NODE)
    driver = next(o for o in objects if o["kind"] == "CSIDriver")["metadata"]["name"]
    report: dict[str, Any] = {"chart": chart, "containers": {}, "driver": driver}
    audit = Audit()
    # csi-driver-spiffe's chart assumes cert-manager's own approver is off: its approver decides.
    async with Sandbox(approve=chart == "csi-driver") as cluster:
        cluster.authorizer.audit = audit
        for run in runs:
            issuer = run.flag("issuer-name")
            if issuer and cluster.store.find(BY_KEY["cert-manager.io/clusterissuers"], None, issuer) is None:
                install_ca_cluster_issuer(cluster.store, name=issuer)
        admin = workdir / "admin.kubeconfig"
        cluster.write_kubeconfig(admin)
        async with contextlib.AsyncExitStack() as stack:
            applier = Kubelet(node_name="applier", root_dir=workdir / "applier", drivers={}, kubeconfig=admin)
            async with applier:
                await applier.apply([o for o in objects if o["kind"] in RBAC_KINDS])
            procs = {}
            for run in runs:
                token, _ = cluster.authority.mint(
                    namespace=run.namespace, service_account=run.service_account, audiences=None
                )
                kubeconfig = workdir / f"{run.container}.kubeconfig"
                cluster.api.write_kubeconfig(kubeconfig, user_token=token)
                root = workdir / run.container
                procs[run.container] = await stack.enter_async_context(container(run, root=root, kubeconfig=kubeconfig))
                report["containers"][run.container] = await observe(run, root, procs[run.container])
                report["containers"][run.container]["user"] = (
                    f"system:serviceaccount:{run.namespace}:{run.service_account}"
                )
            socket_path = next(c["socket"] for c in report["containers"].values() if "socket" in c)
            kubelet = Kubelet(
                node_name=NODE,
                root_dir=workdir / "kubelet",
                drivers={driver: f"unix://{socket_path}"},
                kubeconfig=admin,
            )
            await stack.enter_async_context(kubelet)
            await kubelet.apply(app_objects(chart, driver))
            await kubelet.wait_ready(APP_NAMESPACE, POD_ACCOUNT, timeout=TIMEOUT)
            report["pod"] = certificate_facts(kubelet.pod_volume_path(APP_NAMESPACE, POD_ACCOUNT, "tls") / "tls.crt")
            if chart == "csi-driver-spiffe":
                await forge(cluster, admin)
            requests = cluster.store.list(BY_KEY["cert-manager.io/certificaterequests"], APP_NAMESPACE)[0]
            report["requests"] = [
                {
                    "name": r["metadata"]["name"],
                    "username": r["spec"].get("username"),
                    "conditions": (r.get("status") or {}).get("conditions"),
                }
                for r in requests
            ]
            lease = cluster.store.find(BY_KEY["coordination.k8s.io/leases"], "cert-manager", driver)
            report["lease_holder"] = (lease or {}).get("spec", {}).get("holderIdentity")
            events = cluster.store.list(BY_KEY["/events"], APP_NAMESPACE)[0]
            report["events"] = [
                {
                    "reason": e.get("reason"),
                    "kind": e["involvedObject"]["kind"],
                    "name": e["involvedObject"]["name"],
                    "source": e.get("source"),
                }
                for e in events
            ]
            report["containers_before_stop"] = {name: p.returncode for name, p in procs.items()}
        report["exit_codes"] = {name: p.returncode for name, p in procs.items()}
        report["lease_after_stop"] = (
            (cluster.store.find(BY_KEY["coordination.k8s.io/leases"], "cert-manager", driver) or {})
            .get("spec", {})
            .get("holderIdentity")
        )
    report["audit"] = audit.checks
    return report


def main() -> None:
    chart, out = sys.argv[1], Path(sys.argv[2])
    loopback_up()
    # Unix socket paths are limited to 108 bytes: keep the working directory short.
    workdir = Path(tempfile.mkdtemp(prefix="upstream-", dir="/tmp"))
    report: dict[str, Any] = {"chart": chart}
    try:
        report = asyncio.run(asyncio.wait_for(run_chart(chart, workdir), 4 * TIMEOUT))
    except BaseException as err:
        report["error"] = f"{type(err).__name__}: {err}"
        raise
    finally:
        report["logs"] = {p.parent.name: p.read_text(errors="replace")[-6000:] for p in workdir.glob("*/container.log")}
        out.write_text(json.dumps(report, indent=1, default=str))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
