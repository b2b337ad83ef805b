"""CertificateRequests for the engine: create (upstream's exact shape), await, resume, clean up.

One label-filtered watch per node (`csi.cert-manager.io/node-id-hash=<hash>`) feeds an in-memory
cache of this node's requests, indexed by (namespace, name) and by volume. A waiter is a future
filed under its request's key, so every watch event is routed in O(1) however many volumes wait;
nothing polls. `wait()` also answers at once for a request that was already terminal. A watch can
go quiet without failing (a half-open connection, until the transport notices): waiters whose
event has not come halfway through their budget, and at the deadline, have their requests read
directly, all of them in one list (`volume-id-hash in (...)`, in batches), not one read each.

Readiness (`ready()`, `wait_ready()`): nothing can be issued before the first list is complete, nor
while the API server is unreachable. A call that could not reach it marks the API down until the
watch opens again (its SYNCED) or `RECHECK_UNREACHABLE` seconds pass, whichever is first, so
renewals wait for the API instead of failing one by one and backing off for minutes.

Clean-up on unpublish: upstream leaves requests behind and relies on the pod owner reference for
garbage collection. `cleanup()` deletes them instead (best effort), so a volume without pod info
(no owner reference) leaks nothing and the node's watch cache shrinks at once; if the API is
unreachable, the owner reference remains the safety net.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from certcsi.durations import format_go_duration
from certcsi.errors import (
    InvalidVolume,
    IssuanceDenied,
    IssuanceError,
    IssuanceFailed,
    IssuanceTimeout,
    IssuerUnavailable,
    KubernetesError,
    NotReady,
)
from certcsi.kube import WatchEvent
from certcsi.pki.certs import leaf_validity
from certcsi.volumes.clock import Cancellable, Clock, SystemClock
from certcsi.volumes.driver import Issued, IssuerRef, RequestPlan, Volume

log = logging.getLogger(__name__)

NODE_ID_HASH_LABEL = "csi.cert-manager.io/node-id-hash"
VOLUME_ID_HASH_LABEL = "csi.cert-manager.io/volume-id-hash"

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_Key = tuple[str, str]
Obj = dict[str, Any]


# A publish asks for its volume's hash four times (create, prune, lookups), and a metrics scrape once per
# volume, every volume in turn: a bound below the node's volume count would miss on every one of them.
@functools.lru_cache(maxsize=16384)
def fnv_hash_label(value: str) -> str:
    """csi-lib's label-safe hash: FNV-1 32 (not 1a) in decimal, each digit mapped into `_ALPHABET`."""
    digest = _FNV_OFFSET
    for byte in value.encode("utf-8"):
        digest = (digest * _FNV_PRIME) & 0xFFFFFFFF
        digest ^= byte
    return "".join(_ALPHABET[ord(char) % len(_ALPHABET)] for char in str(digest))


class RequestsApi(Protocol):
    """The part of `certcsi.kube.Kube` this module uses (tests pass an in-memory fake)."""

    async def create_certificate_request(
        self, namespace: str, body: Mapping[str, Any], *, token: str | None = None
    ) -> Obj: ...

    async def delete_certificate_request(self, namespace: str, name: str) -> None: ...

    async def list_certificate_requests(self, label_selector: str) -> list[Obj]: ...

    def watch_certificate_requests(self, label_selector: str) -> AsyncIterator[WatchEvent]: ...


