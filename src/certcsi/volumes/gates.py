"""Pod readiness gates (`--pod-readiness-gate`): hold a volume's issuance until its pod is ready for it.

Gate values (the flag repeats; every gate must pass):

    pod-ip:any|ipv4|ipv6          status.podIPs (or status.podIP) holds an address of that family
    pod-condition:Type[=Status]   status.conditions has Type with Status (True, False or Unknown; default True)
    pod-annotation:key            metadata.annotations has key with a non-empty value

Evaluation is driven by events: `PodGates` runs ONE pod watch for the node (fieldSelector
`spec.nodeName=<node>`) and keeps a trimmed copy of each pod (only what the gates read), keyed by
(namespace, name, uid). Every event for a pod re-evaluates the volumes waiting on it at once.

The gate backoff (`--gate-backoff-{duration,factor,jitter,cap}`, upstream's defaults 1s, 2, 0.5, 10s)
does not make anything poll. It is the longest an unsatisfied volume goes without a re-check when no
event arrives: after its n-th unsatisfied check a volume is checked again on the next event of its
pod or after backoff(n), whichever comes first. A check reads the cache when the cache is conclusive
(it holds the pod with that uid); otherwise (watch not yet synced, lagging, or down) it reads the pod
once with a GET, so the backoff also bounds those reads. With --continue-on-not-ready the manager
keeps the re-check on its one renewal timer (see `certcsi.volumes.manager`).

Deliberate differences from upstream csi-driver: one watch instead of a GET per check; an annotation
must be non-empty; a condition status must be True, False or Unknown and a condition type or
annotation key a valid qualified name (typos fail at start); the jitter pulls delays down (so the cap
is a true maximum), and a cap of 0 ("uncapped" upstream) still re-checks at least once a day.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import grpc

from certcsi.errors import IssuanceError, KubernetesError
from certcsi.kube.names import is_qualified_name
from certcsi.kube.watching import WatchEvent
from certcsi.volumes.clock import Cancellable, Clock
from certcsi.volumes.schedule import Backoff

log = logging.getLogger(__name__)

GATE_FLAG = "--pod-readiness-gate"
Family = Literal["any", "ipv4", "ipv6"]
PodKey = tuple[str, str, str]  # namespace, name, uid
Pod = Mapping[str, Any]

_FAMILY_WORDS: dict[Family, str] = {"any": "IPv4/IPv6", "ipv4": "IPv4", "ipv6": "IPv6"}
# Documentation addresses (RFC 5737 / RFC 3849): what ${POD_IP} expands to while a volume is
# validated before its pod has an address, so a shape the real address could not fix fails at once.
_PLACEHOLDERS: dict[Family, str] = {"any": "192.0.2.1", "ipv4": "192.0.2.1", "ipv6": "2001:db8::1"}
_STATUSES = ("True", "False", "Unknown")
# Conditions kubelet sets only after every volume of the pod is mounted: waiting for them inside the
# publish call can never end.
_AFTER_MOUNT_CONDITIONS = frozenset({"PodReadyToStartContainers", "ContainersReady", "Ready"})
_DAY = 86400.0



class GateFlagError(ValueError):
    """A `--pod-readiness-gate` or `--gate-backoff-*` value breaks a rule (the CLI shows `detail`)."""

    def __init__(self, flag: str, value: str, rule: str) -> None:
        super().__init__(f"{flag} {value!r}: {rule}")
        self.flag = flag
        self.detail = f"{value!r}: {rule}"


class GatesNotMet(IssuanceError):
    """The pod's readiness gates did not pass within the publish's budget; kubelet retries."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


# --- the gates -------------------------------------------------------------------------------------


def _status(pod: Pod) -> Mapping[str, Any]:
    status = pod.get("status")
    return status if isinstance(status, Mapping) else {}


def _metadata(pod: Pod) -> Mapping[str, Any]:
    meta = pod.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def pod_addresses(pod: Pod) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """status.podIPs in order (status.podIP when the list is absent); unparsable entries skipped."""
    status = _status(pod)
    texts = [e.get("ip") for e in status.get("podIPs") or [] if isinstance(e, Mapping)] or [status.get("podIP")]
    addresses = []
    for text in texts:
        if not isinstance(text, str):
            continue
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        # Go's net.IP.To4 counts an IPv4-mapped IPv6 address as IPv4; so does upstream's gate.
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        addresses.append(address)
    return addresses


