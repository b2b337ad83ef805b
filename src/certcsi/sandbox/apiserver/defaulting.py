"""The defaults kube-apiserver's scheme fills in for the built-in kinds the sandbox serves, and what
each kind's create strategy resets (status), so that objects read back as they would from a cluster.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from certcsi.sandbox.apiserver.objects import Obj

Defaulter = Callable[[Obj], None]

_DEFAULT_MODE = 420  # 0644, the default of configMap, secret, projected and downwardAPI volumes
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def _dict(parent: Obj, key: str) -> Obj | None:
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def _dicts(parent: Obj, key: str) -> list[Obj]:
    value = parent.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _image_pull_policy(image: Any) -> str:
    if not isinstance(image, str):
        return "IfNotPresent"
    name = image.split("@", 1)[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    return "Always" if "@" not in image and tag in ("", "latest") else "IfNotPresent"


def _field_refs(container: Obj) -> None:
    for env in _dicts(container, "env"):
        source = _dict(env, "valueFrom")
        ref = _dict(source, "fieldRef") if source is not None else None
        if ref is not None:
            ref.setdefault("apiVersion", "v1")


def _container(container: Obj) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("imagePullPolicy", _image_pull_policy(container.get("image")))
    container.setdefault("resources", {})
    for port in _dicts(container, "ports"):
        port.setdefault("protocol", "TCP")
    _field_refs(container)


def _volume(volume: Obj) -> None:
    for kind in ("configMap", "secret", "downwardAPI"):
        source = _dict(volume, kind)
        if source is not None:
            source.setdefault("defaultMode", _DEFAULT_MODE)
    downward = _dict(volume, "downwardAPI")
    for item in _dicts(downward, "items") if downward is not None else ():
        ref = _dict(item, "fieldRef")
        if ref is not None:
            ref.setdefault("apiVersion", "v1")
    projected = _dict(volume, "projected")
    if projected is not None:
        projected.setdefault("defaultMode", _DEFAULT_MODE)
        for source in _dicts(projected, "sources"):
            token = _dict(source, "serviceAccountToken")
            if token is not None:
                token.setdefault("expirationSeconds", 3600)
    host_path = _dict(volume, "hostPath")
    if host_path is not None:
        host_path.setdefault("type", "")


def pod_spec(spec: Obj) -> None:
    """SetDefaults for a PodSpec (in a Pod or a pod template)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for key in ("containers", "initContainers"):
        for container in _dicts(spec, key):
            _container(container)
    for volume in _dicts(spec, "volumes"):
        _volume(volume)


def _qos_class(spec: Obj) -> str:
    requests, limits = False, False
    guaranteed = True
    for container in _dicts(spec, "containers"):
        resources = _dict(container, "resources") or {}
        req, lim = _dict(resources, "requests") or {}, _dict(resources, "limits") or {}
        requests = requests or bool(req)
        limits = limits or bool(lim)
        for resource in ("cpu", "memory"):
            if resource not in lim or req.get(resource, lim[resource]) != lim[resource]:
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    pod_spec(spec)
    obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}


def _template(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    template = _dict(spec, "template") if spec is not None else None
    pod_template = _dict(template, "spec") if template is not None else None
    if pod_template is not None:
        pod_spec(pod_template)


def _rolling_update(spec: Obj, field: str, *, max_unavailable: int | str, max_surge: int | str) -> None:
    """A workload's update strategy: RollingUpdate unless told otherwise, with its two limits."""
    spec.setdefault(field, {"type": "RollingUpdate"})
    strategy = _dict(spec, field)
    if strategy is not None and strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        rolling = strategy.setdefault("rollingUpdate", {})
        if isinstance(rolling, dict):
            rolling.setdefault("maxUnavailable", max_unavailable)
            rolling.setdefault("maxSurge", max_surge)
    spec.setdefault("revisionHistoryLimit", 10)


def daemonset(obj: Obj) -> None:
    _template(obj)
    spec = _dict(obj, "spec")
    if spec is not None:
        _rolling_update(spec, "updateStrategy", max_unavailable=1, max_surge=0)
    obj["status"] = {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    }


def deployment(obj: Obj) -> None:
    _template(obj)
    spec = _dict(obj, "spec")
    if spec is not None:
        spec.setdefault("replicas", 1)
        _rolling_update(spec, "strategy", max_unavailable="25%", max_surge="25%")
        spec.setdefault("progressDeadlineSeconds", 600)
    obj["status"] = {}


def csidriver(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    spec.setdefault("attachRequired", True)
    spec.setdefault("podInfoOnMount", False)
    spec.setdefault("requiresRepublish", False)
    spec.setdefault("storageCapacity", False)
    spec.setdefault("fsGroupPolicy", "ReadWriteOnceWithFSType")
    spec.setdefault("volumeLifecycleModes", ["Persistent"])
    spec.setdefault("seLinuxMount", False)


def secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")


def namespace(obj: Obj) -> None:
    meta = _dict(obj, "metadata")
    if meta is not None and isinstance(meta.get("name"), str):
        labels = meta.setdefault("labels", {})
        if isinstance(labels, dict):
            labels["kubernetes.io/metadata.name"] = meta["name"]


def service(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in _dicts(spec, "ports"):
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
    if spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    obj["status"] = {"loadBalancer": {}}


def _subjects(obj: Obj) -> None:
    # A ServiceAccount's group is "", which Go leaves out of the JSON; users and groups get RBAC's.
    for subject in _dicts(obj, "subjects"):
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


# By storage key (`<group>/<plural>`): what the scheme and the create strategy fill in.
DEFAULTERS: dict[str, Defaulter] = {
    "/pods": pod,
    "apps/daemonsets": daemonset,
    "apps/deployments": deployment,
    "storage.k8s.io/csidrivers": csidriver,
    "/secrets": secret,
    "/namespaces": namespace,
    "/services": service,
    "rbac.authorization.k8s.io/rolebindings": _subjects,
    "rbac.authorization.k8s.io/clusterrolebindings": _subjects,
}


def apply_defaults(key: str, obj: Obj, *, creating: bool) -> None:
    """Fill in `obj`'s defaults; on update the status a create would reset is left alone."""
    defaulter = DEFAULTERS.get(key)
    if defaulter is None:
        return
    if creating:
        defaulter(obj)
        return
    status = obj.get("status")
    had_status = "status" in obj
    defaulter(obj)
    if had_status:
        obj["status"] = status
    else:
        obj.pop("status", None)
