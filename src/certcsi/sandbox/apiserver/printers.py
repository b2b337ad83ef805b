"""The table columns kube-apiserver prints for the built-in kinds (what `kubectl get` shows), and the
cells of one object's row. Kinds without columns of their own get Name and Created At.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from certcsi.sandbox.apiserver import schemas
from certcsi.sandbox.apiserver.objects import Obj, parse_time

NONE = "<none>"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    priority: int = 0
    description: str = ""
    format: str = ""

    def definition(self) -> Obj:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


def _doc(definition: str, field: str) -> str:
    try:
        props = schemas.definition(definition).get("properties") or {}
    except KeyError:
        return ""
    return str((props.get(field) or {}).get("description", ""))


def _meta_doc(field: str) -> str:
    return _doc(schemas.OBJECT_META, field)


NAME = Column("Name", format="name", description=_meta_doc("name"))
AGE = Column("Age", description=_meta_doc("creationTimestamp"))
CREATED_AT = Column("Created At", type="date", description=_meta_doc("creationTimestamp"))
WIDE_CONTAINERS = Column("Containers", priority=1, description="Names of each container in the template.")
WIDE_IMAGES = Column("Images", priority=1, description="Images referenced by each container in the template.")


def _pair(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    return f"{major}{major_unit}" if minor == 0 else f"{major}{major_unit}{minor}{minor_unit}"


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration: `45s`, `3m20s`, `5h`, `2d3h`, `1y30d`."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    minutes, hours, days = whole // 60, whole // 3600, whole // 86400
    if whole < 120:
        text = f"{whole}s"
    elif minutes < 10:
        text = _pair(minutes, "m", whole % 60, "s")
    elif minutes < 180:
        text = f"{minutes}m"
    elif hours < 8:
        text = _pair(hours, "h", minutes % 60, "m")
    elif hours < 48:
        text = f"{hours}h"
    elif hours < 24 * 8:
        text = _pair(days, "d", hours % 24, "h")
    elif hours < 24 * 365 * 2:
        text = f"{days}d"
    elif hours < 24 * 365 * 8:
        text = _pair(days // 365, "y", days % 365, "d")
    else:
        text = f"{days // 365}y"
    return text


def since(stamp: Any, now: float | None = None) -> str:
    moment = parse_time(stamp)
    if moment is None:
        return "<unknown>"
    return human_duration((now if now is not None else time.time()) - moment)


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ds(value: Any) -> list[Obj]:
    return [item if isinstance(item, dict) else {} for item in _l(value)]


def _name(obj: Obj) -> str:
    return str(_d(obj.get("metadata")).get("name", ""))


def _age(obj: Obj) -> str:
    return since(_d(obj.get("metadata")).get("creationTimestamp"))


def _selector(selector: Any) -> str:
    selector = _d(selector)
    parts = [f"{k}={v}" for k, v in sorted(_d(selector.get("matchLabels")).items())]
    for expression in _ds(selector.get("matchExpressions")):
        op, key, values = expression.get("operator"), expression.get("key"), _l(expression.get("values"))
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or NONE


def _map_selector(labels: Any) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(_d(labels).items())) or NONE


def _template(obj: Obj) -> tuple[str, str]:
    containers = _l(_d(_d(_d(obj.get("spec")).get("template")).get("spec")).get("containers"))
    names = ",".join(str(_d(c).get("name", "")) for c in containers)
    images = ",".join(str(_d(c).get("image", "")) for c in containers)
    return names, images


# -- rows of each kind ---------------------------------------------------------------------------


def _pod(pod: Obj) -> list[Any]:
    spec, status, meta = _d(pod.get("spec")), _d(pod.get("status")), _d(pod.get("metadata"))
    containers = _l(spec.get("containers"))
    reason = str(status.get("reason") or status.get("phase") or "")
    restarts, ready = 0, 0
    running = False
    for state in reversed(_ds(status.get("containerStatuses"))):
        restarts += int(state.get("restartCount") or 0)
        current = _d(state.get("state"))
        waiting, terminated = _d(current.get("waiting")), _d(current.get("terminated"))
        if waiting.get("reason"):
            reason = str(waiting["reason"])
        elif terminated.get("reason"):
            reason = str(terminated["reason"])
        elif "terminated" in current:
            signal = terminated.get("signal")
            reason = f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode', 0)}"
        elif state.get("ready") and "running" in current:
            running = True
            ready += 1
    if reason == "Completed" and running:
        reason = "Running"
    if meta.get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating"
    gates = _l(spec.get("readinessGates"))
    gate_text = NONE
    if gates:
        conditions = {_d(c).get("type"): _d(c).get("status") for c in _l(status.get("conditions"))}
        passed = sum(1 for g in gates if conditions.get(_d(g).get("conditionType")) == "True")
        gate_text = f"{passed}/{len(gates)}"
    return [
        _name(pod),
        f"{ready}/{len(containers)}",
        reason,
        str(restarts),
        _age(pod),
        status.get("podIP") or NONE,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        gate_text,
    ]


def _namespace(obj: Obj) -> list[Any]:
    return [_name(obj), _d(obj.get("status")).get("phase", ""), _age(obj)]


def _node(node: Obj) -> list[Any]:
    spec, status, meta = _d(node.get("spec")), _d(node.get("status")), _d(node.get("metadata"))
    ready = next((_d(c) for c in _l(status.get("conditions")) if _d(c).get("type") == "Ready"), None)
    state = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(
        key.removeprefix("node-role.kubernetes.io/")
        for key in _d(meta.get("labels"))
        if key.startswith("node-role.kubernetes.io/")
    )
    info = _d(status.get("nodeInfo"))
    addresses = {_d(a).get("type"): _d(a).get("address") for a in _l(status.get("addresses"))}
    return [
        _name(node),
        state,
        ",".join(roles) or NONE,
        _age(node),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP") or NONE,
        addresses.get("ExternalIP") or NONE,
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _service(svc: Obj) -> list[Any]:
    spec = _d(svc.get("spec"))
    kind = spec.get("type", "ClusterIP")
    external = ",".join(_l(spec.get("externalIPs"))) or ("<pending>" if kind == "LoadBalancer" else NONE)
    if kind == "ExternalName":
        external = spec.get("externalName") or NONE
    ports = []
    for port in _ds(spec.get("ports")):
        text = str(port.get("port"))
        if port.get("nodePort") and kind in ("NodePort", "LoadBalancer"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    return [
        _name(svc),
        kind,
        spec.get("clusterIP") or NONE,
        external,
        ",".join(ports) or NONE,
        _age(svc),
        _map_selector(spec.get("selector")),
    ]


def _daemonset(ds: Obj) -> list[Any]:
    status = _d(ds.get("status"))
    node_selector = _d(_d(_d(_d(ds.get("spec")).get("template")).get("spec")).get("nodeSelector"))
    names, images = _template(ds)
    return [
        _name(ds),
        int(status.get("desiredNumberScheduled") or 0),
        int(status.get("currentNumberScheduled") or 0),
        int(status.get("numberReady") or 0),
        int(status.get("updatedNumberScheduled") or 0),
        int(status.get("numberAvailable") or 0),
        _map_selector(node_selector),
        _age(ds),
        names,
        images,
        _selector(_d(ds.get("spec")).get("selector")),
    ]


def _deployment(deploy: Obj) -> list[Any]:
    spec, status = _d(deploy.get("spec")), _d(deploy.get("status"))
    names, images = _template(deploy)
    return [
        _name(deploy),
        f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas') or 0)}",
        str(int(status.get("updatedReplicas") or 0)),
        str(int(status.get("availableReplicas") or 0)),
        _age(deploy),
        names,
        images,
        _selector(spec.get("selector")),
    ]


def _event(event: Obj) -> list[Any]:
    involved = _d(event.get("involvedObject"))
    source = _d(event.get("source"))
    last = event.get("lastTimestamp") or event.get("eventTime") or _d(event.get("metadata")).get("creationTimestamp")
    first = event.get("firstTimestamp") or event.get("eventTime")
    count = event.get("count") or 1
    last_seen = since(last)
    if count > 1 and first:
        last_seen = f"{since(last)} (x{count} over {since(first)})"
    return [
        last_seen,
        event.get("type", ""),
        event.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        ", ".join(v for v in (source.get("component"), source.get("host")) if v) or event.get("reportingComponent", ""),
        str(event.get("message", "")).strip(),
        since(first) if first else "<unknown>",
        str(count),
        _name(event),
    ]


def _configmap(cm: Obj) -> list[Any]:
    return [_name(cm), len(_d(cm.get("data"))) + len(_d(cm.get("binaryData"))), _age(cm)]


def _secret(secret: Obj) -> list[Any]:
    return [_name(secret), secret.get("type", ""), len(_d(secret.get("data"))), _age(secret)]


def _serviceaccount(sa: Obj) -> list[Any]:
    return [_name(sa), len(_l(sa.get("secrets"))), _age(sa)]


def _lease(lease: Obj) -> list[Any]:
    return [_name(lease), _d(lease.get("spec")).get("holderIdentity", ""), _age(lease)]


def _binding(binding: Obj) -> list[Any]:
    ref = _d(binding.get("roleRef"))
    users, groups, accounts = [], [], []
    for subject in _ds(binding.get("subjects")):
        if subject.get("kind") == "User":
            users.append(str(subject.get("name", "")))
        elif subject.get("kind") == "Group":
            groups.append(str(subject.get("name", "")))
        elif subject.get("kind") == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
    return [
        _name(binding),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(binding),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _csidriver(driver: Obj) -> list[Any]:
    spec = _d(driver.get("spec"))
    audiences = [str(_d(t).get("audience", "")) for t in _l(spec.get("tokenRequests"))]
    return [
        _name(driver),
        bool(spec.get("attachRequired", True)),
        bool(spec.get("podInfoOnMount", False)),
        bool(spec.get("storageCapacity", False)),
        ",".join(a or '""' for a in audiences) if audiences else "<unset>",
        bool(spec.get("requiresRepublish", False)),
        ",".join(str(m) for m in _l(spec.get("volumeLifecycleModes"))) or NONE,
        _age(driver),
    ]


def _created(obj: Obj) -> list[Any]:
    return [_name(obj), _d(obj.get("metadata")).get("creationTimestamp")]


_CORE = "io.k8s.api.core.v1"
_DAEMONSET_STATUS = "io.k8s.api.apps.v1.DaemonSetStatus"
_CSIDRIVER_SPEC = "io.k8s.api.storage.v1.CSIDriverSpec"


def _typed(name: str, kind: str, definition: str, field: str) -> Column:
    return Column(name, kind, description=_doc(definition, field))


_BINDING_COLUMNS = (
    NAME,
    Column("Role", description="RoleRef can reference a Role in the current namespace or a ClusterRole."),
    AGE,
    Column("Users", priority=1, description="Users in the roleBinding"),
    Column("Groups", priority=1, description="Groups in the roleBinding"),
    Column("ServiceAccounts", priority=1, description="ServiceAccounts in the roleBinding"),
)

# By storage key: the columns and the row function of each kind that has its own.
PRINTERS: dict[str, tuple[tuple[Column, ...], Callable[[Obj], list[Any]]]] = {
    "/pods": (
        (
            NAME,
            Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
            Column("Status", description="The aggregate status of the containers in this pod."),
            Column(
                "Restarts",
                description="The number of times the containers in this pod have been restarted and when the last "
                "container in this pod has restarted.",
            ),
            AGE,
            Column("IP", priority=1, description=_doc(f"{_CORE}.PodStatus", "podIP")),
            Column("Node", priority=1, description=_doc(f"{_CORE}.PodSpec", "nodeName")),
            Column("Nominated Node", priority=1, description=_doc(f"{_CORE}.PodStatus", "nominatedNodeName")),
            Column("Readiness Gates", priority=1, description=_doc(f"{_CORE}.PodSpec", "readinessGates")),
        ),
        _pod,
    ),
    "/namespaces": ((NAME, Column("Status", description="The status of the namespace"), AGE), _namespace),
    "/nodes": (
        (
            NAME,
            Column("Status", description="The status of the node"),
            Column("Roles", description="The roles of the node"),
            AGE,
            Column("Version", description=_doc(f"{_CORE}.NodeSystemInfo", "kubeletVersion")),
            Column("Internal-IP", priority=1, description=_doc(f"{_CORE}.NodeStatus", "addresses")),
            Column("External-IP", priority=1, description=_doc(f"{_CORE}.NodeStatus", "addresses")),
            Column("OS-Image", priority=1, description=_doc(f"{_CORE}.NodeSystemInfo", "osImage")),
            Column("Kernel-Version", priority=1, description=_doc(f"{_CORE}.NodeSystemInfo", "kernelVersion")),
            Column(
                "Container-Runtime", priority=1, description=_doc(f"{_CORE}.NodeSystemInfo", "containerRuntimeVersion")
            ),
        ),
        _node,
    ),
    "/services": (
        (
            NAME,
            Column("Type", description=_doc(f"{_CORE}.ServiceSpec", "type")),
            Column("Cluster-IP", description=_doc(f"{_CORE}.ServiceSpec", "clusterIP")),
            Column("External-IP", description=_doc(f"{_CORE}.ServiceSpec", "externalIPs")),
            Column("Port(s)", description=_doc(f"{_CORE}.ServiceSpec", "ports")),
            AGE,
            Column("Selector", priority=1, description=_doc(f"{_CORE}.ServiceSpec", "selector")),
        ),
        _service,
    ),
    "apps/daemonsets": (
        (
            NAME,
            _typed("Desired", "integer", _DAEMONSET_STATUS, "desiredNumberScheduled"),
            _typed("Current", "integer", _DAEMONSET_STATUS, "currentNumberScheduled"),
            _typed("Ready", "integer", _DAEMONSET_STATUS, "numberReady"),
            Column(
                "Up-to-date",
                "integer",
                description=_doc("io.k8s.api.apps.v1.DaemonSetStatus", "updatedNumberScheduled"),
            ),
            _typed("Available", "integer", _DAEMONSET_STATUS, "numberAvailable"),
            Column("Node Selector", description=_doc(f"{_CORE}.PodSpec", "nodeSelector")),
            AGE,
            WIDE_CONTAINERS,
            WIDE_IMAGES,
            Column("Selector", priority=1, description=_doc("io.k8s.api.apps.v1.DaemonSetSpec", "selector")),
        ),
        _daemonset,
    ),
    "apps/deployments": (
        (
            NAME,
            Column("Ready", description="Number of the pod with ready state"),
            Column("Up-to-date", description=_doc("io.k8s.api.apps.v1.DeploymentStatus", "updatedReplicas")),
            Column("Available", description=_doc("io.k8s.api.apps.v1.DeploymentStatus", "availableReplicas")),
            AGE,
            WIDE_CONTAINERS,
            WIDE_IMAGES,
            Column("Selector", priority=1, description=_doc("io.k8s.api.apps.v1.DeploymentSpec", "selector")),
        ),
        _deployment,
    ),
    "/events": (
        (
            Column("Last Seen", description=_doc(f"{_CORE}.Event", "lastTimestamp")),
            Column("Type", description=_doc(f"{_CORE}.Event", "type")),
            Column("Reason", description=_doc(f"{_CORE}.Event", "reason")),
            Column("Object", description=_doc(f"{_CORE}.Event", "involvedObject")),
            Column("Subobject", priority=1, description=_doc(f"{_CORE}.ObjectReference", "fieldPath")),
            Column("Source", priority=1, description=_doc(f"{_CORE}.Event", "source")),
            Column("Message", description=_doc(f"{_CORE}.Event", "message")),
            Column("First Seen", priority=1, description=_doc(f"{_CORE}.Event", "firstTimestamp")),
            Column("Count", priority=1, description=_doc(f"{_CORE}.Event", "count")),
            Column("Name", priority=1, format="name", description=_meta_doc("name")),
        ),
        _event,
    ),
    "/configmaps": ((NAME, Column("Data", description=_doc(f"{_CORE}.ConfigMap", "data")), AGE), _configmap),
    "/secrets": (
        (
            NAME,
            Column("Type", description=_doc(f"{_CORE}.Secret", "type")),
            Column("Data", description=_doc(f"{_CORE}.Secret", "data")),
            AGE,
        ),
        _secret,
    ),
    "/serviceaccounts": (
        (NAME, Column("Secrets", description=_doc(f"{_CORE}.ServiceAccount", "secrets")), AGE),
        _serviceaccount,
    ),
    "coordination.k8s.io/leases": (
        (NAME, Column("Holder", description=_doc("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")), AGE),
        _lease,
    ),
    "rbac.authorization.k8s.io/rolebindings": (_BINDING_COLUMNS, _binding),
    "rbac.authorization.k8s.io/clusterrolebindings": (_BINDING_COLUMNS, _binding),
    "storage.k8s.io/csidrivers": (
        (
            NAME,
            _typed("AttachRequired", "boolean", _CSIDRIVER_SPEC, "attachRequired"),
            _typed("PodInfoOnMount", "boolean", _CSIDRIVER_SPEC, "podInfoOnMount"),
            _typed("StorageCapacity", "boolean", _CSIDRIVER_SPEC, "storageCapacity"),
            Column("TokenRequests", description=_doc("io.k8s.api.storage.v1.CSIDriverSpec", "tokenRequests")),
            Column(
                "RequiresRepublish",
                "boolean",
                description=_doc("io.k8s.api.storage.v1.CSIDriverSpec", "requiresRepublish"),
            ),
            Column("Modes", description=_doc("io.k8s.api.storage.v1.CSIDriverSpec", "volumeLifecycleModes")),
            AGE,
        ),
        _csidriver,
    ),
}

DEFAULT_PRINTER: tuple[tuple[Column, ...], Callable[[Obj], list[Any]]] = ((NAME, CREATED_AT), _created)
