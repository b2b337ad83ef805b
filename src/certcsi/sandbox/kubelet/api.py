"""The API calls kubelet makes for inline CSI volumes and pod status, as plain dicts over one Transport.

    csidriver(name)             GET storage.k8s.io/v1 CSIDriver (None when absent)
    mint_token(...)             POST serviceaccounts/<sa>/token, bound to the pod
    secret_data(ns, name)       a nodePublishSecretRef's data, decoded
    patch_status(...)           merge-patch pods/<name>/status, conditions merged by type
    delete_pod(...)             DELETE, optionally final (gracePeriodSeconds=0, uid precondition)
    event(...)                  an Event on the pod from component "kubelet" (FailedMount, Started, ...)

A token is returned to the caller and never logged; error messages come scrubbed from certcsi.kube.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from certcsi.errors import KubernetesError
from certcsi.kube._transport import MERGE_PATCH, Obj, Transport, get_or_none
from certcsi.kube.events import EventRecorder
from certcsi.sandbox.kubelet.planning import PodRef, TokenSpec, as_dict
from certcsi.timestamps import rfc3339

log = logging.getLogger(__name__)

COMPONENT = "kubelet"
_CONFLICT_RETRIES = 5


def _q(segment: str) -> str:
    return quote(segment, safe="")


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{_q(namespace)}/pods/{_q(name)}"




def merge_conditions(current: Sequence[Any], wanted: Sequence[Mapping[str, Any]], stamp: str) -> list[dict[str, Any]]:
    """`current` with `wanted` merged in by type; lastTransitionTime moves only when the status changes."""
    merged: dict[str, dict[str, Any]] = {}
    for condition in current:
        if isinstance(condition, dict) and condition.get("type"):
            merged[str(condition["type"])] = dict(condition)
    for condition in wanted:
        old = merged.get(str(condition["type"]))
        new = dict(condition)
        unchanged = old is not None and old.get("status") == new.get("status")
        new["lastTransitionTime"] = old.get("lastTransitionTime", stamp) if old is not None and unchanged else stamp
        merged[str(condition["type"])] = new
    return list(merged.values())


class KubeletApi:
    """kubelet's view of the API server."""

    def __init__(self, transport: Transport, *, node_name: str, now: Callable[[], datetime]) -> None:
        self.transport = transport
        self._node = node_name
        self._now = now
        self._events = EventRecorder(transport, now=now)

    async def csidriver(self, name: str) -> Obj | None:
        return await get_or_none(self.transport, f"/apis/storage.k8s.io/v1/csidrivers/{_q(name)}")

    async def mint_token(self, pod: PodRef, spec: TokenSpec) -> dict[str, str]:
        """A pod-bound token: {"token", "expirationTimestamp"} (the TokenRequest's status)."""
        body: dict[str, Any] = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                # kubelet sends no audience at all for "", meaning the API server's own audiences.
                "audiences": [spec.audience] if spec.audience else [],
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod.name, "uid": pod.uid},
            },
        }
        if spec.expiration_seconds is not None:
            body["spec"]["expirationSeconds"] = spec.expiration_seconds
        path = f"/api/v1/namespaces/{_q(pod.namespace)}/serviceaccounts/{_q(pod.service_account)}/token"
        answer = await self.transport.request("POST", path, body=body)
        status = as_dict(answer.get("status"))
        token, expires = status.get("token"), status.get("expirationTimestamp")
        if not isinstance(token, str) or not token or not isinstance(expires, str):
            raise KubernetesError("the TokenRequest answer carries no token", status=None)
        return {"token": token, "expirationTimestamp": expires}

    async def tokens_json(self, pod: PodRef, specs: Sequence[TokenSpec]) -> str | None:
        """The `serviceAccount.tokens` value for a driver's tokenRequests; None when it asks for none."""
        if not specs:
            return None
        tokens = {spec.audience: await self.mint_token(pod, spec) for spec in specs}
        return json.dumps(tokens, separators=(",", ":"))

    async def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        secret = await self.transport.request("GET", f"/api/v1/namespaces/{_q(namespace)}/secrets/{_q(name)}")
        data = as_dict(secret.get("data"))
        decoded: dict[str, str] = {}
        for key, value in data.items():
            try:
                decoded[str(key)] = base64.b64decode(str(value), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                problem = f"secret {namespace}/{name}: data[{key}] is not base64 text"
                raise KubernetesError(problem, status=None) from None
        return decoded

    async def patch_status(
        self, pod: PodRef, *, status: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]]
    ) -> Obj | None:
        """Merge `status` and `conditions` into the pod's status; None when the pod (this uid) is gone."""
        path = pod_path(pod.namespace, pod.name)
        for _ in range(_CONFLICT_RETRIES):
            current = await get_or_none(self.transport, path)
            meta = current.get("metadata", {}) if current is not None else {}
            if current is None or meta.get("uid") != pod.uid:
                return None
            old = as_dict(current.get("status"))
            body = {
                "metadata": {"resourceVersion": meta.get("resourceVersion")},
                "status": {
                    **status,
                    "conditions": merge_conditions(old.get("conditions") or [], conditions, rfc3339(self._now())),
                },
            }
            try:
                return await self.transport.request("PATCH", path + "/status", body=body, content_type=MERGE_PATCH)
            except KubernetesError as err:
                if err.status == 404:
                    return None
                if err.status != 409:
                    raise
        raise KubernetesError(f"pod {pod.namespace}/{pod.name}: status kept changing under us", status=409)

    async def delete_pod(self, namespace: str, name: str, *, uid: str | None = None, final: bool = False) -> None:
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            body["preconditions"] = {"uid": uid}
        if final:
            body["gracePeriodSeconds"] = 0
        try:
            await self.transport.request("DELETE", pod_path(namespace, name), body=body)
        except KubernetesError as err:
            if err.status not in (404, 409):  # gone already, or a newer pod with the same name
                raise

    async def event(self, pod: PodRef, kind: str, reason: str, message: str) -> None:
        """Record an Event on the pod from component "kubelet"; a failure to record is logged, never raised
        (kubelet drops events too)."""
        try:
            await self._events.record(
                involved={
                    "kind": "Pod",
                    "namespace": pod.namespace,
                    "name": pod.name,
                    "uid": pod.uid,
                    "apiVersion": "v1",
                },
                type="Warning" if kind == "Warning" else "Normal",
                reason=reason,
                message=message,
                component=COMPONENT,
            )
        except KubernetesError as err:
            log.warning("cannot record event pod=%s/%s reason=%s error=%s", pod.namespace, pod.name, reason, err)
