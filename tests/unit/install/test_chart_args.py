"""Container arguments: upstream's exactly, plus certcsi's own flags only when a value asks for them."""

from __future__ import annotations

import pytest
from chart_support import ALL_CONFIGS, all_strings, config_objects
from helm_charts import Chart, container, find, render, upstream_objects

CONTAINERS: list[tuple[Chart, str, str]] = [
    ("csi-driver", "DaemonSet", "cert-manager-csi-driver"),
    ("csi-driver-spiffe", "DaemonSet", "cert-manager-csi-driver-spiffe"),
    ("csi-driver-spiffe", "Deployment", "cert-manager-csi-driver-spiffe-approver"),
]
COMMANDS = {
    "cert-manager-csi-driver": ["certcsi", "driver"],
    "cert-manager-csi-driver-spiffe": ["certcsi", "spiffe-driver"],
    "cert-manager-csi-driver-spiffe-approver": ["certcsi", "approver"],
}


def _args(chart: Chart, kind: str, name: str, *sets: str) -> list[str]:
    args: list[str] = container(find(render(chart, sets=sets), kind), name)["args"]
    return args


@pytest.mark.parametrize(("chart", "kind", "name"), CONTAINERS)
def test_our_defaults_give_upstream_s_args_and_certcsi_s_command(chart: Chart, kind: str, name: str) -> None:
    sets = ["app.issuer.name=spiffe-ca"] if chart == "csi-driver-spiffe" else []
    ours = container(find(render(chart, sets=sets), kind), name)
    assert ours["args"] == container(find(upstream_objects(chart), kind), name)["args"]
    assert ours["command"] == COMMANDS[name]


def test_driver_flags_follow_their_values() -> None:
    args = _args(
        "csi-driver",
        "DaemonSet",
        "cert-manager-csi-driver",
        "app.driver.useTokenRequest=true",
        "app.driver.continueOnNotReady=true",
        "app.driver.kubernetesAPIQPS=20",
        "app.driver.kubernetesAPIBurst=40",
        "app.driver.podReadinessGates={pod-ip:any,pod-annotation:example.com/ready}",
        "app.driver.gateBackoff.duration=2s",
        "app.driver.gateBackoff.cap=1m",
        "metrics.enabled=false",
        "app.logLevel=4",
    )
    assert args == [
        "--log-level=4",
        "--driver-name=csi.cert-manager.io",
        "--node-id=$(NODE_ID)",
        "--endpoint=$(CSI_ENDPOINT)",
        "--data-root=csi-data-dir",
        "--use-token-request=true",
        "--continue-on-not-ready=true",
        "--kube-api-qps=20",
        "--kube-api-burst=40",
        "--pod-readiness-gate=pod-ip:any",
        "--pod-readiness-gate=pod-annotation:example.com/ready",
        "--gate-backoff-cap=1m",
        "--gate-backoff-duration=2s",
    ]


@pytest.mark.parametrize(("chart", "kind", "name"), CONTAINERS[:2])
def test_strict_attributes_only_when_asked(chart: Chart, kind: str, name: str) -> None:
    assert "--strict-attributes" not in _args(chart, kind, name)
    assert _args(chart, kind, name, "app.driver.strictAttributes=true")[-1] == "--strict-attributes"


def test_spiffe_flags_follow_their_values() -> None:
    sets = [
        "app.driver.useOwnServiceAccount=true",
        "app.extraCertificateRequestAnnotations=team=platform\\,tier=gold",
        "app.driver.sourceCABundle=/bundle/ca.pem",
        "app.runtimeIssuanceConfigMap=spiffe-issuer",
    ]
    driver = _args("csi-driver-spiffe", "DaemonSet", "cert-manager-csi-driver-spiffe", *sets)
    assert "--source-ca-bundle=/bundle/ca.pem" in driver
    assert "--runtime-issuance-config-map-name=spiffe-issuer" in driver
    assert driver[-2:] == [
        "--extra-certificate-request-annotations=team=platform,tier=gold",
        "--use-own-service-account=true",
    ]
    approver = _args("csi-driver-spiffe", "Deployment", "cert-manager-csi-driver-spiffe-approver", *sets)
    assert approver[-2:] == [
        "--use-own-service-account=true",
        "--driver-service-account=system:serviceaccount:cert-manager:cert-manager-csi-driver-spiffe",
    ]


@pytest.mark.parametrize(("chart", "config"), ALL_CONFIGS)
def test_no_configuration_renders_the_demo_only_unsafe_flag(chart: Chart, config: str) -> None:
    words = [word for obj in config_objects(chart, config) for word in all_strings(obj)]
    assert words and not [word for word in words if "unsafe" in word]


@pytest.mark.parametrize(("chart", "kind", "name"), CONTAINERS[:2])
def test_key_pool_size_only_when_set(chart: Chart, kind: str, name: str) -> None:
    assert not [arg for arg in _args(chart, kind, name) if arg.startswith("--key-pool-size")]
    assert _args(chart, kind, name, "app.driver.keyPoolSize=0")[-1] == "--key-pool-size=0"
    assert _args(chart, kind, name, "app.driver.keyPoolSize=32")[-1] == "--key-pool-size=32"