@dataclass(frozen=True)
class PodIPGate:
    family: Family

    @property
    def spec(self) -> str:
        return f"pod-ip:{self.family}"

    def address(self, pod: Pod) -> str | None:
        """The pod's first address of this gate's family, or None."""
        for address in pod_addresses(pod):
            if self.family == "any" or (self.family == "ipv4") == (address.version == 4):
                return str(address)
        return None

    def check(self, pod: Pod) -> str | None:
        """None when the gate passes, else why not."""
        return None if self.address(pod) else f"pod has no {_FAMILY_WORDS[self.family]} address yet"


@dataclass(frozen=True)
class PodConditionGate:
    type: str
    status: str = "True"

    @property
    def spec(self) -> str:
        return f"pod-condition:{self.type}={self.status}"

    def check(self, pod: Pod) -> str | None:
        for condition in _status(pod).get("conditions") or []:
            if isinstance(condition, Mapping) and condition.get("type") == self.type:
                if condition.get("status") == self.status:
                    return None
                return f'pod condition {self.type} is "{condition.get("status")}", want "{self.status}"'
        return f"pod has no {self.type} condition yet"


@dataclass(frozen=True)
class PodAnnotationGate:
    key: str

    @property
    def spec(self) -> str:
        return f"pod-annotation:{self.key}"

    def check(self, pod: Pod) -> str | None:
        annotations = _metadata(pod).get("annotations") or {}
        if self.key not in annotations:
            return f'pod has no annotation "{self.key}" yet'
        return None if annotations[self.key] else f'pod annotation "{self.key}" is empty'


Gate = PodIPGate | PodConditionGate | PodAnnotationGate


def parse_gate(text: str) -> Gate:
    """One `--pod-readiness-gate` value; GateFlagError names the rule it breaks."""
    kind, colon, value = text.partition(":")

    def bad(rule: str) -> GateFlagError:
        return GateFlagError(GATE_FLAG, text, rule)

    if kind not in ("pod-ip", "pod-condition", "pod-annotation"):
        forms = "must be pod-ip:<any|ipv4|ipv6>, pod-condition:<Type>[=<Status>] or pod-annotation:<key>"
        raise bad(f"unknown gate type {kind!r}; {forms}" if colon else forms)
    if not value:
        raise bad(f"{kind} needs a value after the colon, e.g. pod-ip:any")
    if kind == "pod-ip":
        if value not in _FAMILY_WORDS:
            raise bad(f"pod-ip family must be any, ipv4 or ipv6, got {value!r}")
        return PodIPGate(value)
    if kind == "pod-annotation":
        if not is_qualified_name(value):
            raise bad(
                "pod-annotation key must be a valid annotation key ([<DNS subdomain>/]<name>, name 1-63 characters)"
            )
        return PodAnnotationGate(value)
    condition_type, equals, status = value.partition("=")
    if not is_qualified_name(condition_type):
        raise bad("pod-condition type must be a valid condition type such as Ready or example.com/my-gate")
    # "Type=" means the default, as upstream reads it.
    if equals and status and status not in _STATUSES:
        raise bad(f"pod-condition status must be True, False or Unknown, got {status!r}")
    return PodConditionGate(condition_type, status or "True")


def parse_gates(values: Iterable[str]) -> tuple[Gate, ...]:
    """Every `--pod-readiness-gate` value, in order, duplicates dropped."""
    return tuple(dict.fromkeys(parse_gate(value) for value in values))


def check_gates_can_pass(gates: Iterable[Gate], *, continue_on_not_ready: bool) -> None:
    """Refuse gates that can never pass while kubelet waits for the publish call.

    kubelet creates the pod sandbox (and so its IP, and the conditions below) only after every
    volume of the pod is mounted; such a gate needs --continue-on-not-ready, as upstream demands.
    """
    if continue_on_not_ready:
        return
    for gate in gates:
        after_mount = isinstance(gate, PodIPGate) or (
            isinstance(gate, PodConditionGate) and gate.type in _AFTER_MOUNT_CONDITIONS and gate.status == "True"
        )
        if after_mount:
            raise GateFlagError(
                GATE_FLAG,
                gate.spec,
                "needs --continue-on-not-ready: kubelet sets this on a pod only after all its volumes are "
                "mounted, so a publish waiting for it would never finish",
            )


