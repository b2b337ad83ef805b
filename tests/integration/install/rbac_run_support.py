"""The rendered install, running against the sandbox under exactly its own ServiceAccounts.

    async with installed(CONFIGS["csi-driver"]) as env:   # objects applied, driver (+ approver) running
        await env.kubelet.apply(env.pod_yaml("web", APP_NAMESPACE))
        await env.kubelet.wait_ready(APP_NAMESPACE, "web")
        env.audit.checks(env.accounts)                      # every permission check of theirs

What runs is what the Helm chart (deploy/charts) renders: the RBAC objects, ServiceAccounts and CSIDriver are
created through the API; the driver container's (and the approver container's) command and args
are taken from the rendered DaemonSet (Deployment), with `$(NODE_ID)`-style references expanded
and the container's mount paths moved to a temporary directory; each process authenticates with a
token minted for its rendered ServiceAccount. Only `--kubeconfig` (in-cluster config does not
exist here) and `--unsafe-no-mount` are added: these runs are about API permissions, not mounts,
so they need no root (the e2e suite covers tmpfs and bind mounts). Ports are chosen free through
the chart's own values (`metrics.port`, ...), never by editing the rendered flags.

csi.cert-manager.io runs with cert-manager's approver off and a stand-in for an approval policy
(approver-policy, say) that denies every request in REJECTED_NAMESPACE, so that a pod's issuance
can fail (and be reported on the Pod) without waiting for a timeout. csi-driver-spiffe runs with
its own approver; the sandbox asks the same (audited) authorizer whether it may `approve` for the
issuer's `signers`, as cert-manager's webhook does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from helm_charts import container, find
from rbac_proof_support import (
    RUNTIME_CONFIG_MAP,
    SANDBOX_ISSUER,
    AuditLog,
    Config,
    Obj,
    RuleVerb,
    command_line,
    rendered,
    without_verb,
    workload_account,
)

from certcsi.kube import Kube, connect
from certcsi.sandbox.apiserver.resources import BY_KEY, CERT_MANAGER
from certcsi.sandbox.apiserver.storage import Store, Watch, now_rfc3339
from certcsi.sandbox.certmanager import conditions as cond
from certcsi.sandbox.certmanager.approver import needs_approval
from certcsi.sandbox.certmanager.watching import key_of, run_watch, write_status
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.demo import NODE, Progress, driver_process
from certcsi.sandbox.kubelet import Kubelet

log = logging.getLogger(__name__)

APP_NAMESPACE = "install-app"
REJECTED_NAMESPACE = "install-rejected"  # csi.cert-manager.io: the policy stand-in denies every request here
POD_ACCOUNT = "web"  # may create CertificateRequests (the pod's own RBAC, not the chart's)
NO_RBAC_ACCOUNT = "nobody"  # may not
POLICY_DENIAL = f"Denied request: namespace {REJECTED_NAMESPACE} may not have certificates"
REQUESTS = BY_KEY[f"{CERT_MANAGER}/certificaterequests"]
EVENTS = BY_KEY["/events"]
# Kinds `kubectl apply` of the install would create that the sandbox serves; workloads are run here instead.
APPLIED_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "CSIDriver")
# The directory driver_process serves its socket from: the plugin-dir hostPath on this "node".
_PLUGIN_DIR = Path("plugins") / "csi.cert-manager.io"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_values(config: Config) -> tuple[list[str], int | None]:
    """`--set`s giving every listening port of the install a free one; and the approver's readiness port."""
    if config.chart == "csi-driver":
        return [f"metrics.port={free_port()}"], None
    readiness = free_port()
    return [f"app.approver.metrics.port={free_port()}", f"app.approver.readinessProbe.port={readiness}"], readiness


async def eventually(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Wait for state held by other processes or tasks (nothing to await on); AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.05)


# -- stand-ins for the rest of the cluster ---------------------------------------------------------


class PolicyApprover:
    """An approval policy in the store's own process: approves every request but REJECTED_NAMESPACE's."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._watch: Watch | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._watch = self._store.watch(REQUESTS, None, since=None)
        self._task = asyncio.create_task(run_watch(self._watch, self._decide, log=log))

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def _decide(self, event_type: str, obj: Obj) -> None:
        namespace, name = key_of(obj)
        current = self._store.find(REQUESTS, namespace, name)
        if event_type == "DELETED" or current is None or not needs_approval(current):
            return
        denied = namespace == REJECTED_NAMESPACE
        verdict = (cond.DENIED, POLICY_DENIAL) if denied else (cond.APPROVED, "Approved by the test policy")

        def decide(status: Obj) -> None:
            kind, message = verdict
            cond.set_condition(
                status, type_=kind, status_value=cond.TRUE, reason="policy.test", message=message, now=now_rfc3339()
            )

        write_status(self._store, REQUESTS, current, decide, log=log)


# -- the processes, as the rendered containers ----------------------------------------------------


@contextlib.asynccontextmanager
async def approver_process(
    *, argv: Sequence[str], log_path: Path, readiness_port: int
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`certcsi approver ...` as a child process, once its /readyz answers 200."""
    with log_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "certcsi", *argv, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            await _wait_ready(f"http://127.0.0.1:{readiness_port}/readyz", proc)
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def _wait_ready(url: str, proc: asyncio.subprocess.Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"the approver exited with code {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not ready after {timeout:g}s")
            await asyncio.sleep(0.1)


