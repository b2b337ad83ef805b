"""The sandbox's kube-scheduler: binds each unscheduled pod to a Ready node that fits it.

A pod fits a node when the node is Ready and schedulable, carries every `nodeSelector` label,
satisfies one term of the required node affinity (`matchExpressions` on labels, `matchFields` on
`metadata.name`, as the DaemonSet controller writes them) and has no NoSchedule/NoExecute taint
the pod does not tolerate. Binding writes what kube-apiserver's `pods/binding` storage writes:
`spec.nodeName`, then the `PodScheduled=True` condition, and the scheduler's `Scheduled` event;
a pod that fits nowhere gets `PodScheduled=False` (Unschedulable) and a `FailedScheduling` event
with kube-scheduler's message, and is tried again whenever a node changes.

It runs in the API server's process on the store, like the sandbox's other control-plane loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.storage import Store, Watch, now_rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SCHEDULER = "default-scheduler"
PODS = BY_KEY["/pods"]
NODES = BY_KEY["/nodes"]
EVENTS = BY_KEY["/events"]
_NO_NODES = "no nodes available to schedule pods"


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ds(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _ready(node: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in _ds(_d(node.get("status")).get("conditions"))
    )


def _requirement_holds(requirement: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    """One NodeSelectorRequirement against the node's labels (or fields)."""
    key, operator = str(requirement.get("key", "")), requirement.get("operator")
    wanted = [str(v) for v in requirement.get("values") or []]
    present, value = key in values, values.get(key, "")
    if operator == "In":
        return present and value in wanted
    if operator == "NotIn":
        return not present or value not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            number, bound = int(value), int(wanted[0])
        except ValueError:
            return False
        return number > bound if operator == "Gt" else number < bound
    return False


