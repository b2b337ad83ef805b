"""The Deployment controller, without ReplicaSets (the sandbox serves none): `replicas` pods of the template.

Pods are named and labelled as a ReplicaSet of the Deployment would name them (`<name>-<hash>-xxxxx`,
`pod-template-hash`) but are owned by the Deployment itself. A new template rolls out as
RollingUpdate does in effect: new pods first, the old ones deleted once the new ones are Ready
(`Recreate` deletes the old ones first). Status carries the replica counts and the Available and
Progressing conditions that `kubectl rollout status` and `helm --wait` read.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from certcsi.sandbox.controllers.owning import PodOwnerController, label
from certcsi.sandbox.controllers.owning import as_dict as _d
from certcsi.sandbox.controllers.templating import pod_from_template, pod_ready, template_hash, terminating
from certcsi.timestamps import rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PATH = "/apis/apps/v1/deployments"
HASH_LABEL = "pod-template-hash"


def _condition(kind: str, *, ok: bool, reason: str, message: str, old: Obj | None, stamp: str) -> Obj:
    status = "True" if ok else "False"
    moved = old is None or old.get("status") != status
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": stamp if moved or old is None or old.get("reason") != reason else old.get("lastUpdateTime"),
        "lastTransitionTime": stamp if moved or old is None else old.get("lastTransitionTime", stamp),
    }


class DeploymentController(PodOwnerController):
    plural = "deployments"

    async def reconcile(self, owner: Obj) -> None:
        deployment = owner
        meta, spec = _d(deployment.get("metadata")), _d(deployment.get("spec"))
        replicas = spec.get("replicas")
        wanted = replicas if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas >= 0 else 1
        current_hash = template_hash(_d(spec.get("template")))
        owned = self.pods_of(deployment)
        live = [p for p in owned if not terminating(p)]
        current = [p for p in live if label(p, HASH_LABEL) == current_hash]
        old = [p for p in live if label(p, HASH_LABEL) != current_hash]
        recreate = _d(spec.get("strategy")).get("type") == "Recreate"
        if recreate and old:
            for pod in old:
                await self.delete(pod)
        elif not (recreate and any(terminating(p) for p in owned)):
            for _ in range(wanted - len(current)):
                pod = pod_from_template(
                    deployment, generate_name=f"{meta.get('name')}-{current_hash}-", labels={HASH_LABEL: current_hash}
                )
                await self.create(pod)
        for pod in sorted(current, key=pod_ready)[: max(len(current) - wanted, 0)]:
            await self.delete(pod)
        if old and not recreate and sum(1 for p in current if pod_ready(p)) >= wanted:
            for pod in old:
                await self.delete(pod)
        await self._report(deployment, wanted=wanted, live=live, current=current, current_hash=current_hash)

    async def _report(
        self, deployment: Obj, *, wanted: int, live: list[Obj], current: list[Obj], current_hash: str
    ) -> None:
        meta = _d(deployment.get("metadata"))
        ready = sum(1 for p in live if pod_ready(p))
        updated_ready = sum(1 for p in current if pod_ready(p))
        stamp = rfc3339(datetime.now(UTC))
        old = {_d(c).get("type"): _d(c) for c in _d(deployment.get("status")).get("conditions") or []}
        replica_set = f'ReplicaSet "{meta.get("name")}-{current_hash}"'
        done = updated_ready >= wanted and len(live) == len(current)
        conditions = [
            _condition(
                "Available",
                ok=ready >= wanted,
                reason="MinimumReplicasAvailable" if ready >= wanted else "MinimumReplicasUnavailable",
                message="Deployment has minimum availability."
                if ready >= wanted
                else "Deployment does not have minimum availability.",
                old=old.get("Available"),
                stamp=stamp,
            ),
            _condition(
                "Progressing",
                ok=True,
                reason="NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                message=f"{replica_set} has successfully progressed." if done else f"{replica_set} is progressing.",
                old=old.get("Progressing"),
                stamp=stamp,
            ),
        ]
        status: Obj = {
            "observedGeneration": meta.get("generation") or 1,
            "replicas": len(live),
            "updatedReplicas": len(current),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": conditions,
        }
        if wanted > ready:
            status["unavailableReplicas"] = wanted - ready
        previous = _d(deployment.get("status"))
        same_counts = all(previous.get(k) == v for k, v in status.items() if k != "conditions")
        same_conditions = [
            (c.get("type"), c.get("status"), c.get("reason")) for c in previous.get("conditions") or []
        ] == [(c["type"], c["status"], c["reason"]) for c in conditions]
        if previous and same_counts and same_conditions:
            return
        await self.write_status(deployment, status)
