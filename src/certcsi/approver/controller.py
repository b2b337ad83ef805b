"""The approver controller: one watch of every CertificateRequest; the leader decides each pending one.

    watch ──► undecided requests (latest version of each) ──► work queue ──► N workers:
              evaluate (pure) ──► Approved / Denied condition through the status subresource

Every replica watches (so a standby is ready and synced the moment it takes over); only the one
holding the Lease writes, and it checks that it still does right before each write. A verdict is
written at the resourceVersion it was made at: a 409 means the request changed, so it is re-read
and evaluated again. A failed live Pod lookup (own-service-account mode) is retried, never turned
into a Denied condition, because that one is final.

Failures are retried as a controller-runtime controller retries them (`queueing.RateLimits`:
5 ms doubling to 1000 s per request, 10 retries a second overall). A decision the API refuses
(403, or cert-manager's webhook: this approver may not approve for the request's issuer) is not
going to be accepted by asking again: after `max_attempts` refusals the request is skipped, looked
at again only when it changes or after the 1000 s cap. Each such request is logged once, not on
every attempt, and counted in `certcsi_approver_skipped_requests`; refusals are paced by a bucket of
their own, so a flood of them never holds back the retry of a request that can be decided.
Requests seen while listing (startup, a takeover) wait behind requests created since, so a backlog
of old or undecidable requests never delays a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
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
from certcsi.approver.metrics import ApproverMetrics, Result
from certcsi.approver.queueing import RateLimiter, RateLimits, WorkQueue
from certcsi.errors import KubernetesError
from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.kube.watching import WatchEvent
from certcsi.timestamps import rfc3339
from certcsi.volumes.clock import Clock, SystemClock
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
# Refused outright: RBAC (no update/patch on the status, or no `approve` on the issuer's signer).
_FORBIDDEN = 403


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
    # How failed requests are retried (client-go's default controller rate limiter).
    retry: RateLimits = field(default_factory=RateLimits)
    # Refused decisions (403, webhook) before a request is skipped until it changes.
    max_attempts: int = 3
    # Which decisions get a core/v1 Event on the request besides the condition. Denials by default:
    # they are the ones someone investigates, and an Event costs two more API calls (find, create).
    events: EventPolicy = "denials"
    component: str = COMPONENT

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers: must be at least 1, got {self.workers}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: must be at least 1, got {self.max_attempts}")
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




def _version(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("resourceVersion") or "")


def _status(err: BaseException) -> int | None:
    """The HTTP status behind `err` (a KubernetesError, or one a PodLookupError was raised from)."""
    for candidate in (err, err.__cause__):
        if isinstance(candidate, KubernetesError):
            return candidate.status
    return None


# What one pass over a request came to: controller-runtime's results, plus "skipped" (an error it
# will not retry soon: a terminal error in controller-runtime's words).
_Outcome = Literal[Result, "skipped"]


class Approver:
    """Decides CertificateRequests with `evaluate` and `policy`; `run(stop)` is the whole lifetime."""

    def __init__(
        self,
        *,
        api: ApprovalApi,
        policy: Policy,
        options: ControllerOptions | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._api = api
        self._policy = policy
        self.options = options or ControllerOptions()
        self._clock: Clock = clock or SystemClock()
        election = self.options.election
        self.metrics = ApproverMetrics(workers=self.options.workers, lease=election.name if election else None)
        self._cache: dict[Key, Obj] = {}
        self._queue: WorkQueue[Key] = WorkQueue(clock=self._clock, limits=self.options.retry, observer=self.metrics)
        self.metrics.watch_queue(self._queue)
        # Refusals are paced by a limiter (and bucket) of their own: a flood of them must not hold back
        # the retry of a request that can be decided. Its per-key count is the attempts refused so far.
        self._refusals: RateLimiter[Key] = RateLimiter(self.options.retry, monotonic=self._clock.monotonic)
        self._skipped: set[Key] = set()
        self._leading = asyncio.Event()
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.elector: LeaderElector | None = None
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
        """Undecided requests this replica knows of (skipped ones included)."""
        return len(self._cache)

    @property
    def skipped(self) -> int:
        """Undecided requests set aside after `max_attempts` refused decisions."""
        return len(self._skipped)

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
        self._queue.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _started_leading(self) -> None:
        self.metrics.leading(True)
        for key in self._cache:
            if key not in self._skipped:  # their own recheck is already scheduled
                self._queue.add(key, low=True)
        self._leading.set()

    def _stopped_leading(self) -> None:
        self.metrics.leading(False)
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
        if kind == "DELETED" or not self._wanted(obj):
            self._forget(key)
            return
        previous = self._cache.get(key)
        if previous is not None and _version(previous) != _version(obj):
            self._changed(key)
        self._cache[key] = obj
        if key not in self._skipped:
            # Listed (startup, relist) rather than just created: behind whatever is new.
            self._queue.add(key, low=not self._synced.is_set())

    def _changed(self, key: Key) -> None:
        """A new version of the request: whatever was refused before deserves a fresh look."""
        self._refusals.forget(key)
        self._set_skipped(key, False)

    def _forget(self, key: Key) -> None:
        self._cache.pop(key, None)
        self._changed(key)
        self._queue.discard(key)

    def _set_skipped(self, key: Key, skipped: bool) -> None:
        if skipped:
            self._skipped.add(key)
        else:
            self._skipped.discard(key)
        self.metrics.skipped.set(len(self._skipped))

    # -- deciding ------------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            await self._leading.wait()
            key = await self._queue.get()
            started = self._clock.monotonic()
            self.metrics.active_workers.inc()
            panic = False
            try:
                outcome = await self._process(key)
            except Exception as err:  # one bad request must not take a worker down
                log.exception("unexpected error deciding a request", extra=_fields(key))
                panic = True
                outcome = self._failed(key, "api-error", err, what="could not decide the request")
            finally:
                self.metrics.active_workers.dec()
                self._queue.done(key)
            seconds = self._clock.monotonic() - started
            skipped = outcome == "skipped"
            result: Result = "error" if outcome == "skipped" else outcome
            self.metrics.reconciled(result, seconds=seconds, terminal=skipped, panic=panic)

    async def _process(self, key: Key) -> _Outcome:
        obj = self._cache.get(key)
        if obj is None:
            return "success"
        if not self.leading:
            return self._requeue_when_leading(key)
        try:
            verdict = await self._decide(obj)
        except PodLookupError as err:
            return self._failed(key, "pod-lookup", err, what="pod lookup failed")
        if verdict.approved is None:
            self._forget(key)
            return "success"
        if not self.leading:  # the lookup awaited: leadership may have gone meanwhile
            return self._requeue_when_leading(key)
        return await self._write(key, obj, verdict)

    def _requeue_when_leading(self, key: Key) -> _Outcome:
        # Not at once: until the elector has run and said so, the workers would spin on this key.
        # Regaining leadership queues every pending request anyway (`_started_leading`).
        self.metrics.retries.labels(cause="not-leader").inc()
        self._queue.add_after(key, NOT_LEADING_RECHECK)
        return "requeue_after"

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

    async def _write(self, key: Key, obj: Obj, verdict: Verdict) -> _Outcome:
        namespace, name = key
        condition = {
            "type": "Approved" if verdict.approved else "Denied",
            "status": "True",
            "reason": CONDITION_REASON,
            "message": verdict.reason,
            "lastTransitionTime": rfc3339(self._clock.now()),
        }
        version = _version(obj)
        try:
            await self._api.set_condition(namespace, name, condition, version, existing=_conditions(obj), current=obj)
        except KubernetesError as err:
            return await self._write_failed(key, version, err)
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
        return "success"

    async def _write_failed(self, key: Key, version: str, err: KubernetesError) -> _Outcome:
        namespace, name = key
        if err.status == 404:
            self._forget(key)
            return "success"
        if err.status not in (409, 422):
            return self._failed(key, "api-error", err, what="could not write the decision")
        # 409: changed since we read it; 422: e.g. another approver decided first (that is final).
        log.debug("request changed while deciding, re-reading it", extra={**_fields(key), "status": err.status})
        try:
            fresh = await self._api.read_certificate_request(namespace, name)
        except KubernetesError as read_err:
            return self._failed(key, "api-error", read_err, what="could not re-read the request")
        if fresh is None or not self._wanted(fresh):
            self._forget(key)
            return "success"
        if _version(fresh) == version:
            # Unchanged and still undecided: the write itself was refused (e.g. no `approve` on the signer).
            return self._refused(key, err, what="the decision was refused")
        self._cache[key] = fresh
        self._changed(key)
        self.metrics.retries.labels(cause="conflict").inc()
        if self._queue.limiter.failures(key) == 0:
            # A first conflict is ordinary (the request moved on): look again at once, back off after that.
            self._queue.limiter.count_failure(key)
            self._queue.add(key)
            return "requeue"
        self._queue.add_rate_limited(key)
        return "error"

    def _failed(self, key: Key, cause: str, err: BaseException, *, what: str) -> _Outcome:
        """A failure that may pass (API unavailable, a timeout): retried, rate-limited, for as long as it lasts."""
        if _status(err) == _FORBIDDEN:
            return self._refused(key, err, what=what)
        first = self._queue.limiter.failures(key) == 0
        self.metrics.retries.labels(cause=cause).inc()
        delay = self._queue.add_rate_limited(key)
        # Once per run of failures, not once per attempt: an outage must not flood the log.
        (log.warning if first else log.debug)(
            f"{what}, will retry", extra={**_fields(key), "error": str(err), "retry_in": round(delay, 3)}
        )
        return "error"

    def _refused(self, key: Key, err: BaseException, *, what: str) -> _Outcome:
        """The API will not let us decide this request: a few more tries, then the request is skipped."""
        attempts = self._refusals.failures(key) + 1
        self.metrics.retries.labels(cause="rejected").inc()
        fields = {**_fields(key), "status": _status(err), "error": str(err), "attempt": attempts}
        limit = self.options.max_attempts
        if attempts == 1:
            log.warning(f"{what}; after {limit} refusals the request is left alone until it changes", extra=fields)
        else:
            log.debug(f"{what} again", extra=fields)
        if attempts < limit:
            self._queue.add_after(key, self._refusals.when(key))
            return "error"
        self._refusals.count_failure(key)
        self._set_skipped(key, True)
        # Looked at again after client-go's backoff cap, in case what refused it (RBAC) has changed.
        self._queue.add_after(key, self.options.retry.max_delay)
        return "skipped"

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
