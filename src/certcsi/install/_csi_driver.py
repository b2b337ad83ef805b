"""The csi-driver chart (csi.cert-manager.io): ServiceAccount, ClusterRole, CSIDriver, DaemonSet, PodMonitor."""

from __future__ import annotations

from certcsi.install._errors import ValuesError
from certcsi.install._node import COMPONENT, NodePlugin, csi_driver_object, driver_rules, node_daemonset
from certcsi.install._objects import Obj, Release, image_of, rbac, service_account
from certcsi.install.values import Values
from certcsi.volumes.gates import GateFlagError, check_gates_can_pass, parse_gates

CHART_NAME = "cert-manager-csi-driver"
METRICS_PORT_NAME = "http-metrics"


def build(values: Values) -> list[Obj]:
    release = Release.of(values, CHART_NAME)
    name = release.name
    driver_name = values.text("app.driver.name")
    objects = [service_account(release, name, COMPONENT)]
    objects += rbac(release, name=name, account=name, component=COMPONENT, cluster_rules=_rules(values))
    objects.append(
        csi_driver_object(release, driver_name=driver_name, token_requests=values.flag("app.driver.useTokenRequest"))
    )
    objects.append(node_daemonset(release, values, _plugin(values, name=name, driver_name=driver_name)))
    if values.flag("metrics.enabled") and values.flag("metrics.podmonitor.enabled"):
        objects.append(_pod_monitor(release, values))
    return objects


def _rules(values: Values) -> list[Obj]:
    return driver_rules(
        values,
        creates_requests=not values.flag("app.driver.useTokenRequest"),
        watches_pods=bool(values.items("app.driver.podReadinessGates")),
    )


def _plugin(values: Values, *, name: str, driver_name: str) -> NodePlugin:
    args = [f"--driver-name={driver_name}"]
    if values.flag("app.driver.useTokenRequest"):
        args.append("--use-token-request")
    ports: list[Obj] = []
    if values.flag("metrics.enabled"):
        port = values.number("metrics.port")
        args.append(f"--metrics-bind-address=:{port}")
        ports.append({"name": METRICS_PORT_NAME, "containerPort": port, "protocol": "TCP"})
    gates = values.items("app.driver.podReadinessGates")
    args += [f"--pod-readiness-gate={gate}" for gate in gates]
    if _gates_need_continue_on_not_ready(gates):
        args.append("--continue-on-not-ready")
    image, pull_policy = image_of(values, "image")
    return NodePlugin(
        name=name,
        container=CHART_NAME,
        service_account=name,
        driver_name=driver_name,
        command=["certcsi", "driver"],
        args=args,
        image=image,
        pull_policy=pull_policy,
        kubelet_root=values.text("app.kubeletRootDir"),
        data_dir=values.text("app.driver.csiDataDir"),
        health_port=values.number("app.livenessProbe.port"),
        log_level=values.number("app.logLevel"),
        registrar_image=image_of(values, "nodeDriverRegistrarImage"),
        liveness_image=image_of(values, "livenessProbeImage"),
        resources=values.mapping("resources"),
        ports=ports,
        pod_labels=values.mapping("podLabels"),
        pod_annotations=values.mapping("podAnnotations"),
        annotations=values.mapping("daemonSetAnnotations"),
    )


def _gates_need_continue_on_not_ready(gates: list[str]) -> bool:
    """Whether a gate can only pass once the pod's volumes are mounted (pod-ip, Ready, ...).

    The driver refuses to start with such a gate unless volumes are published before the gates
    pass, so the install turns that on for them; a gate the driver would reject fails here, named.
    """
    for index, gate in enumerate(gates):
        try:
            parse_gates([gate])
        except GateFlagError as err:
            key = f"app.driver.podReadinessGates[{index}]"
            raise ValuesError(f"value {key}: {err.detail}", key=key) from None
    try:
        check_gates_can_pass(parse_gates(gates), continue_on_not_ready=False)
    except GateFlagError:
        return True
    return False


def _pod_monitor(release: Release, values: Values) -> Obj:
    """Prometheus Operator's PodMonitor for the driver pods' metrics port."""
    monitor_namespace = values.optional_text("metrics.podmonitor.namespace")
    labels = {**values.mapping("metrics.podmonitor.labels")}
    labels["prometheus"] = values.text("metrics.podmonitor.prometheusInstance")
    endpoint: Obj = {
        "port": METRICS_PORT_NAME,
        "path": "/metrics",
        "interval": values.text("metrics.podmonitor.interval"),
        "scrapeTimeout": values.text("metrics.podmonitor.scrapeTimeout"),
        "honorLabels": values.flag("metrics.podmonitor.honorLabels"),
        **values.mapping("metrics.podmonitor.endpointAdditionalProperties"),
    }
    spec: Obj = {"jobLabel": release.name, "selector": {"matchLabels": release.selector(COMPONENT)}}
    if monitor_namespace:
        spec["namespaceSelector"] = {"matchNames": [release.namespace]}
    spec["podMetricsEndpoints"] = [endpoint]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": release.metadata(
            release.name,
            component=COMPONENT,
            labels=labels,
            annotations=values.mapping("metrics.podmonitor.annotations"),
            namespace=monitor_namespace,
        ),
        "spec": spec,
    }
