"""The volume lifecycle: publish, renew and unpublish, one lock per volume (csi-lib's manager role).

Publish of a new volume issues synchronously: once its CertificateRequest is created, and while the
issuer signs, it records the volume (metadata.json, status.json) and bind-mounts the data directory;
then it writes the file set and schedules the renewal on the node's one `Scheduler`. It answers only
once the files are in, and without `continue_on_not_ready` a republish of a mounted volume that
never had a certificate (a first publish cut short by a restart) issues before it answers. A
republish only refreshes what lives in memory (the token kubelet sends) and re-asserts the mount: it
never tears a live volume down, whatever fails. A failed first publish removes everything it made,
but keeps a pending request's key in memory so the retry kubelet sends resumes that request instead
of creating another one.

Only what the engine made is ever touched: a target the mount would refuse (a file, a symlink, files,
someone else's mount) is refused before any key or request exists; unpublish unmounts only a bind of
the volume's own data directory, then forgets the volume and deletes its requests in the background.

Pod readiness gates (`gates`, see `certcsi.volumes.gates`) are checked before every issuance:
- a first publish waits for them within the issue timeout (one budget for gates and issuance),
  then fails naming the unmet gate;
- with `continue_on_not_ready`, a first publish whose gates do not pass yet mounts the still-empty
  data directory and returns OK; the volume's first issuance goes on the same scheduler as every
  renewal: each check that finds the gates unmet sets the volume's timer to the gate backoff, and a
  pod event that makes them pass sets it to "now";
- a renewal whose gates do not pass keeps the certificate and retries the same way.
Such a volume is live (mounted) before it has a certificate: a republish leaves it alone, and after
a restart the store keeps it because its target is still mounted.

Restarts and outages: renewals fire only once the node's CertificateRequests are listed (and its
pods, with gates) and while the API server is reachable (`Requests.wait_ready`), so a renewal due at
start or during an outage waits for the API instead of failing; "not ready" is never a failure. A
real failure backs off (30 s doubling to 5 min) from a count kept in memory, so failures from before
a restart do not stretch it, and never past half the time the certificate has left.

Observability: every issuance is reported to an `IssuanceObserver` (metrics, Pod events; see
`certcsi.observability`), `snapshot()` is the read-only view of every volume (a metrics scrape reads
it a slice at a time, `snapshot_in_slices`), and each volume's certificate facts and last error are
kept in `status.json` beside its metadata, so `certcsi inspect` can show them without a running
driver (metadata.json stays csi-lib's format).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import random
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from certcsi.collector import collector_paused
from certcsi.csi.volume_context import EPHEMERAL
from certcsi.csi.volume_context import SERVICE_ACCOUNT_TOKENS as TOKENS
from certcsi.csi.volume_id import check_volume_id
from certcsi.errors import (
    CertcsiError,
    IncompatiblePublish,
    InvalidVolume,
    IssuerUnavailable,
    KubernetesError,
    NotReady,
    UnusableTarget,
)
from certcsi.pki.keys import PrivateKey
from certcsi.volumes.clock import Cancellable, Clock
from certcsi.volumes.driver import Driver, Issued, IssuerRef, RequestPlan, Volume, parse_group_id
from certcsi.volumes.gates import PodGates
from certcsi.volumes.mount import Mounter, TargetRefused
from certcsi.volumes.reporting import IssuanceDone, IssuanceObserver, NullObserver, VolumeView
from certcsi.volumes.schedule import NOT_READY_BACKOFF, Backoff, RateBudget, Scheduler, jittered
from certcsi.volumes.status import VolumeStatus, read_status, write_status
from certcsi.volumes.store import NOT_ISSUED_YET, Metadata, ScanResult, Store

log = logging.getLogger(__name__)

READONLY_RULE = "pod.spec.volumes[].csi.readOnly must be set to 'true'"
_FIRST_FAILURES_KEPT = 4096


class PublishArgs(Protocol):
    """The CSI publish call as the engine needs it; csi.node.PublishRequest has this shape."""

    @property
    def volume_id(self) -> str: ...
    @property
    def target_path(self) -> str: ...
    @property
    def readonly(self) -> bool: ...
    @property
    def volume_context(self) -> Mapping[str, str]: ...
    @property
    def secrets(self) -> Mapping[str, str]: ...
    @property
    def volume_mount_group(self) -> str: ...


class Requests(Protocol):
    """What the manager needs from issuance (certcsi.volumes.issuance.Issuance implements it)."""

    async def create(self, volume: Volume, plan: RequestPlan) -> str: ...

    def pending(self, volume: Volume) -> str | None: ...

    async def wait(self, namespace: str, name: str, *, timeout: float | None = None) -> Issued: ...

    async def cleanup(self, volume: Volume) -> None: ...
    async def wait_ready(self) -> None:
        """Return once requests can be made (listed, API reachable); renewals fire only then."""
        ...


# Retrying sooner than this brings nothing: the issuer needs a moment, and it bounds the load.
MIN_RETRY = 1.0
# How long after start renewals wait for the pod watch to list (with readiness gates).
POD_LIST_GRACE = 10.0


async def _event_or_timeout(event: asyncio.Event, seconds: float, *, clock: Clock) -> None:
    waiter = asyncio.ensure_future(event.wait())

    def expire() -> None:
        waiter.cancel()

    timer = clock.call_later(seconds, expire)
    try:
        await asyncio.gather(waiter, return_exceptions=True)
    finally:
        timer.cancel()
        waiter.cancel()


def _not_ready(error: Exception) -> bool:
    """The node cannot issue yet (not listed, API unreachable): wait for it, do not count a failure."""
    return isinstance(error, NotReady) or (isinstance(error, KubernetesError) and error.status is None)


@dataclass
class _Pending:
    """A request created but not yet answered, with the key only this process holds."""

    request_name: str
    namespace: str
    key: PrivateKey
    issuer: IssuerRef


@dataclass(frozen=True)
class _KeptKey:
    """A volume's private key between issuances, as PKCS#8 DER.

    Only a driver that reuses keys needs it again, at the next issuance; until then ~140 bytes
    for a P-256 key (1.2 KB for RSA-2048) beat the ~2 KB a live OpenSSL key object holds.
    """

    der: bytes = field(repr=False)

    @classmethod
    def of(cls, key: PrivateKey) -> _KeptKey:
        return cls(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))

    def load(self) -> PrivateKey:
        # This process generated the key and checked it then; RSA's validation would cost ~25 ms again.
        key = load_der_private_key(self.der, None, unsafe_skip_rsa_key_validation=True)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise TypeError(f"kept key has an unexpected type {type(key).__name__}")
        return key


@dataclass
class _State:
    volume: Volume
    key: _KeptKey | None = None
    issued: Issued | None = None
    next_issuance: datetime | None = None
    # Reads status.json when `status` is first asked for: a restart resumes 10,000 volumes without it.
    status_source: Callable[[], VolumeStatus] | None = field(default=None, repr=False)
    _status: VolumeStatus | None = field(default=None, init=False, repr=False)
    # Mounted at its target: from here on no failure may tear the volume down.
    live: bool = False
    # Consecutive checks that found the pod readiness gates unmet, and the wake-up for when they pass.
    gate_checks: int = 0
    gate_wake: Cancellable | None = None
    # Consecutive failed issuances and not-ready checks in this process (status.failures outlives it).
    retries: int = 0
    not_ready_checks: int = 0
    # Monotonic time of the first publish (for time-to-first-certificate); None after a restart.
    published_at: float | None = None
    # (volume, volume without its secrets): a scrape asks for every volume's, so it is made once per volume.
    _public: tuple[Volume, Volume] | None = field(default=None, init=False, repr=False)

    @property
    def public_volume(self) -> Volume:
        """`volume` without its secrets (the same object when it has none)."""
        public = self._public
        if public is None or public[0] is not self.volume:
            stripped = replace(self.volume, secrets={}) if self.volume.secrets else self.volume
            public = self._public = (self.volume, stripped)
        return public[1]

    @property
    def status(self) -> VolumeStatus:
        """Certificate facts, consecutive failures and the last error, as status.json holds them."""
        if self._status is None:
            source, self.status_source = self.status_source, None
            self._status = source() if source is not None else VolumeStatus()
        return self._status

    @status.setter
    def status(self, status: VolumeStatus) -> None:
        self.status_source = None
        self._status = status

    @property
    def failures(self) -> int:
        return self.status.failures

    @property
    def last_error(self) -> str | None:
        return self.status.last_error


def _view(state: _State) -> VolumeView:
    return VolumeView(
        volume=state.public_volume, next_issuance=state.next_issuance, status=state.status, live=state.live
    )


def _shared_strings(context: Mapping[str, str]) -> dict[str, str]:
    """`context` with every key and value interned (never pass secrets).

    The volumes of a node repeat the same keys and most values (issuer, namespace, duration...):
    one copy of each instead of one per volume.
    """
    return {sys.intern(key): sys.intern(value) for key, value in context.items()}


@contextlib.contextmanager
def _at_target(target_path: str) -> Iterator[None]:
    """The mounter's `TargetRefused` becomes UnusableTarget naming the target and the rule; anything else stays."""
    try:
        yield
    except TargetRefused as refused:
        raise UnusableTarget(f"target_path {target_path}: {refused.rule}") from refused


