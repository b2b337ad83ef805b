"""The node half both charts share: the CSIDriver object and the DaemonSet (driver + sidecars)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from certcsi.install._errors import ValuesError
from certcsi.install._objects import (
    CERT_MANAGER,
    Obj,
    Release,
    openshift_scc_rules,
    placement,
    rule,
    verbosity,
    with_optional,
)
from certcsi.install.values import Values

SOCKET = "/plugin/csi.sock"
DATA_ROOT = "/csi-data-dir"
COMPONENT = "driver"


@dataclass(frozen=True)
class NodePlugin:
    """What differs between the two node DaemonSets; the rest (sidecars, hostPaths) is shared."""

    name: str
    container: str
    service_account: str
    driver_name: str
    command: Sequence[str]
    args: Sequence[str]
    image: str
    pull_policy: str
    kubelet_root: str
    data_dir: str
    health_port: int
    log_level: int
    registrar_image: tuple[str, str]
    liveness_image: tuple[str, str]
    resources: Mapping[str, object] = field(default_factory=dict)
    ports: Sequence[Obj] = ()
    extra_volumes: Sequence[Obj] = ()
    extra_mounts: Sequence[Obj] = ()
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def driver_rules(values: Values, *, creates_requests: bool, watches_pods: bool = False) -> list[Obj]:
    """Exactly the calls a node driver makes as its own ServiceAccount (ClusterRole rules)."""
    rules = [
        # The one label-selected list + watch of this node's CertificateRequests.
        rule(CERT_MANAGER, ["certificaterequests"], ["list", "watch"]),
        # Pruning superseded and failed requests (the pod's deletion takes the rest: owner reference).
        rule(CERT_MANAGER, ["certificaterequests"], ["delete"]),
        # Events on the Pod (create, then patch the count of a repeat; list finds one after a restart).
        rule("", ["events"], ["create", "patch", "list"]),
    ]
    if creates_requests:
        # Only when requests are created as the driver; with the pod's token the pod is the requester.
        rules.insert(1, rule(CERT_MANAGER, ["certificaterequests"], ["create"]))
    if watches_pods:
        # Readiness gates: one watch of the pods on this node, and a GET when that cache cannot answer.
        rules.append(rule("", ["pods"], ["list", "watch"]))
        rules.append(rule("", ["pods"], ["get"]))
    return rules + openshift_scc_rules(values)


def csi_driver_object(release: Release, *, driver_name: str, token_requests: bool) -> Obj:
    """The cluster-scoped CSIDriver: ephemeral inline only, pod info on mount, tokens when asked."""
    spec: Obj = {"attachRequired": False, "podInfoOnMount": True, "volumeLifecycleModes": ["Ephemeral"]}
    if token_requests:
        # Audience "" is the API server's own; republish keeps the token handed to the driver fresh.
        spec["tokenRequests"] = [{"audience": "", "expirationSeconds": 3600}]
        spec["requiresRepublish"] = True
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIDriver",
        "metadata": release.metadata(driver_name, component=COMPONENT, namespaced=False),
        "spec": spec,
    }


def node_daemonset(release: Release, values: Values, plugin: NodePlugin) -> Obj:
    root = plugin.kubelet_root.rstrip("/") or "/"
    plugin_dir = f"{root}/plugins/{plugin.driver_name}"
    pod_spec: Obj = {"serviceAccountName": plugin.service_account}
    security = values.mapping("podSecurityContext")
    if security:
        pod_spec["securityContext"] = security
    pod_spec["containers"] = [
        _registrar(values, plugin, registration=f"{plugin_dir}/csi.sock"),
        _liveness(values, plugin),
        _driver(values, plugin, pods_dir=f"{root}/pods"),
    ]
    pod_spec.update(placement(values))
    pod_spec["volumes"] = [
        _host_path("plugin-dir", plugin_dir, "DirectoryOrCreate"),
        _host_path("pods-mount-dir", f"{root}/pods", "Directory"),
        _host_path("registration-dir", f"{root}/plugins_registry", "Directory"),
        _host_path("csi-data-dir", plugin.data_dir, "DirectoryOrCreate"),
        *plugin.extra_volumes,
    ]
    selector = release.selector(COMPONENT)
    pod_annotations = {"kubectl.kubernetes.io/default-container": plugin.container, **plugin.pod_annotations}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": release.metadata(plugin.name, component=COMPONENT, annotations=plugin.annotations),
        "spec": {
            "selector": {"matchLabels": selector},
            # One node at a time, never two drivers on one node: both would serve the same socket and data.
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "template": {
                "metadata": {
                    "labels": release.labels(COMPONENT, plugin.pod_labels),
                    "annotations": pod_annotations,
                },
                "spec": pod_spec,
            },
        },
    }


def _registrar(values: Values, plugin: NodePlugin, *, registration: str) -> Obj:
    image, pull_policy = plugin.registrar_image
    container: Obj = {
        "name": "node-driver-registrar",
        "image": image,
        "imagePullPolicy": pull_policy,
        "args": [f"-v={plugin.log_level}", f"--csi-address={SOCKET}", f"--kubelet-registration-path={registration}"],
        "env": [_field_env("KUBE_NODE_NAME", "spec.nodeName")],
        "volumeMounts": [_mount("plugin-dir", "/plugin"), _mount("registration-dir", "/registration")],
    }
    return with_optional(container, securityContext=values.mapping("nodeDriverRegistrarSecurityContext"))


def _liveness(values: Values, plugin: NodePlugin) -> Obj:
    image, pull_policy = plugin.liveness_image
    container: Obj = {
        "name": "liveness-probe",
        "image": image,
        "imagePullPolicy": pull_policy,
        "args": [
            f"--csi-address={SOCKET}",
            "--probe-timeout=3s",
            f"--health-port={plugin.health_port}",
            f"-v={plugin.log_level}",
        ],
        "volumeMounts": [_mount("plugin-dir", "/plugin")],
    }
    return with_optional(container, securityContext=values.mapping("livenessProbeSecurityContext"))


def _driver(values: Values, plugin: NodePlugin, *, pods_dir: str) -> Obj:
    container: Obj = {
        "name": plugin.container,
        "image": plugin.image,
        "imagePullPolicy": plugin.pull_policy,
        "command": list(plugin.command),
        "args": [
            *verbosity(plugin.log_level),
            "--node-id=$(NODE_ID)",
            "--endpoint=$(CSI_ENDPOINT)",
            f"--data-root={DATA_ROOT}",
            *plugin.args,
        ],
        "env": [_field_env("NODE_ID", "spec.nodeName"), {"name": "CSI_ENDPOINT", "value": f"unix://{SOCKET}"}],
        "volumeMounts": [
            _mount("plugin-dir", "/plugin"),
            # Kubelet hands out target paths as host paths, so the pods dir is mounted at the same path;
            # Bidirectional so the bind mounts made here reach the pods.
            {**_mount("pods-mount-dir", pods_dir), "mountPropagation": "Bidirectional"},
            # The tmpfs mounted under the data root must be visible on the host for those bind mounts.
            {**_mount("csi-data-dir", DATA_ROOT), "mountPropagation": "Bidirectional"},
            *plugin.extra_mounts,
        ],
        "ports": [{"name": "healthz", "containerPort": plugin.health_port, "protocol": "TCP"}, *plugin.ports],
        # The livenessprobe sidecar answers /healthz on this port by calling the driver's Probe.
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "healthz"},
            "initialDelaySeconds": 5,
            "timeoutSeconds": 5,
        },
    }
    return with_optional(container, resources=dict(plugin.resources), securityContext=driver_security_context(values))


# The driver mounts tmpfs and read-only bind mounts that must reach the host (Bidirectional
# propagation, which the API server allows only in privileged containers), so it must be privileged
# and root whatever the image's USER is: unset, these are filled in; set otherwise, an error.
_DRIVER_REQUIRED = {"privileged": True, "runAsUser": 0}
# Either would stop the container: kube-apiserver rejects privileged without privilege escalation,
# and kubelet refuses to start a root container that must run as non-root.
_DRIVER_CONFLICTS = {"allowPrivilegeEscalation": False, "runAsNonRoot": True}
_WHY_ROOT = "the driver container must run privileged as root (it mounts tmpfs and bind mounts for pods)"


def driver_security_context(values: Values) -> Obj:
    """`securityContext` for the driver container, with what the driver cannot run without."""
    context = values.mapping("securityContext")
    broken = [(f"securityContext.{k}", context[k]) for k, v in _DRIVER_REQUIRED.items() if context.get(k, v) != v]
    broken += [(f"securityContext.{k}", v) for k, v in _DRIVER_CONFLICTS.items() if context.get(k) == v]
    if values.mapping("podSecurityContext").get("runAsNonRoot") is True:
        broken.append(("podSecurityContext.runAsNonRoot", True))
    if broken:
        key, got = broken[0]
        raise ValuesError(f"value {key}: {_WHY_ROOT}, got {json.dumps(got)}", key=key)
    return {**context, **_DRIVER_REQUIRED}


def _host_path(name: str, path: str, kind: str) -> Obj:
    return {"name": name, "hostPath": {"path": path, "type": kind}}


def _mount(name: str, path: str) -> Obj:
    return {"name": name, "mountPath": path}


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}
