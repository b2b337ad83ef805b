"""Pods from a workload's pod template, owned by the workload, as the apps controllers make and delete them."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from certcsi.errors import KubernetesError
from certcsi.kube import Transport

log = logging.getLogger(__name__)

Obj = dict[str, Any]
# apimachinery's rand.SafeEncodeString alphabet: no vowels, no look-alikes, so a hash never spells a word.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def template_hash(template: Mapping[str, Any]) -> str:
    """A short, stable name for one version of a pod template (the pod-template-hash label's role)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode()).digest()
    return "".join(_SAFE[byte % len(_SAFE)] for byte in digest[:10])


def owner_reference(owner: Mapping[str, Any]) -> Obj:
    meta = _d(owner.get("metadata"))
    return {
        "apiVersion": str(owner.get("apiVersion") or "apps/v1"),
        "kind": str(owner.get("kind") or ""),
        "name": str(meta.get("name") or ""),
        "uid": str(meta.get("uid") or ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the object's controlling owner, if any."""
    for ref in _d(obj.get("metadata")).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return str(ref.get("uid") or "")
    return None


def pod_from_template(owner: Mapping[str, Any], *, generate_name: str, labels: Mapping[str, str]) -> Obj:
    template = _d(_d(owner.get("spec")).get("template"))
    template_meta = _d(template.get("metadata"))
    meta: Obj = {
        "generateName": generate_name,
        "namespace": _d(owner.get("metadata")).get("namespace"),
        "labels": {**_d(template_meta.get("labels")), **labels},
        "ownerReferences": [owner_reference(owner)],
    }
    if template_meta.get("annotations"):
        meta["annotations"] = dict(_d(template_meta.get("annotations")))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(_d(template.get("spec")))}


def pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = _d(pod.get("status")).get("conditions") or []
    return any(isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def terminating(pod: Mapping[str, Any]) -> bool:
    return bool(_d(pod.get("metadata")).get("deletionTimestamp"))


def pod_path(namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods"
    return f"{base}/{quote(name, safe='')}" if name else base


async def create_pod(transport: Transport, pod: Obj) -> Obj:
    created = await transport.request("POST", pod_path(str(pod["metadata"]["namespace"])), body=pod)
    meta = _d(created.get("metadata"))
    log.info("pod created pod=%s/%s owner=%s", meta.get("namespace"), meta.get("name"), meta.get("generateName"))
    return created


async def delete_pod(transport: Transport, pod: Mapping[str, Any]) -> Obj | None:
    """Delete (gracefully) this very pod; the pod as it is now (terminating), None if gone or replaced already."""
    meta = _d(pod.get("metadata"))
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": meta.get("uid")}}
    try:
        answer = await transport.request(
            "DELETE", pod_path(str(meta.get("namespace")), str(meta.get("name"))), body=body
        )
    except KubernetesError as err:
        if err.status not in (404, 409):
            raise
        return None
    return answer if answer.get("kind") == "Pod" and terminating(answer) else None