def build_request_body(*, volume: Volume, plan: RequestPlan, name: str, node_hash: str) -> Obj:
    """The CertificateRequest csi-lib creates for `volume`, named `name`."""
    metadata: Obj = {
        "name": name,
        "namespace": volume.pod_namespace,
        "labels": {NODE_ID_HASH_LABEL: node_hash, VOLUME_ID_HASH_LABEL: fnv_hash_label(volume.volume_id)},
    }
    if volume.pod_name and volume.pod_uid:
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Pod", "name": volume.pod_name, "uid": volume.pod_uid}
        ]
    if plan.annotations:
        metadata["annotations"] = dict(plan.annotations)
    spec: Obj = {
        "request": base64.b64encode(plan.csr_pem).decode("ascii"),
        "issuerRef": {"name": plan.issuer_ref.name, "kind": plan.issuer_ref.kind, "group": plan.issuer_ref.group},
        "isCA": plan.is_ca,
        "usages": list(plan.usages),
    }
    if plan.duration is not None:
        spec["duration"] = format_go_duration(plan.duration)
    return {"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "metadata": metadata, "spec": spec}


@dataclass(frozen=True)
class Condition:
    status: str
    reason: str
    message: str

    def describe(self, type_: str) -> str:
        text = f"{type_}={self.status} reason {self.reason or '(none)'}"
        return f"{text}: {self.message}" if self.message else text


@dataclass(frozen=True)
class RequestState:
    """What the cache keeps of one request: enough to decide and to answer, not the CSR.

    A certificate is kept decoded, never as the API's base64 text, and parsed only when asked for
    (`issued`): a restarted driver lists every request of its node and waits on none of them. Once
    parsed, `issued` is the very object a waiter receives, so the engine and the cache share one copy.
    """

    namespace: str
    name: str
    volume_hash: str
    created: str
    conditions: Mapping[str, Condition] = field(default_factory=dict)
    # spec.issuerRef (one shared object per issuer); None when the request names none.
    issuer: IssuerRef | None = None
    # status.certificate and status.ca, base64-decoded; None while there is no certificate.
    certificate_pem: bytes | None = field(default=None, repr=False)
    ca_pem: bytes = field(default=b"", repr=False)
    # Why status.certificate or status.ca is not base64 (then certificate_pem is None).
    undecodable: str | None = None

    @property
    def key(self) -> _Key:
        return (self.namespace, self.name)

    @classmethod
    def of(cls, obj: Obj) -> RequestState:
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        conditions = {
            str(c.get("type")): Condition(str(c.get("status", "")), str(c.get("reason", "")), str(c.get("message", "")))
            for c in status.get("conditions") or []
            if isinstance(c, dict)
        }
        certificate = str(status.get("certificate") or "")
        chain: bytes | None = None
        ca = b""
        undecodable: str | None = None
        if certificate or _is_issued(conditions.get("Ready")):
            try:
                chain, ca = _decode_pem(certificate), _decode_pem(str(status.get("ca") or ""))
            except (ValueError, binascii.Error) as exc:
                chain, undecodable = None, str(exc)
        spec = obj.get("spec")
        ref = spec.get("issuerRef") if isinstance(spec, Mapping) else None
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            volume_hash=str((meta.get("labels") or {}).get(VOLUME_ID_HASH_LABEL, "")),
            created=str(meta.get("creationTimestamp", "")),
            conditions=conditions,
            issuer=_issuer_ref(*(str(ref.get(part) or "") for part in ("name", "kind", "group")))
            if isinstance(ref, Mapping)
            else None,
            certificate_pem=chain,
            ca_pem=ca,
            undecodable=undecodable,
        )

    @functools.cached_property
    def _parsed(self) -> tuple[Issued | None, str | None]:
        if self.certificate_pem is None:
            return None, self.undecodable
        try:
            validity = leaf_validity(self.certificate_pem)
        except ValueError as exc:
            return None, str(exc)
        issued = Issued(
            certificate_pem=self.certificate_pem,
            ca_pem=self.ca_pem,
            not_before=validity.not_before,
            not_after=validity.not_after,
            request_name=self.name,
        )
        return issued, None

    @property
    def issued(self) -> Issued | None:
        """The certificate (parsed on first use, then kept); None while there is none or it cannot be read."""
        return self._parsed[0]

    @property
    def unreadable(self) -> str | None:
        """Why the request's certificate cannot be read; None when it can, or when there is none."""
        return self._parsed[1]

    def is_terminal(self) -> bool:
        denied = self.conditions.get("Denied")
        ready = self.conditions.get("Ready")
        return (denied is not None and denied.status == "True") or (
            ready is not None and ready.reason in ("Failed", "Issued", "Denied")
        )

    def last_condition(self) -> str:
        for type_ in ("Ready", "Denied", "Approved", "InvalidRequest"):
            condition = self.conditions.get(type_)
            if condition is not None:
                return f"last condition {condition.describe(type_)}"
        return "no condition set yet (not yet approved)"


