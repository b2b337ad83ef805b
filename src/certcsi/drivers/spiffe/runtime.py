"""Runtime issuer configuration: the named ConfigMap, watched for the driver's whole life.

    ADDED / MODIFIED, valid    -> its issuer is used from every volume's next issuance on
    ADDED / MODIFIED, invalid  -> logged (naming the missing keys); the previous issuer stays
    DELETED                    -> back to the flags' issuer, or none: issuance then fails with
                                  IssuerUnavailable (kubelet retries a publish, renewals back off)

The watch narrows to the one name with a field selector, so RBAC `resourceNames` can grant it.
Starting with neither an issuer flag nor a ConfigMap name is refused (`check_issuer_sources`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from certcsi.drivers.spiffe._stopping import until_stopped
from certcsi.drivers.spiffe.issuer import RuntimeIssuer
from certcsi.kube.watching import WatchEvent
from certcsi.volumes.driver import IssuerRef

__all__ = [
    "NO_ISSUER_SOURCE",
    "ConfigMapWatcher",
    "apply_configmap_event",
    "check_issuer_sources",
    "watch_runtime_issuer",
]

log = logging.getLogger(__name__)

NO_ISSUER_SOURCE = "either --issuer-name or --runtime-issuance-config-map-name must be set"
NO_CONFIGMAP_NAMESPACE = "--runtime-issuance-config-map-namespace must be set with --runtime-issuance-config-map-name"


class ConfigMapWatcher(Protocol):
    """What the watch needs from `certcsi.kube.Kube`."""

    def watch_configmap(self, namespace: str, name: str) -> AsyncIterator[WatchEvent]: ...


def check_issuer_sources(*, issuer_name: str, configmap_name: str, configmap_namespace: str) -> None:
    """ValueError (naming the flags) when no issuer could ever be configured, or the ConfigMap has no namespace."""
    if not issuer_name and not configmap_name:
        raise ValueError(NO_ISSUER_SOURCE)
    if configmap_name and not configmap_namespace:
        raise ValueError(NO_CONFIGMAP_NAMESPACE)


def _describe(issuer: IssuerRef | None) -> str:
    return "none" if issuer is None else f"{issuer.kind}.{issuer.group}/{issuer.name}"


def apply_configmap_event(issuer: RuntimeIssuer, event: WatchEvent, *, configmap: str) -> None:
    """Feed one watch event to `issuer`, logging every change of the active issuer (and every rejection)."""
    before = issuer.current()
    if event.type in ("ADDED", "MODIFIED"):
        problem = issuer.set_from_configmap(event.object.get("data"))
        if problem is not None:
            log.warning(
                "runtime issuer ConfigMap is invalid; keeping the previous issuer",
                extra={"configmap": configmap, "error": problem, "issuer": _describe(before)},
            )
            return
    elif event.type == "DELETED":
        issuer.clear()
    else:  # SYNCED: the first list is complete
        if before is None:
            log.warning(
                "no issuer is configured: issuance waits for the runtime issuer ConfigMap",
                extra={"configmap": configmap},
            )
        return
    after = issuer.current()
    if after != before:
        log.info(
            "issuer changed; it applies from each volume's next issuance",
            extra={"configmap": configmap, "issuer": _describe(after), "source": issuer.source or "none"},
        )
    if after is None:
        log.warning(
            "runtime issuer ConfigMap deleted and no --issuer-name: issuance fails until it is recreated",
            extra={"configmap": configmap},
        )


async def watch_runtime_issuer(
    *,
    kube: ConfigMapWatcher,
    issuer: RuntimeIssuer,
    namespace: str,
    name: str,
    stop: asyncio.Event,
    synced: asyncio.Event | None = None,
) -> None:
    """Keep `issuer` in step with ConfigMap `namespace/name` until `stop` is set.

    `synced` (optional) is set once the first list has been applied, so a caller can wait for the
    ConfigMap's issuer before serving. The watch itself retries forever (certcsi.kube.watching).
    """
    configmap = f"{namespace}/{name}"

    async def follow() -> None:
        async for event in kube.watch_configmap(namespace, name):
            apply_configmap_event(issuer, event, configmap=configmap)
            if event.type == "SYNCED" and synced is not None:
                synced.set()

    await until_stopped(follow(), stop)
