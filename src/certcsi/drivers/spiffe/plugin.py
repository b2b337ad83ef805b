"""The spiffe.csi.cert-manager.io node process: the driver plus its background work.

`SpiffeOptions` is what `certcsi spiffe-driver` parsed; `build_plugin` turns it into the driver
and the node hooks (`certcsi.volumes.hooks.NodeHook`) that run beside the engine:
- the runtime issuer ConfigMap watch, when a ConfigMap is named (start waits briefly for its
  first list, so the first pods already see the ConfigMap's issuer);
- the CA bundle watcher, when `--source-ca-bundle` is set;
- the SPIFFE Workload API of the opted-in volumes (`workload.WorkloadApi`), which also observes
  every issuance so that renewals reach its streams.
The engine runs with `use_token_request` off: the driver's request plan carries the pod's token
itself (or none with `--use-own-service-account`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from certcsi.drivers.spiffe.bundle import BundleWatcher, CaBundle
from certcsi.drivers.spiffe.driver import DEFAULT_DURATION, DRIVER_NAME, SpiffeDriver
from certcsi.drivers.spiffe.issuer import FLAGS as ISSUER_FLAGS
from certcsi.drivers.spiffe.issuer import RuntimeIssuer, check_issuer_ref
from certcsi.drivers.spiffe.runtime import check_issuer_sources, watch_runtime_issuer
from certcsi.drivers.spiffe.workload.node import WorkloadApi, WorkloadApiOptions
from certcsi.drivers.spiffe.workload.opting import check_socket_name
from certcsi.drivers.spiffe.workload.reading import FileNames
from certcsi.pki.keypool import KeyPool
from certcsi.volumes.driver import IssuerRef
from certcsi.volumes.hooks import NodeHook, NodeServices
from certcsi.volumes.reporting import IssuanceObserver
from certcsi.volumes.store import check_file_name

__all__ = ["SpiffeOptions", "SpiffePlugin", "build_plugin"]

log = logging.getLogger(__name__)

Work = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
# How long start-up waits for the runtime ConfigMap's first list before serving anyway.
ISSUER_SYNC_TIMEOUT = 10.0


@dataclass(frozen=True)
class SpiffeOptions:
    """The driver's own flags (the node flags are `certcsi.nodeplugin.NodeOptions`)."""

    driver_name: str = DRIVER_NAME
    trust_domain: str = "cluster.local"
    certificate_duration: timedelta = DEFAULT_DURATION
    # From --issuer-name/-kind/-group; None when --issuer-name is empty.
    issuer: IssuerRef | None = None
    configmap_name: str = ""
    configmap_namespace: str = ""
    extra_annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    use_own_service_account: bool = False
    certificate_file: str = "tls.crt"
    key_file: str = "tls.key"
    ca_file: str = "ca.crt"
    source_ca_bundle: Path | None = None
    issuer_sync_timeout: float = ISSUER_SYNC_TIMEOUT
    # --strict-attributes: an unknown spiffe.csi.cert-manager.io key fails the volume.
    strict_attributes: bool = False
    workload_api: WorkloadApiOptions = field(default_factory=WorkloadApiOptions)


@dataclass(frozen=True)
class SpiffePlugin:
    """What `run_node_plugin` needs: the driver, its hooks and observers (plus the issuer, for inspection)."""

    driver: SpiffeDriver
    hooks: tuple[NodeHook, ...]
    issuer: RuntimeIssuer
    workload_api: WorkloadApi

    @property
    def observers(self) -> tuple[IssuanceObserver, ...]:
        return (self.workload_api,)