@dataclass(frozen=True)
class GateSet:
    """The configured gates, all of which must pass."""

    gates: tuple[Gate, ...]

    def __post_init__(self) -> None:
        if not self.gates:
            raise ValueError("gates: need at least one gate (no gates means no GateSet at all)")

    @property
    def ip_gate(self) -> PodIPGate | None:
        return next((g for g in self.gates if isinstance(g, PodIPGate)), None)

    def unmet(self, pod: Pod) -> str | None:
        """None when every gate passes, else the first unmet gate and why."""
        for gate in self.gates:
            reason = gate.check(pod)
            if reason is not None:
                return f"pod readiness gate {gate.spec} not met: {reason}"
        return None

    def pod_ip(self, pod: Pod) -> str | None:
        """${POD_IP}: the pod's first address of the (first) pod-ip gate's family; None without such a gate."""
        gate = self.ip_gate
        return None if gate is None else gate.address(pod)

    def placeholder_pod_ip(self) -> str | None:
        """What ${POD_IP} validates as before the pod has an address; None without a pod-ip gate."""
        gate = self.ip_gate
        return None if gate is None else _PLACEHOLDERS[gate.family]

    def trim(self, pod: Pod) -> dict[str, Any]:
        """The part of `pod` the gates (and ${POD_IP}) read: all a cached pod needs to hold."""
        meta, status = _metadata(pod), _status(pod)
        keys = {g.key for g in self.gates if isinstance(g, PodAnnotationGate)}
        types = {g.type for g in self.gates if isinstance(g, PodConditionGate)}
        annotations = meta.get("annotations") or {}
        return {
            "metadata": {
                "namespace": meta.get("namespace", ""),
                "name": meta.get("name", ""),
                "uid": meta.get("uid", ""),
                "annotations": {k: v for k, v in annotations.items() if k in keys},
            },
            "status": {
                "podIP": status.get("podIP"),
                "podIPs": list(status.get("podIPs") or []),
                "conditions": [
                    c for c in status.get("conditions") or [] if isinstance(c, Mapping) and c.get("type") in types
                ],
            },
        }


# --- backoff ---------------------------------------------------------------------------------------


# Upstream's --gate-backoff-* defaults.
DEFAULT_GATE_BACKOFF = Backoff(base=1.0, factor=2.0, jitter=0.5, cap=10.0)


def gate_backoff(*, duration: float, factor: float, jitter: float, cap: float) -> Backoff:
    """`--gate-backoff-*`: the longest an unsatisfied volume waits for its n-th re-check, as a `Backoff`.

    Checked by upstream's flag rules (GateFlagError names the flag). `cap` 0 means no cap, bounded
    at one day so a timer stays representable.
    """
    if not duration > 0:
        raise GateFlagError("--gate-backoff-duration", f"{duration:g}s", "must be > 0")
    if not factor >= 1:
        raise GateFlagError("--gate-backoff-factor", f"{factor:g}", "must be >= 1")
    if not 0 <= jitter <= 1:
        raise GateFlagError("--gate-backoff-jitter", f"{jitter:g}", "must be in [0, 1]")
    if cap != 0 and not cap >= duration:
        raise GateFlagError(
            "--gate-backoff-cap", f"{cap:g}s", f"must be 0 (no cap) or >= --gate-backoff-duration ({duration:g}s)"
        )
    ceiling = min(cap or _DAY, _DAY)
    return Backoff(base=min(duration, ceiling), factor=factor, jitter=jitter, cap=ceiling)


# --- the watch -------------------------------------------------------------------------------------


class PodsApi(Protocol):
    """The part of `certcsi.kube.Kube` the gates use (tests pass an in-memory fake)."""

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def watch_pods(self, field_selector: str) -> AsyncIterator[WatchEvent]: ...


@dataclass(frozen=True)
class Verdict:
    """One check of a volume's pod: ready (with the trimmed pod), or why not."""

    ready: bool
    reason: str = ""
    pod: Pod | None = None


class _Subscription:
    """A listener on one pod's changes; `cancel()` is idempotent."""

    def __init__(self, gates: PodGates, key: PodKey, callback: Callable[[], None]) -> None:
        self._gates = gates
        self.key = key
        self.callback = callback
        self.active = True

    def cancel(self) -> None:
        self.active = False
        self._gates._unlisten(self)


