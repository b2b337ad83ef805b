"""Leader election on a coordination.k8s.io/v1 Lease, so that of several approver replicas one acts.

The protocol is client-go's (`tools/leaderelection`): a candidate reads the Lease and takes it when
it is free or has expired (create, or update at the resourceVersion read, so two candidates cannot
both win); the leader renews it every `retry_period`; a leader that has not renewed within
`renew_deadline` of its last successful renewal stops leading at that moment, whatever the API says
later; on a clean shutdown the leader releases the Lease (empty holder, 1 s duration) so a standby
takes over at once instead of waiting out the lease.

Expiry, as in client-go, is judged on the candidate's own monotonic clock from when it saw the
Lease change, never from another machine's timestamps alone. certcsi narrows that observation:
a change seen now must have landed since the previous read, so within that window (at most
`1.2 * retry_period` wide) the record's own `renewTime` places it. A killed leader is therefore
replaced within `lease_duration` of its last renewal rather than up to two retry periods later,
and safety still only needs `renew_deadline + 1.2 * retry_period < lease_duration` (checked), so
the old leader has stopped before anyone can take over, whatever the clock skew.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from certcsi.errors import KubernetesError
from certcsi.timestamps import rfc3339_micro
from certcsi.volumes.clock import Clock, SystemClock

log = logging.getLogger(__name__)

__all__ = ["ElectionConfig", "LeaderElector", "LeaseApi", "LeaseRecord", "default_identity"]

# Standbys poll every retry_period * (1 + up to JITTER), so that replicas started together drift apart.
JITTER = 0.2
RELEASED_DURATION_SECONDS = 1


class LeaseApi(Protocol):
    """The three Lease calls leader election makes (`certcsi.kube.Kube` has them)."""

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    async def update_lease(self, namespace: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]: ...


def default_identity() -> str:
    """hostname_<random>, as client-go's callers build it: unique even for two processes on one host."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True)
class ElectionConfig:
    """Which Lease, who we are, and client-go's timings (15 s / 10 s / 2 s by default)."""

    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        for field, value in (("namespace", self.namespace), ("name", self.name), ("identity", self.identity)):
            if not value:
                raise ValueError(f"leader election {field}: must not be empty")
        if self.retry_period <= 0:
            raise ValueError(f"leader election retry period: must be positive, got {self.retry_period}s")
        if self.renew_deadline <= (1 + JITTER) * self.retry_period:
            raise ValueError(
                f"leader election renew deadline ({self.renew_deadline}s) must be greater than "
                f"{1 + JITTER} x the retry period ({self.retry_period}s)"
            )
        if self.renew_deadline + (1 + JITTER) * self.retry_period >= self.lease_duration:
            raise ValueError(
                f"leader election lease duration ({self.lease_duration}s) must be greater than the renew deadline "
                f"({self.renew_deadline}s) plus {1 + JITTER} x the retry period ({self.retry_period}s), "
                "so that a leader stops before a standby can take over"
            )

    @property
    def lease_duration_seconds(self) -> int:
        """What the Lease records (whole seconds, never rounded down below the configured duration)."""
        return math.ceil(self.lease_duration)


@dataclass(frozen=True)
class LeaseRecord:
    """The fields of a Lease that election reads."""

    holder: str
    duration_seconds: float
    acquire_time: str | None
    renew_time: datetime | None
    transitions: int
    resource_version: str

    @classmethod
    def of(cls, obj: Mapping[str, Any], *, default_duration: float) -> LeaseRecord:
        spec = _mapping(obj.get("spec"))
        meta = _mapping(obj.get("metadata"))
        duration = spec.get("leaseDurationSeconds")
        transitions = spec.get("leaseTransitions")
        acquire = spec.get("acquireTime")
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=float(duration) if isinstance(duration, int) and duration > 0 else default_duration,
            acquire_time=acquire if isinstance(acquire, str) else None,
            renew_time=_parse_time(spec.get("renewTime")),
            transitions=transitions if isinstance(transitions, int) and transitions >= 0 else 0,
            resource_version=str(meta.get("resourceVersion") or ""),
        )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None