@dataclass
class Installed:
    """The install applied and running; what a scenario needs to drive and observe it."""

    config: Config
    objects: list[Obj]
    cluster: Sandbox
    kubelet: Kubelet
    audit: AuditLog
    accounts: tuple[str, ...]  # usernames of the driver's (and the approver's) ServiceAccount
    workdir: Path
    admin: Kube | None = None  # a client as the cluster admin
    approver: asyncio.subprocess.Process | None = None  # csi-driver-spiffe's approver

    @property
    def driver_name(self) -> str:
        name: str = find(self.objects, "CSIDriver")["metadata"]["name"]
        return name

    def pod_yaml(self, name: str, namespace: str, account: str = POD_ACCOUNT) -> str:
        attributes = (
            ""
            if self.config.chart == "csi-driver-spiffe"
            else f"""
        volumeAttributes:
          csi.cert-manager.io/issuer-name: {SANDBOX_ISSUER}
          csi.cert-manager.io/issuer-kind: ClusterIssuer
          csi.cert-manager.io/dns-names: ${{POD_NAME}}.${{POD_NAMESPACE}}.svc.cluster.local
          csi.cert-manager.io/duration: 3s"""
        )
        return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  serviceAccountName: {account}
  containers: [{{name: app, image: busybox, volumeMounts: [{{name: tls, mountPath: /tls}}]}}]
  volumes:
    - name: tls
      csi:
        driver: {self.driver_name}
        readOnly: true{attributes}
"""

    def requests(self, namespace: str) -> list[Obj]:
        found, _ = self.cluster.store.list(REQUESTS, namespace)
        return list(found)

    def events(self, namespace: str, involved: str, *, component: str | None = None) -> list[Obj]:
        """Events about object `involved` in `namespace` (from `component` only, when given)."""
        found, _ = self.cluster.store.list(EVENTS, namespace)
        return [
            e
            for e in found
            if (e.get("involvedObject") or {}).get("name") == involved
            and component in (None, (e.get("source") or {}).get("component"))
        ]

    def log_text(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.workdir.glob("*.log"))
        )


def _cluster_objects(config: Config, objects: Iterable[Obj]) -> list[Obj]:
    """What gets applied: the install's own objects, then the application side the scenarios use."""
    applied = [o for o in objects if o["kind"] in APPLIED_KINDS]
    namespaces = [APP_NAMESPACE] + ([REJECTED_NAMESPACE] if config.chart == "csi-driver" else [])
    for namespace in namespaces:
        applied.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        for account in (POD_ACCOUNT, NO_RBAC_ACCOUNT):
            applied.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(account, namespace)})
        applied += _may_request(namespace)
    if any(s.startswith("app.runtimeIssuanceConfigMap=") for s in config.sets):
        data = {"issuer-name": SANDBOX_ISSUER, "issuer-kind": "ClusterIssuer", "issuer-group": CERT_MANAGER}
        namespace = find(objects, "DaemonSet")["metadata"]["namespace"]
        applied.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(RUNTIME_CONFIG_MAP, namespace), "data": data}
        )
    return applied


def _meta(name: str, namespace: str) -> Obj:
    return {"name": name, "namespace": namespace}


def _may_request(namespace: str) -> list[Obj]:
    """The application's RBAC: POD_ACCOUNT may create CertificateRequests in its namespace."""
    rbac = "rbac.authorization.k8s.io"
    rule = {"apiGroups": [CERT_MANAGER], "resources": ["certificaterequests"], "verbs": ["create"]}
    return [
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "Role",
            "metadata": _meta("request-certificates", namespace),
            "rules": [rule],
        },
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": _meta("request-certificates", namespace),
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "request-certificates"},
            "subjects": [{"kind": "ServiceAccount", "name": POD_ACCOUNT, "namespace": namespace}],
        },
    ]


def _token_kubeconfig(cluster: Sandbox, username: str, path: Path) -> Path:
    """A kubeconfig carrying a fresh token of the ServiceAccount `username` (bound to nothing, default audience)."""
    _, _, rest = username.partition("system:serviceaccount:")
    namespace, _, account = rest.partition(":")
    token, _ = cluster.authority.mint(namespace=namespace, service_account=account, audiences=None)
    cluster.api.write_kubeconfig(path, user_token=token)
    return path