class PodGates:
    """The node's gates, evaluated from one pod watch: `check`, `is_ready`, `wait_until_ready`, `on_ready`."""

    def __init__(
        self,
        *,
        kube: PodsApi,
        node_id: str,
        gates: GateSet,
        clock: Clock,
        backoff: Backoff = DEFAULT_GATE_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        self._kube = kube
        self._node_id = node_id
        self.gates = gates
        self.backoff = backoff
        self._clock = clock
        self._rng = rng or random.Random()
        self._pods: dict[PodKey, dict[str, Any]] = {}
        self._listeners: dict[PodKey, dict[int, _Subscription]] = {}
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle --

    async def start(self) -> None:
        """Start the watch and return at once: until it has listed, checks fall back to a GET."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"pod-readiness-gates-{self._node_id}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.synced.clear()
        self._pods.clear()

    async def _run(self) -> None:
        async for kind, obj in self._kube.watch_pods(f"spec.nodeName={self._node_id}"):
            self.apply(kind, obj)

    def apply(self, kind: str, obj: Pod) -> None:
        """Fold one watch event into the cache and wake whoever waits on that pod."""
        if kind == "SYNCED":
            self.synced.set()
            for key in list(self._listeners):
                self._notify(key)
            return
        meta = _metadata(obj)
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""), str(meta.get("uid") or ""))
        if kind == "DELETED":
            self._pods.pop(key, None)
        else:
            self._pods[key] = self.gates.trim(obj)
        self._notify(key)

    # -- evaluation --

    def is_ready(self, namespace: str, name: str, uid: str) -> tuple[bool, str]:
        """From the cache only: (True, "") when every gate passes, else (False, why not)."""
        pod = self._pods.get((namespace, name, uid))
        if pod is None:
            return False, f"pod {namespace}/{name} (uid {uid}) not seen by the pod watch of node {self._node_id} yet"
        reason = self.gates.unmet(pod)
        return (True, "") if reason is None else (False, reason)

    async def check(self, namespace: str, name: str, uid: str) -> Verdict:
        """The cache's answer when it holds the pod; otherwise one GET of the pod."""
        pod = self._pods.get((namespace, name, uid))
        if pod is None:
            fetched = await self._fetch(namespace, name, uid)
            if isinstance(fetched, str):
                return Verdict(False, fetched)
            pod = fetched
        reason = self.gates.unmet(pod)
        return Verdict(True, pod=pod) if reason is None else Verdict(False, reason)

    async def _fetch(self, namespace: str, name: str, uid: str) -> dict[str, Any] | str:
        who = f"pod {namespace}/{name}"
        try:
            pod = await self._kube.get_pod(namespace, name)
        except KubernetesError as err:
            return f"pod readiness gates not evaluated: cannot read {who}: {err}"
        if pod is None:
            return f"pod readiness gates not evaluated: {who} does not exist"
        found = str(_metadata(pod).get("uid") or "")
        if found != uid:
            return f"pod readiness gates not evaluated: {who} now has uid {found}, not the volume's {uid}"
        return self.gates.trim(pod)

    async def wait_until_ready(self, namespace: str, name: str, uid: str, *, timeout: float) -> Pod:
        """The (trimmed) pod once every gate passes; GatesNotMet naming the unmet gate after `timeout` s."""
        deadline = self._clock.monotonic() + timeout
        changed = asyncio.Event()
        subscription = self._listen((namespace, name, uid), changed.set)
        attempt = 0
        try:
            while True:
                changed.clear()  # before the check, so a change during a GET is not lost
                verdict = await self.check(namespace, name, uid)
                if verdict.ready and verdict.pod is not None:
                    return verdict.pod
                remaining = deadline - self._clock.monotonic()
                if remaining <= 0:
                    raise GatesNotMet(f"{verdict.reason} (waited {timeout:g}s)")
                attempt += 1
                await self._wait(changed, min(remaining, self.backoff.next(attempt, rng=self._rng)))
        finally:
            subscription.cancel()

    async def _wait(self, event: asyncio.Event, seconds: float) -> None:
        timer = self._clock.call_later(seconds, event.set)
        try:
            await event.wait()
        finally:
            timer.cancel()

    def on_ready(self, namespace: str, name: str, uid: str, callback: Callable[[], None]) -> Cancellable:
        """Call `callback` once, when an event shows the pod's gates passing (soon, if they pass now)."""
        key = (namespace, name, uid)
        subscription: _Subscription

        def changed() -> None:
            if subscription.active and self.is_ready(*key)[0]:
                subscription.cancel()
                callback()

        subscription = self._listen(key, changed)
        if self.is_ready(*key)[0]:
            asyncio.get_running_loop().call_soon(changed)
        return subscription

    # -- listeners --

    def _listen(self, key: PodKey, callback: Callable[[], None]) -> _Subscription:
        subscription = _Subscription(self, key, callback)
        self._listeners.setdefault(key, {})[id(subscription)] = subscription
        return subscription

    def _unlisten(self, subscription: _Subscription) -> None:
        listeners = self._listeners.get(subscription.key)
        if listeners is None:
            return
        listeners.pop(id(subscription), None)
        if not listeners:
            del self._listeners[subscription.key]

    def _notify(self, key: PodKey) -> None:
        for subscription in list(self._listeners.get(key, {}).values()):
            try:
                subscription.callback()
            except Exception:  # one broken listener must not stop the watch or starve the others
                log.exception("pod readiness listener failed", extra={"namespace": key[0], "pod": key[1]})

    @property
    def waiting(self) -> int:
        """Listeners registered now (lets tests check that nothing is left behind)."""
        return sum(len(listeners) for listeners in self._listeners.values())