class _Outcome(enum.Enum):
    LEADING = "leading"
    HELD_BY_OTHER = "held by another candidate"
    FAILED = "failed"


class LeaderElector:
    """One candidate. `run()` until cancelled; `leading` says, right now, whether it may act.

    `on_started` / `on_stopped` are called (synchronously, on the loop) when leadership begins and
    ends; `leading` is also bounded by time, so a caller that checks it just before acting never
    acts past the renew deadline even if this task is starved.
    """

    def __init__(
        self,
        *,
        api: LeaseApi,
        config: ElectionConfig,
        clock: Clock | None = None,
        on_started: Callable[[], None] = lambda: None,
        on_stopped: Callable[[], None] = lambda: None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._api = api
        self.config = config
        self._clock: Clock = clock or SystemClock()
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._rand = rand
        # Leading until this monotonic time (start of the last successful renewal + renew deadline).
        self._valid_until: float | None = None
        # The Lease as we last wrote it while leading: what release() updates.
        self._mine: LeaseRecord | None = None
        # What we last saw, and our best local estimate of when it changed.
        self._observed_version: str | None = None
        self._observed_at = 0.0
        self._observed_duration = config.lease_duration
        self._previous_read: float | None = None

    @property
    def identity(self) -> str:
        return self.config.identity

    @property
    def leading(self) -> bool:
        return self._valid_until is not None and self._clock.monotonic() < self._valid_until

    async def run(self) -> None:
        """Acquire, lead until renewal fails past the deadline, start over; forever (cancel to stop).

        Cancelling does not release the Lease (call `release()` for a clean hand-over): a cancelled
        elector is what a killed process looks like.
        """
        while True:
            await self._acquire()
            await self._lead()

    async def release(self) -> None:
        """Give the Lease up if we hold it: empty holder and a 1 s duration, so a standby takes over now."""
        mine, self._mine = self._mine, None
        self._stop_leading()
        if mine is None:
            return
        now = rfc3339_micro(self._clock.now())
        body = self._body(
            holder="",
            duration_seconds=RELEASED_DURATION_SECONDS,
            acquire_time=now,
            renew_time=now,
            transitions=mine.transitions,
            resource_version=mine.resource_version,
        )
        try:
            await self._api.update_lease(self.config.namespace, self.config.name, body)
        except KubernetesError as err:
            log.warning("could not release the leader election lease", extra={**self._fields(), "error": str(err)})
            return
        log.info("released the leader election lease", extra=self._fields())

    # -- the two phases ------------------------------------------------------------------------------

    async def _acquire(self) -> None:
        while True:
            started = self._clock.monotonic()
            if await self._try() is _Outcome.LEADING:
                self._start_leading(started)
                return
            await self._clock.sleep(self._poll_delay())

    async def _lead(self) -> None:
        cancelled = False
        try:
            while True:
                await self._clock.sleep(self.config.retry_period)
                if not await self._renew():
                    return
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            if not cancelled:
                # Lost: someone else may hold the Lease now, so there is nothing of ours to release.
                self._mine = None
            self._stop_leading()

    async def _renew(self) -> bool:
        """Retry until a renewal succeeds (True) or the deadline passes / another holder shows (False)."""
        while True:
            assert self._valid_until is not None
            remaining = self._valid_until - self._clock.monotonic()
            if remaining <= 0:
                log.warning("failed to renew the leader election lease in time: stepping down", extra=self._fields())
                return False
            started = self._clock.monotonic()
            outcome = await self._within(remaining, self._try())
            if outcome is _Outcome.LEADING:
                self._valid_until = started + self.config.renew_deadline
                return True
            if outcome is _Outcome.HELD_BY_OTHER:
                log.warning("another candidate holds the leader election lease: stepping down", extra=self._fields())
                return False
            remaining = self._valid_until - self._clock.monotonic()
            if remaining > 0:
                await self._clock.sleep(min(self.config.retry_period, remaining))

    def _start_leading(self, started: float) -> None:
        self._valid_until = started + self.config.renew_deadline
        log.info("became leader", extra=self._fields())
        self._on_started()

    def _stop_leading(self) -> None:
        if self._valid_until is None:
            return
        self._valid_until = None
        log.info("stopped leading", extra=self._fields())
        self._on_stopped()

    # -- one attempt ------------------------------------------------------------------------------

    async def _try(self) -> _Outcome:
        """client-go's tryAcquireOrRenew: one read, then at most one write."""
        try:
            return await self._try_once()
        except KubernetesError as err:
            log.info("leader election attempt failed", extra={**self._fields(), "error": str(err)})
        except Exception:  # a bug here must not end the election for good
            log.exception("unexpected error in leader election", extra=self._fields())
        return _Outcome.FAILED

    async def _try_once(self) -> _Outcome:
        config = self.config
        wall = self._clock.now()
        read_started = self._clock.monotonic()
        current = await self._api.get_lease(config.namespace, config.name)
        if current is None:
            body = self._body(
                holder=config.identity,
                duration_seconds=config.lease_duration_seconds,
                acquire_time=rfc3339_micro(wall),
                renew_time=rfc3339_micro(wall),
                transitions=0,
            )
            created = await self._api.create_lease(config.namespace, body)
            self._mine = self._record(created)
            return _Outcome.LEADING
        record = self._record(current)
        self._observe(record, read_started)
        if record.holder and record.holder != config.identity and not self._expired():
            return _Outcome.HELD_BY_OTHER
        ours = record.holder == config.identity
        body = self._body(
            holder=config.identity,
            duration_seconds=config.lease_duration_seconds,
            acquire_time=record.acquire_time if ours and record.acquire_time else rfc3339_micro(wall),
            renew_time=rfc3339_micro(wall),
            transitions=record.transitions if ours else record.transitions + 1,
            resource_version=record.resource_version,
        )
        updated = await self._api.update_lease(config.namespace, config.name, body)
        self._mine = self._record(updated)
        if not ours:
            log.info("took over the leader election lease", extra={**self._fields(), "previous": record.holder})
        return _Outcome.LEADING

    def _record(self, obj: Mapping[str, Any]) -> LeaseRecord:
        return LeaseRecord.of(obj, default_duration=self.config.lease_duration)

    def _observe(self, record: LeaseRecord, read_started: float) -> None:
        """Note when (on our clock) the Lease last changed; see the module docstring for the window."""
        now = self._clock.monotonic()
        previous, self._previous_read = self._previous_read, read_started
        if record.resource_version == self._observed_version:
            return
        self._observed_version = record.resource_version
        self._observed_duration = record.duration_seconds
        self._observed_at = now
        if previous is None or record.renew_time is None:
            return  # first sight: no local evidence of when it changed, so count from now (client-go)
        age = (self._clock.now() - record.renew_time).total_seconds()
        earliest = max(previous, now - (1 + JITTER) * self.config.retry_period)
        self._observed_at = min(now, max(earliest, now - age))

    def _expired(self) -> bool:
        return self._clock.monotonic() >= self._observed_at + self._observed_duration

    def _poll_delay(self) -> float:
        delay = self.config.retry_period * (1 + JITTER * self._rand())
        until_expiry = self._observed_at + self._observed_duration - self._clock.monotonic()
        # Wake exactly when the holder's lease runs out rather than up to a retry period later.
        return until_expiry if 0 < until_expiry < delay else delay

    async def _within(self, seconds: float, attempt: Awaitable[_Outcome]) -> _Outcome:
        """`attempt`, abandoned (FAILED) when `seconds` pass first on our clock."""
        work = asyncio.ensure_future(attempt)
        timer = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        return work.result() if not work.cancelled() else _Outcome.FAILED

    def _body(
        self,
        *,
        holder: str,
        duration_seconds: int,
        acquire_time: str,
        renew_time: str,
        transitions: int,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.config.name, "namespace": self.config.namespace}
        if resource_version:
            metadata["resourceVersion"] = resource_version
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": duration_seconds,
                "acquireTime": acquire_time,
                "renewTime": renew_time,
                "leaseTransitions": transitions,
            },
        }

    def _fields(self) -> dict[str, str]:
        return {
            "lease": f"{self.config.namespace}/{self.config.name}",
            "identity": self.config.identity,
        }
