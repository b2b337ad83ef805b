"""Runs the approver process: Kubernetes client, controller, leader election, probes and metrics.

`certcsi approver` parses flags into `ApproverSettings` and calls `run_approver`; tests assemble
the same pieces (`Approver`, `endpoints_for`) around an in-process sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from certcsi.approver.controller import Approver, ControllerOptions, EventPolicy
from certcsi.approver.evaluator import Policy
from certcsi.approver.leader import ElectionConfig, default_identity
from certcsi.approver.metrics import CONTENT_TYPE_LATEST
from certcsi.drivers.spiffe.issuer import RuntimeIssuer
from certcsi.endpoints import BindAddress, Handler, HttpEndpoint, metrics_handler, probe
from certcsi.kube import connect
from certcsi.kube.config import ClientConfig
from certcsi.kube.watching import WatchEvent
from certcsi.redact import SecretScrubber

log = logging.getLogger(__name__)

__all__ = ["ApproverSettings", "default_namespace", "endpoints_for", "follow_runtime_issuer", "run_approver"]

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# Upstream's default for --leader-election-namespace.
FALLBACK_NAMESPACE = "cert-manager"


@dataclass(frozen=True)
class ApproverSettings:
    policy: Policy
    # The Lease is named after the driver, as upstream's approver names it.
    driver_name: str
    leader_election_namespace: str
    kubeconfig: str | ClientConfig | None = None  # a path, or the command line's connection flags
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    metrics_address: BindAddress | None = None
    readiness_address: BindAddress | None = None
    # (namespace, name) of the runtime issuer ConfigMap, followed for --auto-approve-non-spiffe.
    runtime_configmap: tuple[str, str] | None = None
    kube_api_qps: float = 500.0
    kube_api_burst: int = 1000
    workers: int = 16
    events: EventPolicy = "denials"
    identity: str | None = None


def default_namespace(environ: dict[str, str] | None = None, account_file: Path = SERVICE_ACCOUNT_NAMESPACE) -> str:
    """The pod's own namespace ($POD_NAMESPACE, else the mounted service account's), else upstream's default."""
    env = os.environ if environ is None else environ
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    with contextlib.suppress(OSError, UnicodeDecodeError):
        found = account_file.read_text(encoding="utf-8").strip()
        if found:
            return found
    return FALLBACK_NAMESPACE


def endpoints_for(
    approver: Approver, *, readiness: BindAddress | None, metrics: BindAddress | None
) -> list[HttpEndpoint]:
    """The /readyz + /healthz server and the /metrics server (one server when both share an address)."""
    servers: dict[BindAddress, dict[str, Handler]] = {}
    if readiness is not None:
        servers[readiness] = {
            "/readyz": probe(lambda: approver.ready and approver.alive, failing="certificate requests not synced yet"),
            "/healthz": probe(lambda: approver.alive, failing="a controller task has stopped"),
        }
    if metrics is not None:
        routes = servers.setdefault(metrics, {})
        routes["/metrics"] = metrics_handler(approver.metrics.scrape, CONTENT_TYPE_LATEST)
    return [
        HttpEndpoint(name="metrics" if "/metrics" in routes else "readiness", address=address, routes=routes)
        for address, routes in servers.items()
    ]


async def follow_runtime_issuer(
    *, events: AsyncIterator[WatchEvent], runtime: RuntimeIssuer, approver: Approver
) -> None:
    """Keep the approver's SPIFFE issuer equal to the runtime ConfigMap's (the flags' when it is gone)."""
    async for event in events:
        if event.type == "SYNCED":
            continue
        if event.type == "DELETED":
            runtime.clear()
            fallback = repr(runtime.current())
            log.info("runtime issuer ConfigMap deleted, using the flags' issuer", extra={"issuer": fallback})
        else:
            data = event.object.get("data")
            problem = runtime.set_from_configmap(data if isinstance(data, dict) else None)
            if problem is not None:
                log.warning("invalid runtime issuer ConfigMap, keeping the previous issuer", extra={"error": problem})
        approver.set_issuer(runtime.current())


async def run_approver(settings: ApproverSettings, *, stop: asyncio.Event) -> None:
    """The approver process until `stop` is set (SIGTERM): then stop approving and release the Lease."""
    scrubber = SecretScrubber()
    for handler in logging.getLogger().handlers:
        handler.addFilter(scrubber)
    kube = await connect(kubeconfig=settings.kubeconfig, qps=settings.kube_api_qps, burst=settings.kube_api_burst)
    election = ElectionConfig(
        namespace=settings.leader_election_namespace,
        name=settings.driver_name,
        identity=settings.identity or default_identity(),
        lease_duration=settings.lease_duration,
        renew_deadline=settings.renew_deadline,
        retry_period=settings.retry_period,
    )
    approver = Approver(
        api=kube,
        policy=settings.policy,
        options=ControllerOptions(election=election, workers=settings.workers, events=settings.events),
    )
    endpoints = endpoints_for(approver, readiness=settings.readiness_address, metrics=settings.metrics_address)
    follower: asyncio.Task[None] | None = None
    try:
        for endpoint in endpoints:
            await endpoint.start()
        if settings.runtime_configmap is not None:
            namespace, name = settings.runtime_configmap
            runtime = RuntimeIssuer(settings.policy.issuer_ref, configmap=settings.runtime_configmap)
            follower = asyncio.create_task(
                follow_runtime_issuer(events=kube.watch_configmap(namespace, name), runtime=runtime, approver=approver)
            )
        log.info(
            "approver starting",
            extra={
                "trust_domain": settings.policy.trust_domain,
                "lease": f"{election.namespace}/{election.name}",
                "identity": election.identity,
            },
        )
        await approver.run(stop)
    finally:
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        for endpoint in endpoints:
            await endpoint.stop()
        await kube.close()