# Thousands of requests name a handful of issuers: one object each (bounded, should names churn).
@functools.lru_cache(maxsize=256)
def _issuer_ref(name: str, kind: str, group: str) -> IssuerRef:
    return IssuerRef(name, kind, group)


def _decode_pem(value: str) -> bytes:
    return base64.b64decode(value, validate=True) if value else b""


def _is_issued(ready: Condition | None) -> bool:
    return ready is not None and ready.status == "True" and ready.reason == "Issued"


def outcome(state: RequestState) -> Issued | IssuanceError | None:
    """What a request's status means for its waiter: a certificate, an error, or "keep waiting"."""
    name = state.name
    denied = state.conditions.get("Denied")
    if denied is not None and denied.status == "True":
        return IssuanceDenied(f'request "{name}" has been denied by the approval plugin: {denied.message}')
    ready = state.conditions.get("Ready")
    if ready is None:
        return None
    if ready.status == "False" and ready.reason == "Failed":
        return IssuanceFailed(f'request "{name}" has failed: {ready.message}')
    if _is_issued(ready):
        if state.issued is None:
            return IssuanceFailed(f'request "{name}" is Issued but its certificate cannot be read: {state.unreadable}')
        return state.issued
    return None


def _age(state: RequestState) -> tuple[str, str]:
    # RFC 3339 UTC timestamps with second precision sort correctly as strings.
    return (state.created, state.name)


def _unreachable(err: KubernetesError) -> bool:
    """No HTTP answer at all (refused, reset, timed out): the API server, not the request, is the problem."""
    return err.status is None


# Volumes named in one list of stale waiters' requests (`volume-id-hash in (...)`): a URL of ~1 KB.
STALE_LIST_BATCH = 100


@dataclass(frozen=True)
class _Stale:
    """A waiter whose request's event has not come; `deadline` set when its budget is spent."""

    waiter: asyncio.Future[Issued]
    deadline: float | None


# After a call found the API server unreachable, let calls through again after this long even if the
# watch has not reopened (it may be fine while calls are not, e.g. behind a broken proxy).
RECHECK_UNREACHABLE = 30.0


