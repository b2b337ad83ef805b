"""Metrics wiring: the driver's port and PodMonitor, the approver's Service and ServiceMonitor (shapes by hand)."""

from __future__ import annotations

from collections.abc import Sequence

from chart_support import containers
from helm_charts import Chart, Obj, render
from helm_charts import find as only


def objects(chart: Chart, sets: Sequence[str] = ()) -> list[Obj]:
    return render(chart, sets=sets)


def kinds(found: Sequence[Obj]) -> list[str]:
    return [o["kind"] for o in found]


def test_no_monitors_by_default() -> None:
    assert "PodMonitor" not in kinds(objects("csi-driver"))
    assert "ServiceMonitor" not in kinds(objects("csi-driver-spiffe"))


def test_pod_monitor_selects_the_driver_pods_metrics_port() -> None:
    found = objects(
        "csi-driver",
        [
            "metrics.podmonitor.enabled=true",
            "metrics.podmonitor.prometheusInstance=infra",
            "metrics.podmonitor.interval=15s",
            "metrics.podmonitor.honorLabels=true",
            "metrics.podmonitor.annotations.note=x",
        ],
    )
    monitor = only(found, "PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "cert-manager"
    assert monitor["metadata"]["labels"]["prometheus"] == "infra"
    assert monitor["metadata"]["annotations"] == {"note": "x"}
    daemonset = only(found, "DaemonSet")
    pod_labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert "namespaceSelector" not in monitor["spec"]
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint == {
        "port": "http-metrics",
        "path": "/metrics",
        "interval": "15s",
        "scrapeTimeout": "30s",
        "honorLabels": True,
    }
    port_names = {p["name"] for p in containers(daemonset)["cert-manager-csi-driver"]["ports"]}
    assert "http-metrics" in port_names


def test_pod_monitor_in_another_namespace_selects_the_release_namespace() -> None:
    monitor = only(
        objects("csi-driver", ["metrics.podmonitor.enabled=true", "metrics.podmonitor.namespace=monitoring"]),
        "PodMonitor",
    )
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["cert-manager"]}


def test_metrics_disabled_removes_flag_port_and_monitor() -> None:
    found = objects("csi-driver", ["metrics.enabled=false", "metrics.podmonitor.enabled=true"])
    assert "PodMonitor" not in kinds(found)
    driver = containers(only(found, "DaemonSet"))["cert-manager-csi-driver"]
    assert not [a for a in driver["args"] if a.startswith("--metrics-bind-address")]
    assert [p["name"] for p in driver["ports"]] == ["healthz"]


def test_approver_service_and_service_monitor() -> None:
    found = objects(
        "csi-driver-spiffe",
        ["app.approver.metrics.service.servicemonitor.enabled=true", "app.approver.metrics.port=19402"],
    )
    service = only(found, "Service", "cert-manager-csi-driver-spiffe-approver-metrics")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 19402, "targetPort": 19402, "protocol": "TCP"}]
    deployment = only(found, "Deployment")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    monitor = only(found, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "cert-manager"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["cert-manager"]}
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "10s", "scrapeTimeout": "5s"}
    ]
    assert monitor["metadata"]["labels"]["prometheus"] == "default"


def test_no_service_no_service_monitor() -> None:
    found = objects(
        "csi-driver-spiffe",
        ["app.approver.metrics.service.enabled=false", "app.approver.metrics.service.servicemonitor.enabled=true"],
    )
    assert "Service" not in kinds(found) and "ServiceMonitor" not in kinds(found)
