"""Runs one node plugin process: data root, Kubernetes client, issuance, engine and CSI socket.

Both drivers run through `run_node_plugin`; they differ in the `Driver` they pass and in the
background hooks they add (the SPIFFE driver's runtime issuer and CA bundle watchers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from certcsi import __version__
from certcsi.collector import collector_paused
from certcsi.csi.identity import IdentityServicer
from certcsi.csi.node import NodeServicer
from certcsi.csi.server import CsiServer
from certcsi.kube import connect
from certcsi.kube.config import ClientConfig
from certcsi.observability.node import NodeTelemetry
from certcsi.pki.keypool import KeyPool
from certcsi.redact import SecretScrubber
from certcsi.volumes.clock import Clock, SystemClock
from certcsi.volumes.driver import Driver
from certcsi.volumes.gates import DEFAULT_GATE_BACKOFF, Gate, GateSet, PodGates, PodsApi
from certcsi.volumes.hooks import NodeHook, NodeServices
from certcsi.volumes.issuance import Issuance
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import DEFAULT_TMPFS_SIZE, DirectoryMounter, Mounter, SyscallMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.reporting import IssuanceObserver, Observers
from certcsi.volumes.schedule import Backoff, RateBudget
from certcsi.volumes.store import DataRootUnusable, ScanResult, Store

if TYPE_CHECKING:  # its aiohttp server is imported only when an address is served
    from certcsi.endpoints import BindAddress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeOptions:
    node_id: str
    endpoint: str
    data_root: Path
    kubeconfig: str | ClientConfig | None  # a path, or the command line's connection flags
    kube_api_qps: float = 50.0
    kube_api_burst: int = 100
    # timeoutSeconds of every watch request (None: 30-45 s at random); a watch silent longer is dead.
    kube_watch_timeout: int | None = None
    use_token_request: bool = False
    issue_timeout: float = 60.0
    max_requests_per_volume: int = 1
    # Plain directories and symlinks instead of tmpfs and bind mounts: keys reach the disk. Demo only.
    unsafe_no_mount: bool = False
    # The size limit of <data-root>/inmemfs (tmpfs syntax); None: the kernel's default, half of RAM.
    tmpfs_size: str | None = DEFAULT_TMPFS_SIZE
    # Pod readiness gates (all must pass before issuance); none: no pod watch at all.
    pod_readiness_gates: tuple[Gate, ...] = ()
    continue_on_not_ready: bool = False
    gate_backoff: Backoff = DEFAULT_GATE_BACKOFF
    # /metrics, /healthz and /readyz (--metrics-bind-address); /healthz and /readyz alone
    # (--readiness-probe-bind-address). None: not served.
    metrics_address: BindAddress | None = None
    readiness_address: BindAddress | None = None


def install_log_scrubber() -> None:
    """Defence in depth: no handler of this process may print a token or a private key."""
    scrubber = SecretScrubber()
    for handler in logging.getLogger().handlers:
        # Once per handler: each scrubber rewalks every record (a sixth of a log line's cost).
        if not any(isinstance(existing, SecretScrubber) for existing in handler.filters):
            handler.addFilter(scrubber)


def build_gates(options: NodeOptions, *, kube: PodsApi, clock: Clock) -> PodGates | None:
    """The node's readiness gates; None without any, so nothing watches pods (and no pod RBAC is needed)."""
    if not options.pod_readiness_gates:
        return None
    return PodGates(
        kube=kube,
        node_id=options.node_id,
        gates=GateSet(options.pod_readiness_gates),
        clock=clock,
        backoff=options.gate_backoff,
    )


