"""The DaemonSet controller: one pod of the template on every node it fits, updated in place, counted in status.

A daemon pod is the template with a required node affinity for its node (`matchFields metadata.name`),
the DaemonSet tolerations (not-ready, unreachable, the pressure taints, unschedulable) and the labels
`controller-revision-hash` and `pod-template-generation`; the scheduler then binds it. When the
template changes (a new generation), the pod of each node is deleted and recreated (RollingUpdate,
one node at a time). Status carries the counts `kubectl get ds` and `helm --wait` read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from certcsi.kube import Transport
from certcsi.sandbox.controllers.informing import Informer
from certcsi.sandbox.controllers.owning import PodOwnerController, label
from certcsi.sandbox.controllers.owning import as_dict as _d
from certcsi.sandbox.controllers.templating import pod_from_template, pod_ready, template_hash, terminating
from certcsi.sandbox.scheduling import affinity_holds, untolerated_taint

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PATH = "/apis/apps/v1/daemonsets"
GENERATION_LABEL = "pod-template-generation"
REVISION_LABEL = "controller-revision-hash"
_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


def daemon_pod(ds: Obj, node: str) -> Obj:
    meta = _d(ds.get("metadata"))
    template = _d(_d(ds.get("spec")).get("template"))
    pod = pod_from_template(
        ds,
        generate_name=f"{meta.get('name')}-",
        labels={REVISION_LABEL: template_hash(template), GENERATION_LABEL: str(meta.get("generation") or 1)},
    )
    spec = pod["spec"]
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    tolerations = spec.setdefault("tolerations", [])
    wanted = list(_TOLERATIONS)
    if spec.get("hostNetwork") is True:
        wanted.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    for key, effect in wanted:
        if not any(_d(t).get("key") == key and _d(t).get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    return pod


def fits(ds: Obj, node: Obj) -> bool:
    """Would a daemon pod of `ds` run on `node` (its selector, affinity and taints, with the DS tolerations)?"""
    spec = daemon_pod(ds, str(_d(node.get("metadata")).get("name")))["spec"]
    template_spec = _d(_d(_d(ds.get("spec")).get("template")).get("spec"))
    return affinity_holds(template_spec, node) and untolerated_taint(spec, node) is None


class DaemonSetController(PodOwnerController):
    plural = "daemonsets"

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        self.nodes = Informer(transport, "/api/v1/nodes", on_change=lambda _node: self._all())

    def informers(self) -> list[Informer]:
        return [*super().informers(), self.nodes]

    def _all(self) -> None:
        for ds in self.owners.values():
            self.enqueue(ds)

    async def reconcile(self, owner: Obj) -> None:
        ds = owner
        generation = str(_d(ds.get("metadata")).get("generation") or 1)
        by_node: dict[str, list[Obj]] = {}
        for pod in self.pods_of(ds):
            by_node.setdefault(_daemon_node(pod), []).append(pod)
        wanted = {str(_d(n.get("metadata")).get("name")): n for n in self.nodes.values() if fits(ds, n)}
        for node, pods in by_node.items():
            live = [p for p in pods if not terminating(p)]
            for pod in live if node not in wanted else live[1:]:
                await self.delete(pod)
        for node in wanted:
            if not by_node.get(node):
                await self.create(daemon_pod(ds, node))
        # RollingUpdate with maxUnavailable 1: replace one outdated pod once nothing else is in flight.
        live = [p for node in wanted for p in by_node.get(node, []) if not terminating(p)]
        outdated = [p for p in live if label(p, GENERATION_LABEL) != generation]
        in_flight = any(terminating(p) for pods in by_node.values() for p in pods) or any(
            not pod_ready(p) for p in live if label(p, GENERATION_LABEL) == generation
        )
        if outdated and not in_flight:
            await self.delete(outdated[0])
        status = _status(wanted, by_node, generation)
        if _d(ds.get("status")) != {**_d(ds.get("status")), **status}:
            await self.write_status(ds, status)


def _status(wanted: Mapping[str, Obj], by_node: Mapping[str, list[Obj]], generation: str) -> Obj:
    scheduled = [node for node in wanted if any(not terminating(p) for p in by_node.get(node, []))]
    pods = [p for node in wanted for p in by_node.get(node, []) if not terminating(p)]
    ready = sum(1 for p in pods if pod_ready(p))
    return {
        "currentNumberScheduled": len(scheduled),
        "desiredNumberScheduled": len(wanted),
        "numberMisscheduled": sum(1 for node in by_node if node not in wanted),
        "numberReady": ready,
        "numberAvailable": ready,
        "numberUnavailable": len(wanted) - ready,
        "updatedNumberScheduled": sum(1 for p in pods if label(p, GENERATION_LABEL) == generation),
        "observedGeneration": int(generation),
    }


def _daemon_node(pod: Obj) -> str:
    """The node a daemon pod is for: where it runs, else the node its affinity names."""
    spec = _d(pod.get("spec"))
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = _d(
        _d(_d(spec.get("affinity")).get("nodeAffinity")).get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    for term in required.get("nodeSelectorTerms") or []:
        for field in _d(term).get("matchFields") or []:
            if _d(field).get("key") == "metadata.name" and _d(field).get("values"):
                return str(_d(field)["values"][0])
    return ""