class Issuance:
    """This node's CertificateRequests: one watch, one cache, O(1) routing to waiters."""

    def __init__(
        self,
        *,
        kube: RequestsApi,
        node_id: str,
        max_requests_per_volume: int = 1,
        timeout: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        if max_requests_per_volume < 1:
            raise ValueError(f"max-requests-per-volume: must be at least 1, got {max_requests_per_volume}")
        self._kube = kube
        self.node_hash = fnv_hash_label(node_id)
        self._max = max_requests_per_volume
        self._timeout = timeout
        # Only call_later is used: the wait() deadlines and the unreachable-API recheck.
        self._clock: Clock = clock or SystemClock()
        self._cache: dict[_Key, RequestState] = {}
        self._by_volume: dict[str, set[_Key]] = {}
        self._waiters: dict[_Key, set[asyncio.Future[Issued]]] = {}
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Set while the API server answers (as far as we know); cleared by a call that could not reach it.
        self._reachable = asyncio.Event()
        self._reachable.set()
        self._unreachable_reason = ""
        self._recheck: Cancellable | None = None
        self._reads: set[asyncio.Task[None]] = set()
        # Waiters whose request's event has not come (halfway through, or at the deadline), for one list.
        self._stale: dict[_Key, list[_Stale]] = {}
        self._stale_reader: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, *, wait_synced: bool = True) -> None:
        """Start the node's watch; by default return once the cache holds every existing request.

        With `wait_synced=False` it returns at once (e.g. to serve CSI while the API server is
        still unreachable); until the first list completes, create / wait / pending raise NotReady.
        """
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"certificaterequests-watch-{self.node_hash}")
        if wait_synced:
            await self._synced.wait()

    def ready(self) -> str | None:
        """None when requests can be made now; else why not (not listed yet, API unreachable)."""
        if not self._synced.is_set():
            return "CertificateRequests not yet listed from the API server (watch not synced)"
        if not self._reachable.is_set():
            return f"the Kubernetes API is unreachable: {self._unreachable_reason}"
        return None

    async def wait_ready(self) -> None:
        """Return once `ready()` is None (immediately when it already is)."""
        while self.ready() is not None:
            await self._synced.wait()
            await self._reachable.wait()

    def _api_unreachable(self, err: KubernetesError) -> None:
        if self._reachable.is_set():
            log.warning(
                "Kubernetes API unreachable; issuance waits for it",
                extra={"node_hash": self.node_hash, "error": str(err), "recheck_in_s": RECHECK_UNREACHABLE},
            )
        self._reachable.clear()
        self._unreachable_reason = str(err)
        if self._recheck is not None:
            self._recheck.cancel()
        self._recheck = self._clock.call_later(RECHECK_UNREACHABLE, self._api_answers)

    def _api_answers(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        if not self._reachable.is_set():
            log.info("Kubernetes API reachable again", extra={"node_hash": self.node_hash})
            self._reachable.set()

    async def stop(self) -> None:
        """Stop watching; whoever still waits gets IssuerUnavailable (kubelet will retry)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for read in list(self._reads):
            read.cancel()
        await asyncio.gather(*self._reads, return_exceptions=True)
        self._stale.clear()
        self._api_answers()
        self._synced.clear()
        # A later start() relists from scratch; stale entries would never see their DELETED event.
        self._cache.clear()
        self._by_volume.clear()
        for key in list(self._waiters):
            self._settle(key, IssuerUnavailable("stopped watching CertificateRequests (driver shutting down)"))

    def _require_started(self) -> None:
        if not self._synced.is_set():
            # Answering from an empty cache would re-create requests and miss terminal ones.
            raise NotReady("CertificateRequests not yet listed from the API server (watch not synced)")

    async def _run(self) -> None:
        selector = f"{NODE_ID_HASH_LABEL}={self.node_hash}"
        try:
            async for kind, obj in self._kube.watch_certificate_requests(selector):
                self.apply(kind, obj)
        except Exception:
            log.exception("certificaterequest watch ended", extra={"node_hash": self.node_hash})
            raise

    # -- cache ---------------------------------------------------------------------------------

    def apply(self, kind: str, obj: Obj) -> None:
        """Fold one watch event into the cache and wake the request's waiters if it is decided."""
        if kind == "SYNCED":
            # The first list is complete, or the watch reopened after a failure: the API answers.
            self._synced.set()
            self._api_answers()
            return
        state = RequestState.of(obj)
        if kind == "DELETED":
            self._forget(state.key)
            self._settle(state.key, IssuanceFailed(f'request "{state.name}" was deleted while waiting for it'))
            return
        self._store(state)
        if state.key in self._waiters:
            result = outcome(state)
            if result is not None:
                self._settle(state.key, result)

    def _store(self, state: RequestState) -> None:
        previous = self._cache.get(state.key)
        if previous is not None and previous.volume_hash != state.volume_hash:
            self._forget(state.key)  # someone relabelled it: re-index under the new volume
        self._cache[state.key] = state
        self._by_volume.setdefault(state.volume_hash, set()).add(state.key)

    def _forget(self, key: _Key) -> None:
        state = self._cache.pop(key, None)
        if state is None:
            return
        keys = self._by_volume.get(state.volume_hash)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_volume[state.volume_hash]

    def _settle(self, key: _Key, result: Issued | IssuanceError) -> None:
        for waiter in self._waiters.pop(key, ()):
            if waiter.done():
                continue
            if isinstance(result, Issued):
                waiter.set_result(result)
            else:
                waiter.set_exception(result)

    def requests_of(self, volume: Volume) -> list[RequestState]:
        """The volume's requests known to the cache, oldest first."""
        keys = self._by_volume.get(fnv_hash_label(volume.volume_id), ())
        if len(keys) == 1:  # the usual case, asked for every volume at each metrics scrape
            (key,) = keys
            return [self._cache[key]]
        return sorted((self._cache[key] for key in keys), key=_age)

    # -- engine API ----------------------------------------------------------------------------

    def pending(self, volume: Volume) -> str | None:
        """The newest request of `volume` still undecided (to resume while its key is in memory)."""
        self._require_started()
        states = self.requests_of(volume)
        if states and not states[-1].is_terminal():
            return states[-1].name
        return None

    async def create(self, volume: Volume, plan: RequestPlan) -> str:
        """Prune the volume's oldest requests, create a new one (as the pod when planned), return its name."""
        if not volume.pod_namespace:
            raise InvalidVolume(
                "volume context has no csi.storage.k8s.io/pod.namespace: "
                "the CSIDriver object must set podInfoOnMount: true"
            )
        self._require_started()
        await self._prune(volume, keep=self._max - 1)
        name = str(uuid.uuid4())
        body = build_request_body(volume=volume, plan=plan, name=name, node_hash=self.node_hash)
        try:
            created = await self._kube.create_certificate_request(volume.pod_namespace, body, token=plan.token)
        except KubernetesError as err:
            if _unreachable(err):
                self._api_unreachable(err)
            raise
        self._api_answers()
        state = RequestState.of(created)
        # The watch may already have delivered a newer version; never overwrite it with this one.
        if state.key not in self._cache:
            self._store(state)
        # DEBUG: the publish's own line names the request (`volume published`), and so do renewals.
        log.debug(
            "certificaterequest created",
            extra={
                "volume_id": volume.volume_id,
                "namespace": volume.pod_namespace,
                "request": name,
                "as_pod": plan.token is not None,
            },
        )
        return name

    # A timeout parameter rather than asyncio.timeout: the error must name the last condition seen,
    # and the deadline runs on the injected clock.
    async def wait(self, namespace: str, name: str, *, timeout: float | None = None) -> Issued:
        """The certificate once the request is Issued; IssuanceDenied / Failed / Timeout otherwise.

        Decided by watch events; halfway through the budget and at its end, a request whose event has
        not come is read directly (with every other such request, in one list by volume hash: the
        driver may not `get`), so the answer may come up to one API call later than `timeout`.
        """
        self._require_started()
        key = (namespace, name)
        budget = self._timeout if timeout is None else timeout
        state = self._cache.get(key)
        if state is None:
            raise IssuanceFailed(f'request "{name}" does not exist (deleted, or not created for this node)')
        result = outcome(state)
        if isinstance(result, IssuanceError):
            raise result
        if result is not None:
            return result
        waiter: asyncio.Future[Issued] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, set()).add(waiter)
        timers = [
            self._clock.call_later(budget / 2, lambda: self._stale_waiter(key, waiter, deadline=None)),
            self._clock.call_later(budget, lambda: self._stale_waiter(key, waiter, deadline=budget)),
        ]
        try:
            return await waiter
        finally:
            for timer in timers:
                timer.cancel()
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[key]

    def _stale_waiter(self, key: _Key, waiter: asyncio.Future[Issued], *, deadline: float | None) -> None:
        """File a waiter whose event has not come for the next list of stale waiters' requests."""
        if waiter.done():
            return
        self._stale.setdefault(key, []).append(_Stale(waiter, deadline))
        if self._stale_reader is None:
            task = asyncio.get_running_loop().create_task(self._read_stale(), name="certificaterequests-stale")
            self._stale_reader = task
            self._reads.add(task)
            task.add_done_callback(self._stale_read_done)

    def _stale_read_done(self, task: asyncio.Task[None]) -> None:
        self._reads.discard(task)
        if self._stale_reader is task:
            self._stale_reader = None

    async def _read_stale(self) -> None:
        """Answer every stale waiter from lists of their requests: one list per batch of volumes, and
        waiters that go stale meanwhile in the next round (one list in flight at a time)."""
        while self._stale:
            batch, self._stale = self._stale, {}
            live = {key: [s for s in stale if not s.waiter.done()] for key, stale in batch.items()}
            live = {key: stale for key, stale in live.items() if stale}
            if not live:
                continue
            found = await self._list_stale(list(live))
            if found:
                log.info("requests read directly: their watch events have not come", extra={"requests": len(live)})
            for key, stale in live.items():
                for entry in stale:
                    self._answer_stale(key, entry, found)

    async def _list_stale(self, keys: list[_Key]) -> dict[_Key, Obj] | None:
        """The requests named by `keys` as the API has them now (absent: gone); None when it cannot be asked."""
        hashes = sorted({state.volume_hash for key in keys if (state := self._cache.get(key)) is not None})
        found: dict[_Key, Obj] = {}
        for start in range(0, len(hashes), STALE_LIST_BATCH):
            chunk = ",".join(hashes[start : start + STALE_LIST_BATCH])
            selector = f"{NODE_ID_HASH_LABEL}={self.node_hash},{VOLUME_ID_HASH_LABEL} in ({chunk})"
            try:
                items = await self._kube.list_certificate_requests(selector)
            except KubernetesError as err:
                if _unreachable(err):
                    self._api_unreachable(err)
                return None
            for obj in items:
                meta = obj.get("metadata") or {}
                found[(str(meta.get("namespace", "")), str(meta.get("name", "")))] = obj
        return found

    def _answer_stale(self, key: _Key, entry: _Stale, found: dict[_Key, Obj] | None) -> None:
        """Settle one stale waiter with what the list says, or with a timeout at its deadline."""
        name = key[1]
        seen = self._cache.get(key)
        result: Issued | IssuanceError | None = None
        if found is not None:
            obj = found.get(key)
            if obj is None:
                result = IssuanceFailed(f'request "{name}" was deleted while waiting for it')
            else:
                seen = RequestState.of(obj)
                result = outcome(seen)
        if result is None and entry.deadline is not None:
            why = seen.last_condition() if seen is not None else "request no longer seen"
            result = IssuanceTimeout(f'waiting for request "{name}" timed out after {entry.deadline:g}s: {why}')
        if result is None or entry.waiter.done():
            return
        if isinstance(result, Issued):
            entry.waiter.set_result(result)
        else:
            entry.waiter.set_exception(result)

    async def cleanup(self, volume: Volume) -> None:
        """Delete every request of `volume` (best effort; failures are logged, never raised)."""
        await self._prune(volume, keep=0)

    async def _prune(self, volume: Volume, *, keep: int) -> None:
        states = self.requests_of(volume)
        doomed = states[: max(0, len(states) - keep)]
        for state in doomed:
            try:
                await self._kube.delete_certificate_request(state.namespace, state.name)
            except KubernetesError as err:
                # Not fatal: a pod gets its certificate even if tidying up fails; GC still has the owner ref.
                log.warning(
                    "could not delete certificaterequest",
                    extra={
                        "volume_id": volume.volume_id,
                        "namespace": state.namespace,
                        "request": state.name,
                        "error": str(err),
                    },
                )
                continue
            self._forget(state.key)