def build_plugin(options: SpiffeOptions, *, keys: KeyPool | None = None) -> SpiffePlugin:
    """Validate across flags and build; ValueError naming the flag. Reads the CA bundle once (must be valid).

    `keys`: the node's key pool (None: each key made when needed).
    """
    check_issuer_sources(
        issuer_name=options.issuer.name if options.issuer else "",
        configmap_name=options.configmap_name,
        configmap_namespace=options.configmap_namespace,
    )
    if options.issuer is not None:
        check_issuer_ref(options.issuer, sources=ISSUER_FLAGS)
    for flag, name in (
        ("--file-name-certificate", options.certificate_file),
        ("--file-name-key", options.key_file),
        ("--file-name-ca", options.ca_file),
    ):
        try:
            check_file_name(name)
        except ValueError as err:
            raise ValueError(f"{flag}: {err}") from None
    files = FileNames(certificate=options.certificate_file, key=options.key_file, ca=options.ca_file)
    try:
        check_socket_name(
            options.workload_api.socket_name,
            file_names={
                "--file-name-certificate": files.certificate,
                "--file-name-key": files.key,
                "--file-name-ca": files.ca,
            },
        )
    except ValueError as err:
        raise ValueError(f"--workload-api-socket-name: {err}") from None
    configmap = (options.configmap_namespace, options.configmap_name) if options.configmap_name else None
    issuer = RuntimeIssuer(options.issuer, configmap=configmap)
    bundle: CaBundle | None = None
    if options.source_ca_bundle is not None:
        bundle = CaBundle(options.source_ca_bundle)
        bundle.load()
    driver = SpiffeDriver(
        issuer=issuer,
        name=options.driver_name,
        trust_domain=options.trust_domain,
        certificate_duration=options.certificate_duration,
        extra_annotations=options.extra_annotations,
        use_own_service_account=options.use_own_service_account,
        certificate_file=options.certificate_file,
        key_file=options.key_file,
        ca_file=options.ca_file,
        ca_bundle=bundle.current if bundle is not None else None,
        strict_attributes=options.strict_attributes,
        keys=keys,
    )
    workload_api = WorkloadApi(
        options=options.workload_api, trust_domain=driver.trust_domain, files=files, fs_group=driver.fs_group
    )
    hooks: list[NodeHook] = []
    if configmap is not None:
        hooks.append(_runtime_issuer_hook(issuer, configmap, sync_timeout=options.issuer_sync_timeout))
    if bundle is not None:
        hooks.append(_bundle_hook(bundle, driver, ca_file=options.ca_file, workload_api=workload_api))
    hooks.append(workload_api.serve)
    return SpiffePlugin(driver=driver, hooks=tuple(hooks), issuer=issuer, workload_api=workload_api)


def _runtime_issuer_hook(issuer: RuntimeIssuer, configmap: tuple[str, str], *, sync_timeout: float) -> NodeHook:
    namespace, name = configmap

    @contextlib.asynccontextmanager
    async def hook(services: NodeServices) -> AsyncIterator[None]:
        synced = asyncio.Event()

        def work(stop: asyncio.Event) -> Coroutine[Any, Any, None]:
            return watch_runtime_issuer(
                kube=services.kube, issuer=issuer, namespace=namespace, name=name, stop=stop, synced=synced
            )

        async with _background(work, what="runtime issuer watch") as task:
            # A slow API server delays serving by at most `sync_timeout`; pods wait meanwhile anyway.
            ready = asyncio.ensure_future(synced.wait())
            await asyncio.wait({ready, task}, timeout=sync_timeout, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if not synced.is_set():
                log.warning(
                    "runtime issuer ConfigMap not listed yet; serving meanwhile with the flags' issuer, if any",
                    extra={"configmap": f"{namespace}/{name}", "waited_s": sync_timeout},
                )
            yield

    return hook


def _bundle_hook(bundle: CaBundle, driver: SpiffeDriver, *, ca_file: str, workload_api: WorkloadApi) -> NodeHook:
    @contextlib.asynccontextmanager
    async def hook(services: NodeServices) -> AsyncIterator[None]:
        watcher = BundleWatcher(
            bundle=bundle,
            store=services.store,
            ca_file=ca_file,
            fs_group=driver.fs_group,
            clock=services.clock,
            on_rewritten=workload_api.files_changed,
        )
        async with _background(watcher.run, what="CA bundle watcher"):
            yield

    return hook


@contextlib.asynccontextmanager
async def _background(work: Work, *, what: str) -> AsyncIterator[asyncio.Task[None]]:
    """Run `work(stop)` as a task for the duration of the block; a crash is logged, never silent."""
    stop = asyncio.Event()
    task: asyncio.Task[None] = asyncio.create_task(work(stop), name=what)

    def report(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None and not stop.is_set():
            log.error("%s stopped unexpectedly", what, exc_info=done.exception())

    task.add_done_callback(report)
    try:
        yield task
    finally:
        stop.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task
