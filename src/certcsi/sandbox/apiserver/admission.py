"""The admission plugins of a default kube-apiserver that change or refuse what users create:
ServiceAccount (a pod's account must exist; its token volume is mounted), Priority and
DefaultTolerationSeconds (pod fields), the service IP allocator, and the CSIDriver warning.

Namespace existence and termination (NamespaceLifecycle) are the store's, since every write meets them.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from certcsi.sandbox.apiserver.defaulting import SERVICE_CIDR
from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.objects import Obj
from certcsi.sandbox.apiserver.resources import BY_KEY, ResourceType
from certcsi.sandbox.apiserver.storage import Store

SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_TOLERATION_SECONDS = 300
_TOLERATED = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
_SERVICE_ACCOUNTS = BY_KEY["/serviceaccounts"]
_SERVICES = BY_KEY["/services"]
CSIDRIVER_TOKEN_WARNING = (
    "spec.tokenRequests is set but spec.serviceAccountTokenInSecrets is not: kubelet passes the tokens in the "
    "NodePublishVolume volume context, where drivers and tools may log them; set "
    "spec.serviceAccountTokenInSecrets: true to have them passed in the secrets field"
)


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _forbidden(rt: ResourceType, name: str, detail: str) -> ApiError:
    details: dict[str, Any] = {"name": name, "kind": rt.plural}
    if rt.group:
        details["group"] = rt.group
    return ApiError(403, "Forbidden", f'{rt.qualified()} "{name}" is forbidden: {detail}', details=details)


def _token_volume() -> Obj:
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(5))
    return {
        "name": f"kube-api-access-{suffix}",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }


def service_account(store: Store, rt: ResourceType, pod: Obj, namespace: str) -> None:
    """The ServiceAccount plugin: default the account, require it to exist, mount its token."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = account
    found = store.find(_SERVICE_ACCOUNTS, namespace, str(account))
    name = str(_dict(pod.get("metadata")).get("name") or _dict(pod.get("metadata")).get("generateName") or "")
    if found is None:
        raise _forbidden(
            rt, name, f'error looking up service account {namespace}/{account}: serviceaccount "{account}" not found'
        )
    if spec.get("automountServiceAccountToken") is False or (
        "automountServiceAccountToken" not in spec and found.get("automountServiceAccountToken") is False
    ):
        return
    containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or () if isinstance(c, dict)]
    if any(
        isinstance(m, dict) and m.get("mountPath") == SERVICE_ACCOUNT_MOUNT
        for c in containers
        for m in c.get("volumeMounts") or ()
    ):
        return
    volume = _token_volume()
    volumes = spec.setdefault("volumes", [])
    if isinstance(volumes, list):
        volumes.append(volume)
    for container in containers:
        mounts = container.setdefault("volumeMounts", [])
        if isinstance(mounts, list):
            mounts.append({"name": volume["name"], "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT})


def pod_scheduling_fields(pod: Obj) -> None:
    """Priority and DefaultTolerationSeconds: priority 0, and five minutes' tolerance of a lost node."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("priorityClassName"):
        spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    if not isinstance(tolerations, list):
        return
    for key in _TOLERATED:
        if not any(isinstance(t, dict) and t.get("key") == key for t in tolerations):
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": _TOLERATION_SECONDS}
            )


def allocate_cluster_ip(store: Store, service: Obj) -> None:
    """The service IP allocator: a free address of the service CIDR, unless headless or external."""
    spec = service.get("spec")
    if not isinstance(spec, dict) or spec.get("type") == "ExternalName":
        return
    wanted = spec.get("clusterIP")
    if wanted in (None, ""):
        taken = {str(_dict(s.get("spec")).get("clusterIP")) for s in store.all_objects(_SERVICES)}
        network = SERVICE_CIDR
        for offset in range(10, network.num_addresses - 1):
            candidate = str(network.network_address + offset)
            if candidate not in taken:
                wanted = candidate
                break
        spec["clusterIP"] = wanted
    if wanted != "None":
        try:
            ipaddress.ip_address(str(wanted))
        except ValueError:
            return
    spec.setdefault("clusterIPs", [wanted])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")


def csidriver_warnings(driver: Obj) -> list[str]:
    spec = _dict(driver.get("spec"))
    if spec.get("tokenRequests") and spec.get("serviceAccountTokenInSecrets") is not True:
        return [CSIDRIVER_TOKEN_WARNING]
    return []