def affinity_holds(pod_spec: Mapping[str, Any], node: Obj) -> bool:
    labels = {str(k): str(v) for k, v in _d(_d(node.get("metadata")).get("labels")).items()}
    selector = _d(pod_spec.get("nodeSelector"))
    if any(labels.get(str(k)) != str(v) for k, v in selector.items()):
        return False
    required = _d(
        _d(_d(pod_spec.get("affinity")).get("nodeAffinity")).get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    terms = _ds(required.get("nodeSelectorTerms"))
    if not terms:
        return True
    fields = {"metadata.name": str(_d(node.get("metadata")).get("name", ""))}
    return any(
        all(_requirement_holds(r, labels) for r in _ds(term.get("matchExpressions")))
        and all(_requirement_holds(r, fields) for r in _ds(term.get("matchFields")))
        and (term.get("matchExpressions") or term.get("matchFields"))
        for term in terms
    )


def _tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for toleration in tolerations:
        effect = toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration.get("key") == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def untolerated_taint(pod_spec: Mapping[str, Any], node: Obj) -> Mapping[str, Any] | None:
    tolerations = _ds(pod_spec.get("tolerations"))
    for taint in _ds(_d(node.get("spec")).get("taints")):
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
            return taint
    return None


def why_not(pod: Obj, node: Obj) -> str | None:
    """Why `pod` cannot go to `node`, in kube-scheduler's words (counted per reason), or None when it fits."""
    spec = _d(pod.get("spec"))
    if _d(node.get("spec")).get("unschedulable"):
        return "node(s) were unschedulable"
    if not _ready(node):
        return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    if not affinity_holds(spec, node):
        return "node(s) didn't match Pod's node affinity/selector"
    taint = untolerated_taint(spec, node)
    if taint is not None:
        return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    return None


def unschedulable_message(reasons: Mapping[str, int], nodes: int) -> str:
    if not nodes:
        return _NO_NODES
    parts = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return (
        f"0/{nodes} nodes are available: {parts}. preemption: 0/{nodes} nodes are available: "
        f"{nodes} Preemption is not helpful for scheduling."
    )


class Scheduler:
    """Schedules the pods of `store`; `start()` inside a running loop, `await stop()` to end it."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._watches: list[Watch] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._waiting: dict[tuple[str, str], str] = {}  # unschedulable pods: (namespace, name) -> message
        self._spread: dict[str, int] = {}  # pods bound per node, to spread them when several fit

    def start(self) -> None:
        pods = self._store.watch(PODS, None, since=None)
        nodes = self._store.watch(NODES, None, since=None)
        self._watches = [pods, nodes]
        self._tasks = [
            asyncio.create_task(self._run(pods, self._on_pod), name="scheduler pods"),
            asyncio.create_task(self._run(nodes, self._on_node), name="scheduler nodes"),
        ]

    async def stop(self) -> None:
        for watch in self._watches:
            watch.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watches, self._tasks = [], []

    @staticmethod
    async def _run(watch: Watch, handle: Callable[[str, Obj], None]) -> None:
        async for event in watch:
            try:
                handle(event.type, event.object)
            except Exception:
                log.exception("scheduler event handler failed")

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        meta, spec = _d(pod.get("metadata")), _d(pod.get("spec"))
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        if event_type == "DELETED" or spec.get("nodeName") or meta.get("deletionTimestamp"):
            self._waiting.pop(key, None)
            return
        if (spec.get("schedulerName") or SCHEDULER) != SCHEDULER:
            return
        self._schedule(pod)

    def _on_node(self, event_type: str, node: Obj) -> None:
        if event_type == "DELETED":
            return
        for namespace, name in list(self._waiting):
            pod = self._store.find(PODS, namespace, name)
            if pod is not None:
                self._schedule(pod)

    def _schedule(self, pod: Obj) -> None:
        meta = _d(pod.get("metadata"))
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        nodes, _ = self._store.list(NODES, None)
        reasons: dict[str, int] = {}
        fitting: list[str] = []
        for node in nodes:
            reason = why_not(pod, node)
            name = str(_d(node.get("metadata")).get("name", ""))
            if reason is None:
                fitting.append(name)
            else:
                reasons[reason] = reasons.get(reason, 0) + 1
        if not fitting:
            message = unschedulable_message(reasons, len(nodes))
            if self._waiting.get(key) != message:
                self._waiting[key] = message
                self._unschedulable(pod, message)
            return
        self._waiting.pop(key, None)
        chosen = min(fitting, key=lambda name: (self._spread.get(name, 0), name))
        if self._bind(pod, chosen):
            self._spread[chosen] = self._spread.get(chosen, 0) + 1

    def _bind(self, pod: Obj, node: str) -> bool:
        """What kube-apiserver's binding storage does for a Binding to `node`; False if the pod moved on."""
        meta = _d(pod.get("metadata"))
        namespace, name, uid = str(meta.get("namespace", "")), str(meta.get("name", "")), meta.get("uid")

        def assign(current: Obj) -> None:
            current_meta, current_spec = _d(current.get("metadata")), _d(current.get("spec"))
            if current_meta.get("uid") != uid or current_spec.get("nodeName") or current_meta.get("deletionTimestamp"):
                raise _Skip
            current_spec["nodeName"] = node

        try:
            self._store.mutate(PODS, namespace, name, assign)
            self._set_scheduled(namespace, name, {"type": "PodScheduled", "status": "True"})
        except (_Skip, ApiError) as exc:
            log.debug("binding skipped pod=%s/%s reason=%s", namespace, name, exc)
            return False
        self._event(pod, "Normal", "Scheduled", f"Successfully assigned {namespace}/{name} to {node}")
        log.info("pod scheduled pod=%s/%s node=%s", namespace, name, node)
        return True

    def _unschedulable(self, pod: Obj, message: str) -> None:
        meta = _d(pod.get("metadata"))
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
        with contextlib.suppress(ApiError):
            self._set_scheduled(namespace, name, condition)
        self._event(pod, "Warning", "FailedScheduling", message)

    def _set_scheduled(self, namespace: str, name: str, condition: Obj) -> None:
        stamp = now_rfc3339(self._clock)

        def edit(current: Obj) -> None:
            status = current.get("status")
            if not isinstance(status, dict):
                status = current["status"] = {}
            conditions = [c for c in _ds(status.get("conditions")) if c.get("type") != "PodScheduled"]
            old = next((c for c in _ds(status.get("conditions")) if c.get("type") == "PodScheduled"), {})
            moved = old.get("status") != condition["status"]
            conditions.append(
                {
                    **condition,
                    "lastProbeTime": None,
                    "lastTransitionTime": stamp if moved else old.get("lastTransitionTime", stamp),
                }
            )
            status["conditions"] = conditions

        self._store.mutate(PODS, namespace, name, edit, subresource="status")

    def _event(self, pod: Obj, kind: str, reason: str, message: str) -> None:
        meta = _d(pod.get("metadata"))
        namespace = str(meta.get("namespace", ""))
        stamp = now_rfc3339(self._clock)
        event = {
            "metadata": {"name": f"{meta.get('name')}.{time.time_ns():x}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "namespace": namespace,
                "name": meta.get("name"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": SCHEDULER},
            "reportingComponent": SCHEDULER,
            "reportingInstance": SCHEDULER,
            "action": "Binding" if reason == "Scheduled" else "Scheduling",
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            self._store.create(EVENTS, event, namespace=namespace)
        except ApiError as exc:
            log.debug("scheduler event not recorded pod=%s/%s reason=%s", namespace, meta.get("name"), exc)


class _Skip(Exception):
    """The pod was bound, deleted or replaced since the scheduler read it."""