@contextlib.asynccontextmanager
async def installed(config: Config, *, drop: Sequence[RuleVerb] = ()) -> AsyncIterator[Installed]:
    """Render `config` (without the `drop`ped verbs), apply it, and run its driver (and approver)."""
    # Unix socket paths are limited to 108 bytes; pytest's tmp_path can be longer.
    workdir = Path(tempfile.mkdtemp(prefix="install-rbac-", dir="/tmp"))
    ports, readiness_port = port_values(config)
    objects = rendered(config, ports)
    for dropped in drop:
        objects = without_verb(objects, dropped)
    kinds = ("DaemonSet", "Deployment") if readiness_port is not None else ("DaemonSet",)
    accounts = tuple(workload_account(objects, kind) for kind in kinds)
    try:
        async with Sandbox(approve=False) as cluster, _approval(cluster, config) as audit:
            admin_config = workdir / "admin.kubeconfig"
            cluster.write_kubeconfig(admin_config)
            await _apply(admin_config, _cluster_objects(config, objects))
            endpoint = f"unix://{workdir / _PLUGIN_DIR / 'csi.sock'}"
            kubelet = Kubelet(
                node_name=NODE,
                root_dir=workdir / "kubelet",
                drivers={find(objects, "CSIDriver")["metadata"]["name"]: endpoint},
                kubeconfig=admin_config,
            )
            env = Installed(config, objects, cluster, kubelet, audit, accounts, workdir)
            try:
                # The kubelet stops first: in-flight CSI calls end with it, not after the driver's grace.
                async with (
                    await connect(kubeconfig=str(admin_config), qps=0, burst=1) as env.admin,
                    _driver(env, endpoint),
                    _approver(env, readiness_port) as env.approver,
                    kubelet,
                ):
                    yield env
            except BaseException:
                print(env.log_text())  # pytest shows it for a failing test only
                raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.asynccontextmanager
async def _approval(cluster: Sandbox, config: Config) -> AsyncIterator[AuditLog]:
    """The audit log on the sandbox's authorizer; for csi.cert-manager.io, the approval policy stand-in."""
    audit = AuditLog()
    cluster.authorizer.audit = audit
    if config.chart == "csi-driver-spiffe":
        yield audit  # the install's own approver decides
        return
    policy = PolicyApprover(cluster.store)
    policy.start()
    try:
        yield audit
    finally:
        await policy.stop()


async def _apply(admin_config: Path, objects: list[Obj]) -> None:
    """Create `objects` through the API as the cluster admin would (`kubectl apply`)."""
    applier = Kubelet(
        node_name="applier", root_dir=admin_config.parent / "applier", drivers={}, kubeconfig=admin_config
    )
    async with applier:
        await applier.apply(objects)


@contextlib.asynccontextmanager
async def _driver(env: Installed, endpoint: str) -> AsyncIterator[None]:
    daemonset = find(env.objects, "DaemonSet")
    default = daemonset["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"]
    command, args = command_line(
        container(daemonset, default),
        pod_fields={"spec.nodeName": NODE},
        volumes={"plugin-dir": env.workdir / _PLUGIN_DIR, "csi-data-dir": env.workdir / "csi-data-dir"},
    )
    assert command[0] == "certcsi" and f"--endpoint={endpoint}" in args, (command, args)
    kubeconfig = _token_kubeconfig(env.cluster, env.accounts[0], env.workdir / "driver.kubeconfig")
    # driver_process puts --node-id, --endpoint and --data-root first, with the values the args repeat.
    async with driver_process(
        workdir=env.workdir,
        kubeconfig=kubeconfig,
        unsafe=True,
        progress=Progress(lambda _: None),
        command=tuple(command[1:]),
        extra_args=args,
    ):
        yield


@contextlib.asynccontextmanager
async def _approver(env: Installed, readiness_port: int | None) -> AsyncIterator[asyncio.subprocess.Process | None]:
    if readiness_port is None:
        yield None
        return
    deployment = find(env.objects, "Deployment")
    [spec] = deployment["spec"]["template"]["spec"]["containers"]
    command, args = command_line(
        spec, pod_fields={"metadata.namespace": deployment["metadata"]["namespace"]}, volumes={}
    )
    assert command[0] == "certcsi", command
    kubeconfig = _token_kubeconfig(env.cluster, env.accounts[1], env.workdir / "approver.kubeconfig")
    argv = [*command[1:], *args, f"--kubeconfig={kubeconfig}"]
    async with approver_process(
        argv=argv, log_path=env.workdir / "approver.log", readiness_port=readiness_port
    ) as proc:
        yield proc
