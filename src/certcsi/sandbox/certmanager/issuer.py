"""cert-manager's CA issuer: Issuers / ClusterIssuers with `spec.ca.secretName` sign approved requests.

One controller, watching CertificateRequests, Issuers, ClusterIssuers and Secrets in the Store. For
each request it decides as cert-manager's certificaterequests controller does: denied → Ready=False
Denied with a failureTime; not approved → left alone; issuer missing, of no known type, not Ready, or
its Secret unusable → Ready=False Pending (re-tried when an issuer or Secret changes); otherwise one
status write with the certificate. Issuers get Ready=True KeyPairVerified when their Secret holds a
CA key pair. Each CA Secret is parsed once per resourceVersion, never per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from certcsi.sandbox.apiserver.resources import BY_KEY, CERT_MANAGER, ResourceType
from certcsi.sandbox.apiserver.storage import Store, Watch, now_rfc3339
from certcsi.sandbox.certmanager import conditions as cond
from certcsi.sandbox.certmanager.signer import CASigner, KeyPairError, TemplateError, load_signer
from certcsi.sandbox.certmanager.watching import Key, key_of, run_watch, write_status

log = logging.getLogger(__name__)

REQUESTS = BY_KEY[f"{CERT_MANAGER}/certificaterequests"]
ISSUERS = BY_KEY[f"{CERT_MANAGER}/issuers"]
CLUSTER_ISSUERS = BY_KEY[f"{CERT_MANAGER}/clusterissuers"]
SECRETS = BY_KEY["/secrets"]

# Issuer types cert-manager knows; a request for one of the others belongs to another controller.
_OTHER_ISSUER_TYPES = ("acme", "selfSigned", "vault", "venafi")

Obj = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]


def _summary(condition: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(condition.get(k) for k in ("status", "reason", "message", "observedGeneration"))


class _Pending(Exception):
    """The request must wait (Ready=False Pending) for an issuer or Secret to change."""


class CAIssuer:
    """The CA issuer controller; `start()` inside a running loop, `await stop()` to end it."""

    def __init__(
        self,
        store: Store,
        *,
        cluster_resource_namespace: str = "cert-manager",
        signing_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._store = store
        self._cluster_ns = cluster_resource_namespace
        self._delay = signing_delay
        self._clock = clock
        self._sleep = sleep
        self._signers: dict[tuple[str, str], tuple[str, CASigner | KeyPairError]] = {}
        self._waiting: set[Key] = set()  # requests pending on an issuer or Secret
        self._signing: dict[Key, tuple[str, asyncio.Task[None]]] = {}  # delayed signings in flight, by uid
        self._watches: list[Watch] = []
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._tasks:
            raise RuntimeError("the CA issuer is already running")
        # Issuers first, synchronously: requests replayed below then find them Ready.
        for rt in (ISSUERS, CLUSTER_ISSUERS):
            for issuer in list(self._store.all_objects(rt)):
                self._sync_issuer(rt, issuer)
        since = self._store.resource_version
        for rt in (ISSUERS, CLUSTER_ISSUERS, SECRETS):
            self._watches.append(self._store.watch(rt, None, since=since))
        self._watches.append(self._store.watch(REQUESTS, None, since=None))
        handlers = (self._on_issuer(ISSUERS), self._on_issuer(CLUSTER_ISSUERS), self._on_secret, self._on_request)
        self._tasks = [
            asyncio.create_task(run_watch(w, handler, log=log), name=f"certmanager-ca-{w.rt.plural}")
            for w, handler in zip(self._watches, handlers, strict=True)
        ]

    async def stop(self) -> None:
        for watch in self._watches:
            watch.close()
        for _, task in self._signing.values():
            task.cancel()
        tasks = [*self._tasks, *(task for _, task in self._signing.values())]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watches, self._tasks = [], []
        self._signing.clear()

    # -- event handlers ---------------------------------------------------------------------------

    def _on_request(self, event_type: str, obj: Obj) -> None:
        key = key_of(obj)
        if event_type == "DELETED":
            self._waiting.discard(key)
            in_flight = self._signing.get(key)
            if in_flight is not None and in_flight[0] == obj["metadata"]["uid"]:
                del self._signing[key]
                in_flight[1].cancel()
            return
        current = self._store.find(REQUESTS, key[0], key[1])
        if current is not None:  # the newest version decides, never a stale event
            self._sync_request(current)

    def request_changed(self, cr: Obj) -> None:
        """Bring `cr` (as just stored) one step on now, as its watch event would moments later."""
        if self._tasks:
            self._sync_request(cr)

    def _on_issuer(self, rt: ResourceType) -> Callable[[str, Obj], None]:
        def handle(event_type: str, obj: Obj) -> None:
            key = key_of(obj)
            current = self._store.find(rt, key[0] or None, key[1])
            if current is not None:
                self._sync_issuer(rt, current)
            self._retry_waiting()

        return handle

    def _on_secret(self, event_type: str, obj: Obj) -> None:
        namespace, name = key_of(obj)
        touched = False
        for rt in (ISSUERS, CLUSTER_ISSUERS):
            for issuer in list(self._store.all_objects(rt)):
                if self._secret_ref(rt, issuer) == (namespace, name):
                    self._sync_issuer(rt, issuer)
                    touched = True
        if touched:
            self._retry_waiting()

    def _retry_waiting(self) -> None:
        waiting, self._waiting = self._waiting, set()
        for namespace, name in sorted(waiting):
            current = self._store.find(REQUESTS, namespace, name)
            if current is not None:
                self._sync_request(current)

    # -- issuers ----------------------------------------------------------------------------------

    def _secret_ref(self, rt: ResourceType, issuer: Mapping[str, Any]) -> tuple[str, str] | None:
        ca = (issuer.get("spec") or {}).get("ca")
        if not isinstance(ca, Mapping) or not ca.get("secretName"):
            return None
        namespace = self._cluster_ns if rt is CLUSTER_ISSUERS else str(issuer["metadata"].get("namespace", ""))
        return namespace, str(ca["secretName"])

    def _signer(self, namespace: str, name: str) -> CASigner:
        """The CA from Secret namespace/name, parsed once per Secret version; raises KeyPairError / LookupError."""
        secret = self._store.find(SECRETS, namespace, name)
        if secret is None:
            raise LookupError(f'secret "{name}" not found')
        version = secret["metadata"]["resourceVersion"]
        cached = self._signers.get((namespace, name))
        if cached is None or cached[0] != version:
            try:
                parsed: CASigner | KeyPairError = load_signer(secret)
            except KeyPairError as exc:
                parsed = exc
            cached = self._signers[(namespace, name)] = (version, parsed)
        if isinstance(cached[1], KeyPairError):
            raise cached[1]
        return cached[1]

    def _sync_issuer(self, rt: ResourceType, issuer: Obj) -> None:
        ref = self._secret_ref(rt, issuer)
        if ref is None:
            return  # not a CA issuer: another controller's
        try:
            self._signer(*ref)
            ready, reason, message = cond.TRUE, "KeyPairVerified", "Signing CA verified"
        except KeyPairError as exc:
            ready, reason, message = cond.FALSE, "ErrInvalidKeyPair", f"Error getting keypair for CA issuer: {exc}"
        except LookupError as exc:
            ready, reason, message = cond.FALSE, "ErrGetKeyPair", f"Error getting keypair for CA issuer: {exc}"
        existing = cond.find(cond.conditions_of(issuer), cond.READY)
        generation = issuer["metadata"].get("generation")
        if existing is not None and _summary(existing) == (ready, reason, message, generation):
            return

        def change(status: Obj) -> None:
            cond.set_condition(
                status,
                type_=cond.READY,
                status_value=ready,
                reason=reason,
                message=message,
                now=now_rfc3339(self._clock),
                observed_generation=generation,
            )

        write_status(self._store, rt, issuer, change, log=log)

    # -- requests ---------------------------------------------------------------------------------

    def _sync_request(self, cr: Obj, *, delay_served: bool = False) -> None:
        """Bring one request one step on; `delay_served` once its signing delay has passed."""
        spec = cr.get("spec") or {}
        ref = spec.get("issuerRef") or {}
        if ref.get("group") not in (None, "", CERT_MANAGER):
            return  # an external issuer's request
        if cond.is_true(cr, cond.DENIED):
            if cond.ready_reason(cr) != cond.DENIED_REASON:
                self._fail(cr, reason=cond.DENIED_REASON, message=cond.DENIED_MESSAGE)
            return
        if cond.is_true(cr, cond.INVALID_REQUEST) or not cond.is_true(cr, cond.APPROVED):
            return
        if cond.ready_reason(cr) in (cond.FAILED, cond.ISSUED) or (cr.get("status") or {}).get("certificate"):
            return
        key = key_of(cr)
        if key in self._signing and not delay_served:
            return
        try:
            signer = self._resolve(cr, key)
        except _Pending as pending:
            self._waiting.add(key)
            self._pending(cr, str(pending))
            return
        if signer is None:
            return
        if self._delay > 0 and not delay_served:
            uid = cr["metadata"]["uid"]
            self._signing[key] = (uid, asyncio.create_task(self._sign_later(key, uid)))
        else:
            self._sign(cr, signer)

    def _resolve(self, cr: Obj, key: Key) -> CASigner | None:
        """The signer for `cr`, None when its issuer is not a CA issuer; _Pending with cert-manager's message."""
        ref = (cr.get("spec") or {}).get("issuerRef") or {}
        kind = ref.get("kind") or "Issuer"
        name = str(ref.get("name", ""))
        rt = CLUSTER_ISSUERS if kind == "ClusterIssuer" else ISSUERS
        issuer = self._store.find(rt, None if rt is CLUSTER_ISSUERS else key[0], name)
        if issuer is None or kind not in ("Issuer", "ClusterIssuer"):
            raise _Pending(f'Referenced "{kind}" not found: {kind.lower()}.{CERT_MANAGER} "{name}" not found')
        secret_ref = self._secret_ref(rt, issuer)
        if secret_ref is None:
            if any(t in (issuer.get("spec") or {}) for t in _OTHER_ISSUER_TYPES):
                return None
            where = f"{issuer['metadata'].get('namespace')}/{name}" if rt is ISSUERS else name
            raise _Pending(f"Missing issuer type: no issuer specified for {kind} '{where}'")
        if not cond.is_true(issuer, cond.READY):
            raise _Pending("Referenced issuer does not have a Ready status condition")
        namespace, secret = secret_ref
        try:
            return self._signer(namespace, secret)
        except LookupError as exc:
            raise _Pending(f"Referenced secret {namespace}/{secret} not found: {exc}") from None
        except KeyPairError as exc:
            raise _Pending(f"Failed to parse signing CA keypair from secret {namespace}/{secret}: {exc}") from None

    async def _sign_later(self, key: Key, uid: str) -> None:
        await self._sleep(self._delay)
        if self._signing.get(key, ("", None))[0] == uid:
            del self._signing[key]
        current = self._store.find(REQUESTS, key[0], key[1])
        if current is not None:
            # Everything is checked again: the request or its issuer may have changed meanwhile. One
            # re-created under the same name while we slept gets a delay of its own.
            self._sync_request(current, delay_served=current["metadata"]["uid"] == uid)

    def _sign(self, cr: Obj, signer: CASigner) -> None:
        now = self._clock()
        try:
            issued = signer.sign(cr.get("spec") or {}, now=datetime.fromtimestamp(now, UTC))
        except TemplateError as exc:
            self._fail(cr, reason=cond.FAILED, message=f"Error generating certificate template: {exc}", invalid=True)
            return
        except ValueError as exc:
            self._fail(cr, reason=cond.FAILED, message=f"Error signing certificate: {exc}")
            return
        stamp = now_rfc3339(lambda: now)

        def change(status: Obj) -> None:
            status["certificate"] = issued.certificate
            status["ca"] = issued.ca
            cond.set_condition(
                status,
                type_=cond.READY,
                status_value=cond.TRUE,
                reason=cond.ISSUED,
                message=cond.ISSUED_MESSAGE,
                now=stamp,
            )

        write_status(self._store, REQUESTS, cr, change, log=log)

    def _pending(self, cr: Obj, message: str) -> None:
        existing = cond.find(cond.conditions_of(cr), cond.READY)
        if existing is not None and existing.get("reason") == cond.PENDING and existing.get("message") == message:
            return

        def change(status: Obj) -> None:
            cond.set_condition(
                status,
                type_=cond.READY,
                status_value=cond.FALSE,
                reason=cond.PENDING,
                message=message,
                now=now_rfc3339(self._clock),
            )

        write_status(self._store, REQUESTS, cr, change, log=log)

    def _fail(self, cr: Obj, *, reason: str, message: str, invalid: bool = False) -> None:
        stamp = now_rfc3339(self._clock)

        def change(status: Obj) -> None:
            status.setdefault("failureTime", stamp)
            if invalid:
                cond.set_condition(
                    status,
                    type_=cond.INVALID_REQUEST,
                    status_value=cond.TRUE,
                    reason="SigningError",
                    message=message,
                    now=stamp,
                )
            cond.set_condition(
                status, type_=cond.READY, status_value=cond.FALSE, reason=reason, message=message, now=stamp
            )

        write_status(self._store, REQUESTS, cr, change, log=log)
