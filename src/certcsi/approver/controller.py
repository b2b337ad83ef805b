"""The approver controller: one watch of every CertificateRequest; the leader decides each pending one.

    watch ──► undecided requests (latest version of each) ──► work queue ──► N workers:
              evaluate (pure) ──► Approved / Denied condition through the status subresource

Every replica watches (so a standby is ready and synced the moment it takes over); only the one
holding the Lease writes, and it checks that it still does right before each write. A verdict is
written at the resourceVersion it was made at: a 409 means the request changed, so it is re-read
and evaluated again. A failed live Pod lookup (own-service-account mode) is retried with backoff,
never turned into a Denied condition, because that one is final.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from certcsi.approver.evaluator import (
    CONDITION_REASON,
    IDENTITY_ANNOTATION,
    PodIdentity,
    PodLookupError,
    Policy,
    Verdict,
    evaluate,
)
from certcsi.approver.leader import ElectionConfig, LeaderElector, LeaseApi
from certcsi.approver.metrics import ApproverMetrics
from certcsi.approver.queueing import WorkQueue
from certcsi.errors import KubernetesError
from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.kube.watching import Backoff, WatchEvent
from certcsi.volumes.clock import Cancellable, Clock, SystemClock
from certcsi.volumes.driver import IssuerRef

log = logging.getLogger(__name__)

__all__ = ["EVENT_POLICIES", "ApprovalApi", "Approver", "ControllerOptions", "EventPolicy"]

Obj = dict[str, Any]
Key = tuple[str, str]

COMPONENT = "certcsi-approver"
# How soon a request put aside because this replica was not leading is looked at again.
NOT_LEADING_RECHECK = 0.5
EventPolicy = Literal["none", "denials", "all"]
EVENT_POLICIES: tuple[EventPolicy, ...] = ("none", "denials", "all")
_DECIDED = ("Approved", "Denied")


class ApprovalApi(LeaseApi, Protocol):
    """Every Kubernetes call the approver makes (`certcsi.kube.Kube` has them all)."""

    def watch_all_certificate_requests(self) -> AsyncIterator[WatchEvent]: ...

    async def read_certificate_request(self, namespace: str, name: str) -> Obj | None: ...

    async def set_condition(
        self,
        namespace: str,
        name: str,
        condition: Mapping[str, Any],
        resource_version: str,
        *,
        existing: Sequence[Mapping[str, Any]] = (),
        current: Mapping[str, Any] | None = None,
    ) -> Obj: ...

    async def get_pod(self, namespace: str, name: str) -> Obj | None: ...

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str
    ) -> None: ...


@dataclass(frozen=True)
class ControllerOptions:
    """How the controller runs; `election` None means "always lead" (a single replica, tests, benches)."""

    election: ElectionConfig | None = None
    # Requests decided at once at most (each decision is one evaluation and one or two API calls).
    workers: int = 16
    # Delay before a request whose decision could not be written (or whose pod lookup failed) is retried.
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, factor=2.0, cap=30.0, jitter=0.2))
    # Which decisions get a core/v1 Event on the request besides the condition. Denials by default:
    # they are the ones someone investigates, and an Event costs two more API calls (find, create).
    events: EventPolicy = "denials"
    component: str = COMPONENT

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers: must be at least 1, got {self.workers}")
        if self.events not in EVENT_POLICIES:
            raise ValueError(f"events: must be one of {', '.join(EVENT_POLICIES)}, got {self.events!r}")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _key(obj: Mapping[str, Any]) -> Key:
    meta = _meta(obj)
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _fields(key: Key) -> dict[str, str]:
    # Not "name" nor "message": those are LogRecord's own attributes, and `extra` may not replace them.
    return {"request": f"{key[0]}/{key[1]}"}


def _conditions(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = obj.get("status")
    found = status.get("conditions") if isinstance(status, Mapping) else None
    return [c for c in found if isinstance(c, Mapping)] if isinstance(found, list) else []


def _created(obj: Mapping[str, Any]) -> datetime | None:
    stamp = _meta(obj).get("creationTimestamp")
    try:
        return datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Approver:
    """Decides CertificateRequests with `evaluate` and `policy`; `run(stop)` is the whole lifetime."""

    def __init__(
        self,
        *,
        api: ApprovalApi,
        policy: Policy,
        options: ControllerOptions | None = None,
        metrics: ApproverMetrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._api = api
        self._policy = policy
        self.options = options or ControllerOptions()
        self.metrics = metrics or ApproverMetrics()
        self._clock: Clock = clock or SystemClock()
        self._cache: dict[Key, Obj] = {}
        self._queue: WorkQueue[Key] = WorkQueue()
        self._failures: dict[Key, int] = {}
        self._timers: dict[Key, Cancellable] = {}
        self._leading = asyncio.Event()
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.elector: LeaderElector | None = None
        election = self.options.election
        if election is not None:
            self.elector = LeaderElector(
                api=api,
                config=election,
                clock=self._clock,
                on_started=self._started_leading,
                on_stopped=self._stopped_leading,
            )

    # -- state others look at ----------------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def ready(self) -> bool:
        """The watch has listed every request once (leader or standby: both are ready to serve)."""
        return self._synced.is_set()

    @property
    def alive(self) -> bool:
        """No part of the controller has died (a crashed task would stop approving for good)."""
        return all(not task.done() for task in self._tasks)

    @property
    def leading(self) -> bool:
        return self.elector.leading if self.elector is not None else self._leading.is_set()

    @property
    def pending(self) -> int:
        """Undecided requests this replica knows of."""
        return len(self._cache)

    async def wait_synced(self) -> None:
        await self._synced.wait()

    async def wait_leading(self) -> None:
        await self._leading.wait()

    def set_issuer(self, issuer: IssuerRef | None) -> None:
        """The SPIFFE issuer changed (runtime ConfigMap); it matters to --auto-approve-non-spiffe only."""
        if issuer != self._policy.issuer_ref:
            self._policy = replace(self._policy, issuer_ref=issuer)
            log.info("SPIFFE issuer changed", extra={"issuer": repr(issuer)})

    # -- lifetime ------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Watch and decide until `stop` is set, then stop deciding and release the Lease.

        Cancelled instead, it stops everything but does NOT release the Lease: that is what a
        killed process looks like, and the standby must wait for the lease to expire.
        """
        self._tasks = [asyncio.create_task(self._watch(), name="approver-watch")]
        self._tasks += [
            asyncio.create_task(self._work(), name=f"approver-worker-{n}") for n in range(self.options.workers)
        ]
        if self.elector is not None:
            self._tasks.append(asyncio.create_task(self.elector.run(), name="approver-leader-election"))
        else:
            self._started_leading()
        clean = False
        try:
            await stop.wait()
            clean = True
        finally:
            await self._shutdown()
            if clean and self.elector is not None:
                await self.elector.release()
            self._stopped_leading()

    async def _shutdown(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _started_leading(self) -> None:
        self.metrics.leader.set(1)
        for key in self._cache:
            self._queue.add(key)
        self._leading.set()

    def _stopped_leading(self) -> None:
        self.metrics.leader.set(0)
        self._leading.clear()

    # -- watching ------------------------------------------------------------------------------------

    def _wanted(self, obj: Mapping[str, Any]) -> bool:
        """Undecided, and ours: annotated by the driver (or anything, with --auto-approve-non-spiffe)."""
        if any(c.get("type") in _DECIDED and c.get("status") == "True" for c in _conditions(obj)):
            return False
        annotations = _meta(obj).get("annotations")
        annotated = isinstance(annotations, Mapping) and IDENTITY_ANNOTATION in annotations
        return annotated or self._policy.auto_approve_non_spiffe

    async def _watch(self) -> None:
        async for event in self._api.watch_all_certificate_requests():
            if event.type == "SYNCED":
                if not self._synced.is_set():
                    log.info("certificate requests synced", extra={"pending": len(self._cache)})
                self._synced.set()
                continue
            self._offer(event.type, event.object)

    def _offer(self, kind: str, obj: Obj) -> None:
        key = _key(obj)
        if kind != "DELETED" and self._wanted(obj):
            self._cache[key] = obj
            self._queue.add(key)
        else:
            self._forget(key)

    def _forget(self, key: Key) -> None:
        self._cache.pop(key, None)
        self._failures.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    # -- deciding ------------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            await self._leading.wait()
            key = await self._queue.get()
            try:
                await self._process(key)
            except Exception:  # one bad request must not take a worker down
                log.exception("unexpected error deciding a request", extra=_fields(key))
                self._retry(key, "api-error")
            finally:
                self._queue.done(key)

    async def _process(self, key: Key) -> None:
        obj = self._cache.get(key)
        if obj is None:
            return
        if not self.leading:
            self._requeue_when_leading(key)
            return
        try:
            verdict = await self._decide(obj)
        except PodLookupError as err:
            log.warning("pod lookup failed, will retry", extra={**_fields(key), "error": str(err)})
            self._retry(key, "pod-lookup")
            return
        if verdict.approved is None:
            self._forget(key)
            return
        if not self.leading:  # the lookup awaited: leadership may have gone meanwhile
            self._requeue_when_leading(key)
            return
        await self._write(key, obj, verdict)

    def _requeue_when_leading(self, key: Key) -> None:
        # Not at once: until the elector has run and said so, the workers would spin on this key.
        # Regaining leadership queues every pending request anyway (`_started_leading`).
        self.metrics.retries.labels(cause="not-leader").inc()
        if key not in self._timers:
            self._timers[key] = self._clock.call_later(NOT_LEADING_RECHECK, self._retry_due(key))

    async def _decide(self, obj: Obj) -> Verdict:
        policy = self._policy
        lookup = await self._pod_lookup(obj) if policy.own_service_account is not None else None
        started = time.perf_counter()
        verdict = evaluate(obj, policy, pod_identity=lookup)
        self.metrics.evaluation_seconds.observe(time.perf_counter() - started)
        return verdict

    async def _pod_lookup(self, obj: Obj) -> PodIdentity:
        """The owner Pod, fetched now (the evaluator is synchronous); failures surface when it asks."""
        namespace = str(_meta(obj).get("namespace") or "")
        refs = _meta(obj).get("ownerReferences")
        owners = [
            ref
            for ref in (refs if isinstance(refs, list) else [])
            if isinstance(ref, Mapping) and ref.get("kind") == "Pod" and ref.get("apiVersion") == "v1"
        ]
        if len(owners) != 1 or not isinstance(owners[0].get("name"), str):
            return lambda _ns, _name: None  # the evaluator denies such a request before asking
        owner_name, owner_uid = str(owners[0]["name"]), owners[0].get("uid")
        try:
            pod = await self._api.get_pod(namespace, owner_name)
        except KubernetesError as err:
            failure: KubernetesError | None = err
            pod = None
        else:
            failure = None

        def identity(wanted_namespace: str, wanted_name: str) -> tuple[str, str] | None:
            if failure is not None:
                raise failure
            if pod is None or (wanted_namespace, wanted_name) != (namespace, owner_name):
                return None
            if owner_uid and _meta(pod).get("uid") != owner_uid:
                return None  # a new Pod of the same name: the owner itself is gone
            spec = pod.get("spec")
            account = spec.get("serviceAccountName") if isinstance(spec, Mapping) else None
            return namespace, str(account or "default")

        return identity

    async def _write(self, key: Key, obj: Obj, verdict: Verdict) -> None:
        namespace, name = key
        condition = {
            "type": "Approved" if verdict.approved else "Denied",
            "status": "True",
            "reason": CONDITION_REASON,
            "message": verdict.reason,
            "lastTransitionTime": _rfc3339(self._clock.now()),
        }
        version = str(_meta(obj).get("resourceVersion") or "")
        try:
            await self._api.set_condition(
                namespace, name, condition, version, existing=_conditions(obj), current=obj
            )
        except KubernetesError as err:
            await self._write_failed(key, version, err)
            return
        self._forget(key)
        approved = bool(verdict.approved)
        self.metrics.decided(approved=approved, rule=verdict.rule)
        created = _created(obj)
        if created is not None:
            latency = (self._clock.now() - created).total_seconds()
            self.metrics.decision_latency_seconds.observe(max(0.0, latency))
        log.info(
            "approved request" if approved else "denied request",
            extra={**_fields(key), "rule": verdict.rule, "verdict": verdict.reason},
        )
        if self.options.events == "all" or (self.options.events == "denials" and not approved):
            await self._record_event(obj, verdict)

    async def _write_failed(self, key: Key, version: str, err: KubernetesError) -> None:
        namespace, name = key
        fields = {**_fields(key), "status": err.status, "error": str(err)}
        if err.status == 404:
            self._forget(key)
            return
        if err.status not in (409, 422):
            log.warning("could not write the decision, will retry", extra=fields)
            self._retry(key, "api-error")
            return
        # 409: changed since we read it; 422: e.g. another approver decided first (that is final).
        log.info("request changed while deciding, re-reading it", extra=fields)
        try:
            fresh = await self._api.read_certificate_request(namespace, name)
        except KubernetesError as read_err:
            log.warning("could not re-read the request, will retry", extra={**fields, "error": str(read_err)})
            self._retry(key, "api-error")
            return
        if fresh is None or not self._wanted(fresh):
            self._forget(key)
            return
        if _meta(fresh).get("resourceVersion") == version:
            # Unchanged and still undecided: the write itself was refused (e.g. no `approve` on the signer).
            log.warning("the decision was refused, will retry", extra=fields)
            self._retry(key, "rejected")
            return
        self._cache[key] = fresh
        self._retry(key, "conflict")

    def _retry(self, key: Key, cause: str) -> None:
        attempt = self._failures.get(key, 0)
        self._failures[key] = attempt + 1
        self.metrics.retries.labels(cause=cause).inc()
        previous = self._timers.pop(key, None)
        if previous is not None:
            previous.cancel()
        # A first conflict is ordinary (the request moved on): look again at once, back off after that.
        delay = 0.0 if cause == "conflict" and attempt == 0 else self.options.backoff.delay(attempt)
        self._timers[key] = self._clock.call_later(delay, self._retry_due(key))

    def _retry_due(self, key: Key) -> Callable[[], None]:
        def due() -> None:
            self._timers.pop(key, None)
            if key in self._cache:
                self._queue.add(key)

        return due

    async def _record_event(self, obj: Obj, verdict: Verdict) -> None:
        meta = _meta(obj)
        involved: InvolvedObject = {
            "kind": "CertificateRequest",
            "apiVersion": "cert-manager.io/v1",
            "namespace": str(meta.get("namespace") or ""),
            "name": str(meta.get("name") or ""),
            "uid": str(meta.get("uid") or ""),
        }
        try:
            await self._api.record_event(
                involved=involved,
                type="Normal" if verdict.approved else "Warning",
                reason="Approved" if verdict.approved else "Denied",
                message=verdict.reason,
                component=self.options.component,
            )
        except KubernetesError as err:  # events are a courtesy: the condition is what counts
            log.debug("could not record an event", extra={**_fields(_key(obj)), "error": str(err)})