async def run_node_plugin(
    *,
    driver: Driver,
    options: NodeOptions,
    stop: asyncio.Event,
    hooks: Sequence[NodeHook] = (),
    observers: Sequence[IssuanceObserver] = (),
    keys: KeyPool | None = None,
) -> None:
    """Run until `stop` is set; exits the process (status 1) when the data root cannot be used.

    `observers` are told of every issuance beside the telemetry (the SPIFFE Workload API's pushes).
    `keys` is the driver's key pool: its keys are dropped on the way out.
    """
    install_log_scrubber()
    if options.unsafe_no_mount:
        log.warning(
            "UNSAFE: --unsafe-no-mount writes private keys to plain directories on disk and links them "
            "into pods without read-only bind mounts; never use it on a real node"
        )
    mounter: Mounter = DirectoryMounter() if options.unsafe_no_mount else SyscallMounter()
    try:
        owner = Owner.of(driver)
    except ValueError as err:
        log.error("refusing to start", extra={"error": str(err)})
        raise SystemExit(1) from None
    store = Store(data_root=options.data_root, mounter=mounter, owner=owner, tmpfs_size=options.tmpfs_size)
    try:
        # First of all, before a socket or a port is taken: a second process of this driver, or an
        # unusable data root, stops here (another driver may share the data root). The scan makes an
        # object or more per volume and no cycles: the collector would only rescan them (as in Manager.start).
        with collector_paused():
            scan = store.open()
        await _serve(
            scan=scan,
            driver=driver,
            options=options,
            stop=stop,
            hooks=hooks,
            observers=observers,
            mounter=mounter,
            store=store,
            keys=keys,
        )
    except DataRootUnusable as err:
        log.error("refusing to start", extra={"data_root": str(options.data_root), "error": str(err)})
        raise SystemExit(1) from None
    finally:
        store.close()
        if keys is not None:
            keys.close()


async def _serve(
    *,
    driver: Driver,
    options: NodeOptions,
    stop: asyncio.Event,
    hooks: Sequence[NodeHook],
    observers: Sequence[IssuanceObserver],
    mounter: Mounter,
    store: Store,
    scan: ScanResult,
    keys: KeyPool | None,
) -> None:
    clock = SystemClock()
    # The flags budget issuance (creates); the client itself gets headroom for prunes and watches, so
    # one budget is not spent twice (upstream's 5 QPS client throttled under churn, csi-driver#627).
    kube = await connect(
        kubeconfig=options.kubeconfig,
        qps=2 * options.kube_api_qps,
        burst=2 * options.kube_api_burst,
        watch_timeout_seconds=options.kube_watch_timeout,
    )
    telemetry = NodeTelemetry(
        kube=kube,
        node_id=options.node_id,
        component=driver.name,
        metrics_address=options.metrics_address,
        readiness_address=options.readiness_address,
        keys=keys,
    )
    issuance = Issuance(
        kube=telemetry.requests,
        node_id=options.node_id,
        max_requests_per_volume=options.max_requests_per_volume,
        timeout=options.issue_timeout,
    )
    gates = build_gates(options, kube=kube, clock=clock)
    manager = Manager(
        driver=driver,
        store=store,
        mounter=mounter,
        issuance=issuance,
        clock=clock,
        rate=RateBudget(qps=options.kube_api_qps, burst=options.kube_api_burst, clock=clock),
        use_token_request=options.use_token_request,
        issue_timeout=options.issue_timeout,
        gates=gates,
        continue_on_not_ready=options.continue_on_not_ready,
        observer=Observers(telemetry.observer, *observers) if observers else telemetry.observer,
    )
    telemetry.attach(manager=manager, issuance=issuance, now=clock.now)
    server = CsiServer(
        endpoint=options.endpoint,
        identity=IdentityServicer(name=driver.name, version=__version__, not_ready=manager.ready),
        node=NodeServicer(node_id=options.node_id, backend=manager),
    )
    background = contextlib.AsyncExitStack()
    try:
        # Probes and metrics answer from the start; /readyz says what is still missing.
        await telemetry.start()
        # Serve CSI even while the API server is unreachable: Probe must not fail for that (the
        # livenessprobe sidecar would restart a healthy driver); publishes answer NotReady until synced,
        # and renewals already due wait in the manager until the watches have listed.
        await issuance.start(wait_synced=False)
        if gates is not None:
            await gates.start()
        await manager.start(scan)
        # Only a driver with hooks (the SPIFFE Workload API) reads them: a restart of 10,000 volumes need not copy them.
        resumed = tuple(view.volume for view in manager.snapshot()) if hooks else ()
        services = NodeServices(kube=kube, store=store, clock=clock, volumes=resumed)
        for hook in hooks:
            await background.enter_async_context(hook(services))
        await server.start()
        log.info(
            "driver ready", extra={"driver": driver.name, "node_id": options.node_id, "endpoint": options.endpoint}
        )
        await stop.wait()
    finally:
        await server.stop(grace=5)
        await background.aclose()
        await manager.stop()
        if gates is not None:
            await gates.stop()
        await issuance.stop()
        await telemetry.stop()
        await kube.close()
