"""A Lease API in memory (with resourceVersion conflicts, outages and hangs) and fake-time helpers."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from certcsi.approver.leader import ElectionConfig, LeaderElector, LeaseRecord
from certcsi.errors import KubernetesError
from certcsi.volumes.clock import Cancellable, FakeClock

NAMESPACE = "cert-manager"
NAME = "spiffe.csi.cert-manager.io"
# A power of two, so that steps add up to whole seconds exactly and timers fire on time.
STEP = 1 / 32


class FakeLeases:
    """One namespace's Leases, with kube-apiserver's optimistic concurrency."""

    def __init__(self) -> None:
        self.leases: dict[str, dict[str, Any]] = {}
        self.version = 0
        self.down = False  # every call fails as if the API server were unreachable
        self.hang: asyncio.Event | None = None  # every call waits for this event first
        self.writes: list[dict[str, Any]] = []

    async def _enter(self) -> None:
        if self.hang is not None:
            await self.hang.wait()
        if self.down:
            raise KubernetesError("cannot reach the Kubernetes API", status=None)

    def _store(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.version += 1
        stored = copy.deepcopy(dict(body))
        stored.setdefault("metadata", {})["resourceVersion"] = str(self.version)
        self.leases[name] = stored
        self.writes.append(copy.deepcopy(stored))
        return copy.deepcopy(stored)

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        await self._enter()
        found = self.leases.get(name)
        return copy.deepcopy(found) if found is not None else None

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        await self._enter()
        name = body["metadata"]["name"]
        if name in self.leases:
            raise KubernetesError(f'leases.coordination.k8s.io "{name}" already exists', status=409)
        return self._store(name, body)

    async def update_lease(self, namespace: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        await self._enter()
        current = self.leases.get(name)
        if current is None:
            raise KubernetesError(f'leases.coordination.k8s.io "{name}" not found', status=404)
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise KubernetesError("the object has been modified", status=409)
        return self._store(name, body)

    def record(self, name: str = NAME) -> LeaseRecord:
        return LeaseRecord.of(self.leases[name], default_duration=15.0)

    def set_holder(self, holder: str, *, renew_time: datetime, name: str = NAME, duration: int = 15) -> None:
        """Someone else writes the Lease (a new resourceVersion), as another replica would."""
        stamp = renew_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self._store(
            name,
            {
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "holderIdentity": holder,
                    "leaseDurationSeconds": duration,
                    "acquireTime": stamp,
                    "renewTime": stamp,
                    "leaseTransitions": 0,
                },
            },
        )


class SkewedClock:
    """`base`'s time and timers, but a wall clock `skew` off (another machine's clock)."""

    def __init__(self, base: FakeClock, skew: timedelta) -> None:
        self._base = base
        self._skew = skew

    def now(self) -> datetime:
        return self._base.now() + self._skew

    def monotonic(self) -> float:
        return self._base.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        return self._base.call_later(delay, callback)

    async def sleep(self, seconds: float) -> None:
        await self._base.sleep(seconds)


class Candidate:
    """A LeaderElector running as a task, with a log of its leadership changes."""

    def __init__(
        self,
        api: FakeLeases,
        clock: FakeClock | SkewedClock,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
    ) -> None:
        self.changes: list[tuple[str, float]] = []
        self._mono = clock.monotonic
        config = ElectionConfig(
            namespace=NAMESPACE,
            name=NAME,
            identity=identity,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
        )
        self.elector = LeaderElector(
            api=api,
            config=config,
            clock=clock,
            on_started=lambda: self.changes.append(("started", self._mono())),
            on_stopped=lambda: self.changes.append(("stopped", self._mono())),
            rand=lambda: 0.5,
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run())

    async def kill(self) -> None:
        """Cancel without releasing: a process killed with SIGKILL."""
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    @property
    def leading(self) -> bool:
        return self.elector.leading


async def settle() -> None:
    """Let every task woken so far run until it waits again."""
    for _ in range(30):
        await asyncio.sleep(0)


async def advance(clock: FakeClock, seconds: float, *, step: float = STEP) -> None:
    """Move fake time forward in small steps, letting tasks react at each one."""
    await settle()
    remaining = seconds
    while remaining > 1e-9:
        clock.advance(min(step, remaining))
        remaining -= step
        await settle()


async def advance_until(clock: FakeClock, condition: Callable[[], bool], *, limit: float, step: float = STEP) -> float:
    """Advance until `condition()` holds; the fake seconds that took (AssertionError past `limit`)."""
    start = clock.monotonic()
    await settle()
    while not condition():
        if clock.monotonic() - start > limit:
            raise AssertionError(f"condition not met within {limit} fake seconds")
        clock.advance(step)
        await settle()
    return clock.monotonic() - start