def _run_each(steps: list[Callable[[], object]], *, volume_id: str, what: str) -> Exception | None:
    """Run every step, whichever fail; log each failure and return the first one."""
    first: Exception | None = None
    for step in steps:
        try:
            step()
        except Exception as err:
            log.warning("clean-up step failed", extra={"volume_id": volume_id, "during": what, "error": str(err)})
            first = first or err
    return first


def _pod_key(volume: Volume) -> tuple[str, str, str]:
    return (volume.pod_namespace, volume.pod_name, volume.pod_uid)


def service_account_token(volume: Volume) -> str | None:
    """The `""`-audience token kubelet passed (in the volume context, or in secrets from 1.35 on)."""
    raw = volume.secrets.get(TOKENS)
    if not raw:
        return None
    try:
        tokens = json.loads(raw)
        token = tokens[""]["token"]
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidVolume(f'{TOKENS} holds no token for the API server audience ""') from e
    return token if isinstance(token, str) and token else None


class Manager:
    """Owns every volume of this node. Implements csi.node.NodeBackend."""

    def __init__(
        self,
        *,
        driver: Driver,
        store: Store,
        mounter: Mounter,
        issuance: Requests,
        clock: Clock,
        rate: RateBudget,
        use_token_request: bool = False,
        issue_timeout: float = 60.0,
        jitter_fraction: float = 0.05,
        failure_backoff: Backoff | None = None,
        renewal_concurrency: int = 8,
        rng: random.Random | None = None,
        gates: PodGates | None = None,
        continue_on_not_ready: bool = False,
        observer: IssuanceObserver | None = None,
        request_cleanup_timeout: float = 30.0,
    ) -> None:
        self._driver = driver
        self._store = store
        self._mounter = mounter
        self._issuance = issuance
        self._clock = clock
        self._rate = rate
        self._use_token_request = use_token_request
        self._issue_timeout = issue_timeout
        self._jitter_fraction = jitter_fraction
        self._backoff = failure_backoff or Backoff()
        self._rng = rng or random.Random()
        self._gates = gates
        self._continue_on_not_ready = continue_on_not_ready
        self._observer: IssuanceObserver = observer or NullObserver()
        self._states: dict[str, _State] = {}
        self._pending: dict[str, _Pending] = {}
        # Why the last first publishes of a volume failed: its data goes with each failure, but `inspect`
        # shows the next attempt with the error and count of the previous ones. Bounded, oldest out.
        self._first_failures: dict[str, VolumeStatus] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = {}
        self._scheduler = Scheduler(
            fire=self._renew, clock=clock, concurrency=renewal_concurrency, gate=self._ready_to_issue
        )
        self._started = False
        # Deletions of unpublished volumes' CertificateRequests still running, each within this budget.
        self._request_cleanup_timeout = request_cleanup_timeout
        self._cleanups: set[asyncio.Task[None]] = set()
        self._pod_list_deadline = 0.0

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, scan: ScanResult | None = None) -> None:
        """Open the data root and resume every volume of this driver it holds; nothing still valid is re-issued.

        `scan`: what `Store.open()` returned when the caller opened the store itself (the node plugin does,
        before it takes any port or socket); None opens it here.

        Volumes a Go driver wrote are taken over as they are: its renewal time is kept, the secrets in
        the volume context are split from the attributes, and the pod's token, which csi-lib keeps in
        metadata.json, stays in memory only (for a renewal due before kubelet's next republish).

        Returns at once (CSI can be served); renewals already due fire once `_ready_to_issue`.
        """
        # Without the cyclic garbage collector: resuming 10,000 volumes makes ~100,000 objects and no
        # reference cycle, and every collection their allocations trigger would scan them all again.
        with collector_paused():
            self._resume(scan)
        self._pod_list_deadline = self._clock.monotonic() + POD_LIST_GRACE
        self._scheduler.start()
        self._started = True
        log.info("volume manager started", extra={"volumes": len(self._states)})

    def _resume(self, scan: ScanResult | None) -> None:
        """Open the store (unless `scan` says what it kept) and take every volume it kept back into memory,
        each with its renewal timer."""
        scan = self._store.open() if scan is None else scan
        secret_keys = self._driver.secret_attributes | {TOKENS}
        for meta in scan.volumes:
            context = meta.volume_context
            # Taken over from the Go driver, whose metadata.json also holds the pod's token: kept in
            # memory for a renewal due before kubelet's next republish, and taken off the disk below.
            volume = Volume(
                volume_id=meta.volume_id,
                target_path=meta.target_path,
                attributes=_shared_strings({k: v for k, v in context.items() if k not in secret_keys}),
                mount_group=int(meta.volume_mount_group) if meta.volume_mount_group else None,
                secrets={k: v for k, v in context.items() if k in secret_keys},
            )
            issued_at = None if meta.next_issuance_time == NOT_ISSUED_YET else meta.next_issuance_time
            # Kept by the scan, so issued or mounted: never torn down by a failure from here on.
            self._states[meta.volume_id] = _State(
                volume=volume,
                next_issuance=issued_at,
                live=True,
                status_source=functools.partial(self._read_status, meta.volume_id),
            )
            if TOKENS in context:
                self._token_off_the_disk(volume, issued_at)
            self._scheduler.schedule(meta.volume_id, issued_at or self._clock.now())

    async def stop(self) -> None:
        await self._scheduler.stop()
        # Requests not deleted yet stay for their pod's owner-reference garbage collection.
        for task in self._cleanups:
            task.cancel()
        await asyncio.gather(*self._cleanups, return_exceptions=True)
        self._store.close()
        self._started = False

    async def _ready_to_issue(self) -> None:
        """What every renewal waits for: requests listed and the API reachable; with gates, the pods
        listed too, for at most POD_LIST_GRACE after start (checks read a pod the watch lacks with a
        GET, so a driver allowed to get but not to list pods still works, only with more calls)."""
        await self._issuance.wait_ready()
        if self._gates is not None and not self._gates.synced.is_set():
            left = self._pod_list_deadline - self._clock.monotonic()
            if left > 0:
                await _event_or_timeout(self._gates.synced, left, clock=self._clock)

    def ready(self) -> str | None:
        """None when the driver can serve; else why not (the CSI Probe reports it)."""
        if not self._started:
            return "volume state not loaded yet"
        return self._store.ready()

    # -- NodeBackend ------------------------------------------------------------------------------

    async def publish(self, request: PublishArgs) -> None:
        check_volume_id(request.volume_id)
        if (why := self.ready()) is not None:
            raise NotReady(why)
        volume = self._volume_from(request)
        warnings = self._driver.validate(self._for_driver(volume, pod=None))
        async with self._volume_lock(volume.volume_id):
            state = self._states.get(volume.volume_id)
            if state is not None and state.live:
                await self._republish(state, volume)
                return
            if warnings:
                # Once per publish of a volume, before issuance (which may fail): not on every republish.
                self._observer.warned(volume, warnings)
                for warning in warnings:
                    log.warning(
                        "volume accepted with a warning",
                        extra={"volume_id": volume.volume_id, "reason": warning.reason, "warning": warning.message},
                    )
            await self._first_publish(volume)

    async def unpublish(self, *, volume_id: str, target_path: str) -> None:
        """Unmount our bind at the target, forget the volume, delete its data and (in the background) its requests.

        Only a bind of this volume's data directory is unmounted, and the target removed only when
        it is then an empty directory. Unmounting comes first: if it fails, everything is kept so
        that kubelet's retry can still recognise the mount as ours.
        """
        check_volume_id(volume_id)  # before anything is touched: the id names a directory under the data root
        async with self._volume_lock(volume_id):
            state = self._states.get(volume_id)
            if state is not None and os.path.normpath(state.volume.target_path) != os.path.normpath(target_path):
                raise UnusableTarget(
                    f"volume {volume_id} is published at {state.volume.target_path}, not at target_path "
                    f"{target_path}: nothing was unmounted"
                )
            with _at_target(target_path):
                self._mounter.unbind(self._store.data_dir(volume_id), target_path)
            steps: list[Callable[[], object]] = [
                lambda: self._scheduler.cancel(volume_id),
                lambda: self._states.pop(volume_id, None),
                lambda: self._pending.pop(volume_id, None),
                lambda: self._first_failures.pop(volume_id, None),
                lambda: self._driver.forget(volume_id),
                lambda: self._store.remove_volume(volume_id),
                lambda: self._observer.forgotten(volume_id),
            ]
            if state is not None:
                steps.append(lambda: self._drop_gate_wake(state))
                steps.append(lambda: self._delete_requests(state.volume))
            failure = _run_each(steps, volume_id=volume_id, what="unpublish")
            if failure is not None:
                raise failure
            log.info("volume unpublished", extra={"volume_id": volume_id})

    def _delete_requests(self, volume: Volume) -> None:
        """Delete the volume's CertificateRequests in the background, within a budget; never fails the caller.

        A volume without pod info has no owner reference, so nothing else would ever delete them;
        with one, garbage collection stays the safety net when the API server cannot be reached.
        """
        volume_id = volume.volume_id
        task = asyncio.create_task(self._issuance.cleanup(volume), name=f"delete-requests-{volume_id}")
        self._cleanups.add(task)

        def give_up() -> None:
            if not task.done():
                log.warning(
                    "gave up deleting the requests of an unpublished volume",
                    extra={"volume_id": volume_id, "after_s": self._request_cleanup_timeout},
                )
                task.cancel()

        timer = self._clock.call_later(self._request_cleanup_timeout, give_up)

        def finished(done: asyncio.Task[None]) -> None:
            timer.cancel()
            self._cleanups.discard(done)
            if not done.cancelled() and (error := done.exception()) is not None:
                log.warning(
                    "could not delete the requests of an unpublished volume",
                    extra={"volume_id": volume_id, "error": str(error)},
                )

        task.add_done_callback(finished)

    # -- publish paths ----------------------------------------------------------------------------

    def _volume_from(self, request: PublishArgs) -> Volume:
        context = request.volume_context
        if context.get(EPHEMERAL) != "true":
            raise InvalidVolume(
                f'volume_context {EPHEMERAL} must be "true": only CSI ephemeral inline volumes are supported'
            )
        if not request.readonly:
            raise InvalidVolume(READONLY_RULE)
        secret_keys = self._driver.secret_attributes | {TOKENS}
        attributes = _shared_strings({k: v for k, v in context.items() if k not in secret_keys})
        secrets = {k: v for k, v in context.items() if k in secret_keys}
        secrets.update(request.secrets)
        mount_group: int | None = None
        if request.volume_mount_group:
            try:
                mount_group = parse_group_id(request.volume_mount_group, minimum=0)
            except ValueError as e:
                raise InvalidVolume(f"volume_capability.mount.volume_mount_group {e}") from None
        volume = Volume(
            volume_id=request.volume_id,
            target_path=request.target_path,
            attributes=attributes,
            mount_group=mount_group,
            secrets=secrets,
        )
        if self._gates is not None:
            for key, value in (("namespace", volume.pod_namespace), ("name", volume.pod_name), ("uid", volume.pod_uid)):
                if not value:
                    raise InvalidVolume(
                        f"volume context has no csi.storage.k8s.io/pod.{key}: pod readiness gates need the pod's "
                        "identity; the CSIDriver object must set podInfoOnMount: true"
                    )
        return volume

    async def _republish(self, state: _State, volume: Volume) -> None:
        """Refresh in-memory secrets and the mount; a failure here is reported, never destructive."""
        if volume.target_path != state.volume.target_path:
            raise IncompatiblePublish(f"volume {volume.volume_id} is already published at another target path")
        kept = self._kept_secrets(volume)
        if volume.attributes != state.volume.attributes or kept != self._kept_secrets(state.volume):
            self._write_metadata(volume, state.next_issuance, live=True)
        state.volume = volume
        if self._awaits_first_certificate(state):
            # A first publish cut short by a restart after its mount, before its files: kubelet is retrying it,
            # and the pod must not start on an empty volume.
            _, pod = await self._first_gates(state)
            await self._issue(state, pod=pod)
        if not self._mounter.is_bind_of(volume.target_path, self._store.data_dir(volume.volume_id)):
            self._bind(volume)

    def _awaits_first_certificate(self, state: _State) -> bool:
        """A live volume that never had a certificate, on a driver that mounts only volumes that have one."""
        return (
            not self._continue_on_not_ready
            and state.issued is None
            and state.next_issuance is None
            and state.status.not_after is None
        )

    def _bind(self, volume: Volume) -> None:
        with _at_target(volume.target_path):
            self._mounter.bind_readonly(self._store.data_dir(volume.volume_id), volume.target_path)

    async def _first_publish(self, volume: Volume) -> None:
        # A directory already there (empty, or check_target refuses it) is not ours to remove on failure.
        target_existed = os.path.lexists(volume.target_path)
        with _at_target(volume.target_path):
            # Before any key, file or CertificateRequest exists: a target the mount would refuse costs nothing.
            self._mounter.check_target(self._store.data_dir(volume.volume_id), volume.target_path)
        started = self._clock.monotonic()
        state = _State(volume=volume, published_at=started)
        if (earlier := self._first_failures.get(volume.volume_id)) is not None:
            state.status = earlier  # on disk with the volume's first record
        deadline = started + self._issue_timeout
        try:
            self._states[volume.volume_id] = state
            recorded = self._gates is not None
            if recorded:  # `inspect` shows a volume whose pod's gates keep it waiting
                self._record_first_publish(state)
            deferred, pod = await self._first_gates(state)
            if deferred:
                return
            budget = max(0.0, deadline - self._clock.monotonic())
            await self._issue(
                state, pod=pod, timeout=budget, while_signing=lambda: self._while_first_signs(state, recorded=recorded)
            )
            state.live = True
        except BaseException as error:
            # Nothing of a volume that never became ready may stay behind (csi-lib#8, kubelet may not retry);
            # the publish's own error is the one to report, whatever the clean-up meets.
            if isinstance(error, Exception):
                self._remember_first_failure(state, error)
            self._discard(state, keep_target=target_existed)
            raise
        self._first_failures.pop(volume.volume_id, None)
        log.info(
            "volume published",
            extra={
                "volume_id": volume.volume_id,
                "pod": volume.pod_name,
                "namespace": volume.pod_namespace,
                "request": state.status.request_name,
                "duration_ms": round((self._clock.monotonic() - started) * 1000, 3),
            },
        )

    def _record_first_publish(self, state: _State) -> None:
        """metadata.json of a volume without a certificate yet, and the failures of its earlier attempts."""
        self._write_metadata(state.volume, None, live=False)
        if state.status.failures:
            self._write_status(state)

    def _while_first_signs(self, state: _State, *, recorded: bool) -> None:
        """A first publish's own work, done while its request is with the issuer; `publish` still answers only
        once the files are in. A driver stopped after this holds the request with no record of it: kubelet's
        retry makes another, and the first is pruned with the volume's next ones or collected with its pod."""
        if not recorded:
            self._record_first_publish(state)
        self._bind(state.volume)

    def _discard(self, state: _State, *, keep_target: bool) -> None:
        """Remove every trace of a volume that never became live (the target too, unless `keep_target`: it was
        there before); each step runs whatever the others do."""
        volume = state.volume
        volume_id = volume.volume_id
        _run_each(
            [
                lambda: self._scheduler.cancel(volume_id),
                lambda: self._drop_gate_wake(state),
                lambda: self._states.pop(volume_id, None),
                lambda: self._driver.forget(volume_id),
                lambda: self._mounter.unbind(
                    self._store.data_dir(volume_id), volume.target_path, remove_target=not keep_target
                ),
                lambda: self._store.remove_volume(volume_id),
            ],
            volume_id=volume_id,
            what="failed first publish",
        )

    def _remember_first_failure(self, state: _State, error: Exception) -> None:
        self._first_failures.pop(state.volume.volume_id, None)
        self._first_failures[state.volume.volume_id] = replace(
            state.status, failures=state.status.failures + 1, last_error=str(error), last_error_time=self._clock.now()
        )
        while len(self._first_failures) > _FIRST_FAILURES_KEPT:
            del self._first_failures[next(iter(self._first_failures))]

    async def _first_gates(self, state: _State) -> tuple[bool, Mapping[str, Any] | None]:
        """(deferred, pod) for a first publish: the pod once its gates pass (None without gates).

        Without --continue-on-not-ready this waits within the issue timeout (GatesNotMet after it).
        With it, gates that do not pass now defer the issuance: the empty data directory is mounted,
        the volume is live, and the scheduler takes over (deferred is True).
        """
        volume = state.volume
        if self._gates is None:
            return False, None
        if not self._continue_on_not_ready:
            return False, await self._gates.wait_until_ready(*_pod_key(volume), timeout=self._issue_timeout)
        verdict = await self._gates.check(*_pod_key(volume))
        if verdict.ready:
            return False, verdict.pod
        self._bind(volume)
        state.live = True
        # As csi-lib records it, so that a restarted driver (certcsi's or the Go one) resumes the volume.
        self._write_metadata(volume, None, live=True)
        self._gates_unmet(state, verdict.reason)
        log.info(
            "volume published without a certificate yet (--continue-on-not-ready)",
            extra={"volume_id": volume.volume_id, "pod": volume.pod_name, "reason": verdict.reason},
        )
        return True, None

    # -- issuance ---------------------------------------------------------------------------------

    async def _issue(
        self,
        state: _State,
        *,
        pod: Mapping[str, Any] | None,
        timeout: float | None = None,
        while_signing: Callable[[], None] | None = None,
    ) -> None:
        """Get a certificate for the volume (resuming a pending request when we can), write, schedule.

        `pod` is the pod as the readiness gates passed it (None without gates). `while_signing` runs once the
        request exists, while the issuer works; its failure fails the issuance but is not the issuer's.
        """
        volume = self._for_driver(state.volume, pod=pod)
        first = state.issued is None and state.status.not_after is None
        started = self._clock.monotonic()
        self._observer.issuing(volume)
        name: str | None = None
        created = False
        not_issuers: Exception | None = None
        try:
            pending = self._pending.get(volume.volume_id)
            if pending is not None and self._issuance.pending(volume) == pending.request_name:
                key, name, issuer = pending.key, pending.request_name, pending.issuer
                log.info("resuming pending request", extra={"volume_id": volume.volume_id, "request": name})
            else:
                key = await self._driver.generate_key(volume, state.key.load() if state.key is not None else None)
                plan = self._with_token(volume, self._driver.build_request(volume, key))
                await self._rate.acquire()
                name = await self._issuance.create(volume, plan)
                issuer = plan.issuer_ref
                self._pending[volume.volume_id] = _Pending(name, volume.pod_namespace, key, issuer)
                created = True
            if while_signing is not None:
                try:
                    while_signing()
                except Exception as error:
                    not_issuers = error
                    raise
            if first and created:  # until the first certificate, `inspect` shows the request being waited for
                self._set_status(state, replace(state.status, request_name=name, issuer=issuer))
            budget = self._issue_timeout if timeout is None else timeout
            issued = await self._issuance.wait(volume.pod_namespace, name, timeout=budget)
            self._pending.pop(volume.volume_id, None)
            files = self._driver.files(volume, key, issued)
            self._store.write_files(volume.volume_id, files, fs_group=self._driver.fs_group(volume))
            renew_at = jittered(
                self._driver.next_issuance(volume, issued),
                not_before=issued.not_before,
                not_after=issued.not_after,
                fraction=self._jitter_fraction,
                rng=self._rng,
            )
            self._write_metadata(volume, renew_at, live=True)
        except Exception as error:
            if error is not not_issuers:
                self._observer.failed(volume, error, request_name=name, first=first)
            raise
        recovered = state.status.failures > 0
        state.key, state.issued, state.next_issuance, state.gate_checks = _KeptKey.of(key), issued, renew_at, 0
        state.retries = state.not_ready_checks = 0
        self._set_status(
            state,
            VolumeStatus(
                request_name=issued.request_name,
                issuer=issuer,
                certificate_file=_certificate_file(files, issued),
                not_before=issued.not_before,
                not_after=issued.not_after,
            ),
        )
        self._scheduler.schedule(volume.volume_id, renew_at)
        now = self._clock.monotonic()
        since_publish = now - state.published_at if first and state.published_at is not None else None
        done = IssuanceDone(
            issued=issued, first=first, recovered=recovered, duration=now - started, since_publish=since_publish
        )
        self._observer.issued(volume, done)

    def _with_token(self, volume: Volume, plan: RequestPlan) -> RequestPlan:
        if plan.token is not None or not self._use_token_request:
            return plan
        token = service_account_token(volume)
        if token is None:
            raise InvalidVolume(
                f'{TOKENS} is missing: the CSIDriver object must request a token (tokenRequests with audience "")'
            )
        return replace(plan, token=token)

    async def _renew(self, volume_id: str) -> None:
        """Issue for a live volume: a renewal, or the first certificate of a continue-on-not-ready volume."""
        async with self._volume_lock(volume_id):
            state = self._states.get(volume_id)
            if state is None:
                return
            try:
                pod: Mapping[str, Any] | None = None
                if self._gates is not None:
                    verdict = await self._gates.check(*_pod_key(state.volume))
                    if not verdict.ready:
                        self._gates_unmet(state, verdict.reason)
                        return
                    # Passed (on this check or by the wake-up): a later pod event must not fire again.
                    self._drop_gate_wake(state)
                    pod = verdict.pod
                first = state.issued is None and state.next_issuance is None
                await self._issue(state, pod=pod)
                message = "certificate issued" if first else "certificate renewed"
                log.info(
                    message,
                    extra={
                        "volume_id": volume_id,
                        "request": state.status.request_name,
                        "renew_at": str(state.next_issuance),
                    },
                )
            except CertcsiError as e:
                if _not_ready(e):
                    self._renewal_not_ready(state, e)
                else:
                    self._renewal_failed(state, e)
            except Exception as e:  # a renewal must never stop: the certificate stays while retries go on
                log.exception("renewal failed unexpectedly", extra={"volume_id": volume_id})
                self._renewal_failed(state, IssuerUnavailable(type(e).__name__))

    def _renewal_not_ready(self, state: _State, error: CertcsiError) -> None:
        """Try again soon; the scheduler holds it until the node is ready. Nothing is counted or kept."""
        state.not_ready_checks += 1
        delay = NOT_READY_BACKOFF.next(state.not_ready_checks, rng=self._rng)
        self._scheduler.schedule(state.volume.volume_id, self._clock.now() + timedelta(seconds=delay))
        log.log(
            logging.INFO if state.not_ready_checks == 1 else logging.DEBUG,
            "issuance not possible yet; waiting",
            extra={"volume_id": state.volume.volume_id, "reason": str(error)},
        )

    def _retry_delay(self, state: _State) -> float:
        """The failure backoff, but never past half the time the certificate has left."""
        delay = self._backoff.next(state.retries, rng=self._rng)
        not_after = state.status.not_after
        if not_after is not None:
            left = (not_after - self._clock.now()).total_seconds()
            if left > 0:
                delay = min(delay, max(MIN_RETRY, left / 2))
        return delay

    def _renewal_failed(self, state: _State, error: CertcsiError) -> None:
        failed = replace(
            state.status, failures=state.failures + 1, last_error=str(error), last_error_time=self._clock.now()
        )
        self._set_status(state, failed)
        state.retries += 1
        delay = self._retry_delay(state)
        retry = self._clock.now() + timedelta(seconds=delay)
        self._scheduler.schedule(state.volume.volume_id, retry)
        log.warning(
            "issuance failed; certificate kept, retrying" if state.issued else "issuance failed; retrying",
            extra={"volume_id": state.volume.volume_id, "error": str(error), "retry_in_s": round(delay, 1)},
        )

    # -- readiness gates --------------------------------------------------------------------------

    def _gates_unmet(self, state: _State, reason: str) -> None:
        """Re-check at the gate backoff, or as soon as a pod event shows the gates passing."""
        assert self._gates is not None
        volume_id = state.volume.volume_id
        state.gate_checks += 1
        if state.last_error != reason:
            self._set_status(state, replace(state.status, last_error=reason, last_error_time=self._clock.now()))
        delay = self._gates.backoff.next(state.gate_checks, rng=self._rng)
        self._scheduler.schedule(volume_id, self._clock.now() + timedelta(seconds=delay))
        if state.gate_wake is None:
            state.gate_wake = self._gates.on_ready(*_pod_key(state.volume), lambda: self._gates_passed(volume_id))
        # Once per wait at INFO: a volume waiting for hours is re-checked every cap seconds.
        log.log(
            logging.INFO if state.gate_checks == 1 else logging.DEBUG,
            "waiting for pod readiness gates",
            extra={"volume_id": volume_id, "reason": reason, "recheck_in_s": round(delay, 1)},
        )

    def _gates_passed(self, volume_id: str) -> None:
        state = self._states.get(volume_id)
        if state is not None:
            state.gate_wake = None
            self._scheduler.schedule(volume_id, self._clock.now())

    @staticmethod
    def _drop_gate_wake(state: _State) -> None:
        if state.gate_wake is not None:
            state.gate_wake.cancel()
            state.gate_wake = None

    def _for_driver(self, volume: Volume, *, pod: Mapping[str, Any] | None) -> Volume:
        """The volume with ${POD_IP}: the pod's address once the gates passed, a placeholder before."""
        if self._gates is None:
            return volume
        pod_ip = self._gates.gates.placeholder_pod_ip() if pod is None else self._gates.gates.pod_ip(pod)
        return replace(volume, pod_ip=pod_ip)

    # -- helpers ----------------------------------------------------------------------------------

    def _token_off_the_disk(self, volume: Volume, next_issuance: datetime | None) -> None:
        """Rewrite a Go driver's metadata.json without the pod's token (certcsi keeps it in memory only)."""
        try:
            self._write_metadata(volume, next_issuance, live=True)
        except (OSError, CertcsiError) as err:
            # The volume is still served and renewed; the next metadata write leaves the token out too.
            log.warning("could not rewrite metadata.json", extra={"volume_id": volume.volume_id, "error": str(err)})

    def _kept_secrets(self, volume: Volume) -> dict[str, str]:
        return {k: v for k, v in volume.secrets.items() if k in self._driver.secret_attributes}

    def _write_metadata(self, volume: Volume, next_issuance: datetime | None, *, live: bool) -> None:
        """metadata.json as csi-lib reads it on renewal: the attributes and the driver's kept secrets (the
        PKCS#12 password; never the token); a live volume without a certificate has Go's zero time."""
        if next_issuance is None and live:
            next_issuance = NOT_ISSUED_YET
        self._store.write_metadata(
            Metadata(
                volume_id=volume.volume_id,
                target_path=volume.target_path,
                next_issuance_time=next_issuance,
                volume_context={**volume.attributes, **self._kept_secrets(volume)},
                volume_mount_group="" if volume.mount_group is None else str(volume.mount_group),
            )
        )

    def _set_status(self, state: _State, status: VolumeStatus) -> None:
        """Keep `status` in memory and in status.json (rewritten only when it changed)."""
        if status == state.status:
            return
        state.status = status
        self._write_status(state)

    def _write_status(self, state: _State) -> None:
        volume_id = state.volume.volume_id
        try:
            write_status(self._store.volume_dir(volume_id), state.status)
        except OSError as err:
            # Only `inspect` reads it: a full or vanished volume directory must not fail issuance.
            log.warning("could not write status.json", extra={"volume_id": volume_id, "error": str(err)})

    def _read_status(self, volume_id: str) -> VolumeStatus:
        try:
            return read_status(self._store.volume_dir(volume_id)) or VolumeStatus()
        except (OSError, ValueError) as err:
            log.warning("ignoring unreadable status.json", extra={"volume_id": volume_id, "error": str(err)})
            return VolumeStatus()

    def _volume_lock(self, volume_id: str) -> _VolumeLock:
        return _VolumeLock(self, volume_id)

    def snapshot(self) -> list[VolumeView]:
        """Every managed volume, without secrets (computed on each call)."""
        return [_view(state) for state in self._states.values()]

    def snapshot_in_slices(self, size: int) -> Iterator[list[VolumeView]]:
        """`snapshot()` in slices of `size` views, each made when asked for: a metrics scrape lets the event
        loop run between slices, and holds one slice's views at a time (10,000 views kept through a scrape
        would each pass through the garbage collector's generations). The volumes managed at the call."""
        states = list(self._states.values())
        return ([_view(state) for state in states[start : start + size]] for start in range(0, len(states), size))

    def status(self) -> list[dict[str, object]]:
        """What `inspect` and the metrics show: one row per volume, no secrets."""
        rows: list[dict[str, object]] = []
        for volume_id, state in sorted(self._states.items()):
            rows.append(
                {
                    "volume_id": volume_id,
                    "pod": f"{state.volume.pod_namespace}/{state.volume.pod_name}",
                    "not_after": state.issued.not_after.isoformat() if state.issued else None,
                    "next_issuance": state.next_issuance.isoformat() if state.next_issuance else None,
                    "request": state.issued.request_name if state.issued else None,
                    "last_error": state.last_error,
                }
            )
        return rows


def _certificate_file(files: Mapping[str, bytes], issued: Issued) -> str | None:
    """The name the driver gave the certificate chain (for inspect, whatever the driver's flags)."""
    return next((name for name, content in files.items() if content == issued.certificate_pem), None)


class _VolumeLock:
    """A per-volume asyncio.Lock that is dropped once nobody holds or waits for it."""

    def __init__(self, manager: Manager, volume_id: str) -> None:
        self._m = manager
        self._id = volume_id

    async def __aenter__(self) -> None:
        m = self._m
        lock = m._locks.setdefault(self._id, asyncio.Lock())
        m._lock_users[self._id] = m._lock_users.get(self._id, 0) + 1
        try:
            await lock.acquire()
        except BaseException:
            self._release_user()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._m._locks[self._id].release()
        self._release_user()

    def _release_user(self) -> None:
        m = self._m
        m._lock_users[self._id] -= 1
        if m._lock_users[self._id] == 0:
            del m._lock_users[self._id]
            del m._locks[self._id]
