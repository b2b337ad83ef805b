"""The csi-driver chart (csi.cert-manager.io): ServiceAccount, ClusterRole, CSIDriver, DaemonSet, PodMonitor."""

from __future__ import annotations

from certcsi.install._node import COMPONENT, NodePlugin, csi_driver_object, driver_rules, node_daemonset
from certcsi.install._objects import Obj, Release, image_of, rbac, service_account
from certcsi.install.values import Values

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
    args += [f"--pod-readiness-gate={gate}" for gate in values.items("app.driver.podReadinessGates")]
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
