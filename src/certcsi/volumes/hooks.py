"""A driver's background work beside the engine, and what it may use (the SPIFFE driver's watchers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from certcsi.kube import Kube
from certcsi.volumes.clock import Clock
from certcsi.volumes.driver import Volume
from certcsi.volumes.store import Store


@dataclass(frozen=True)
class NodeServices:
    """What a driver's own background work may use: the process's API client, volume store and clock, and
    the volumes the engine resumed from the store at start (without secrets)."""

    kube: Kube
    store: Store
    clock: Clock
    volumes: Sequence[Volume] = ()


# A driver's background work (the SPIFFE runtime issuer watch, the CA bundle watcher): entered once
# the volume state is loaded and before the CSI socket serves, exited after it stopped serving.
NodeHook = Callable[[NodeServices], AbstractAsyncContextManager[None]]
