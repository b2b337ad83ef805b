"""The node DaemonSet: registrar, livenessprobe and a privileged driver on the kubelet's directories."""

from __future__ import annotations

import pytest
from install_support import Obj, containers, objects, only

from certcsi.install import Chart

DAEMONSETS = {"csi-driver": "cert-manager-csi-driver", "csi-driver-spiffe": "cert-manager-csi-driver-spiffe-driver"}
DRIVER_CONTAINERS = {"csi-driver": "cert-manager-csi-driver", "csi-driver-spiffe": "cert-manager-csi-driver-spiffe"}
DRIVER_NAMES = {"csi-driver": "csi.cert-manager.io", "csi-driver-spiffe": "spiffe.csi.cert-manager.io"}


def _daemonset(chart: Chart, *sets: str) -> Obj:
    return only(objects(chart, sets), "DaemonSet", DAEMONSETS[chart])


def _volumes(daemonset: Obj) -> dict[str, Obj]:
    return {v["name"]: v for v in daemonset["spec"]["template"]["spec"]["volumes"]}


@pytest.mark.parametrize("chart", ["csi-driver", "csi-driver-spiffe"])
@pytest.mark.parametrize("root", ["/var/lib/kubelet", "/var/data/kubelet/"])
def test_kubelet_directories_follow_the_configured_root(chart: Chart, root: str) -> None:
    daemonset = _daemonset(chart, f"app.kubeletRootDir={root}")
    base = root.rstrip("/")
    plugin_dir = f"{base}/plugins/{DRIVER_NAMES[chart]}"
    registrar = containers(daemonset)["node-driver-registrar"]
    assert registrar["args"][1:] == [
        "--csi-address=/plugin/csi.sock",
        f"--kubelet-registration-path={plugin_dir}/csi.sock",
    ]
    volumes = _volumes(daemonset)
    assert volumes["plugin-dir"]["hostPath"] == {"path": plugin_dir, "type": "DirectoryOrCreate"}
    assert volumes["pods-mount-dir"]["hostPath"] == {"path": f"{base}/pods", "type": "Directory"}
    assert volumes["registration-dir"]["hostPath"] == {"path": f"{base}/plugins_registry", "type": "Directory"}
    driver = containers(daemonset)[DRIVER_CONTAINERS[chart]]
    mounts = {m["name"]: m for m in driver["volumeMounts"]}
    assert mounts["pods-mount-dir"] == {
        "name": "pods-mount-dir",
        "mountPath": f"{base}/pods",
        "mountPropagation": "Bidirectional",
    }


@pytest.mark.parametrize("chart", ["csi-driver", "csi-driver-spiffe"])
def test_driver_container_is_privileged_with_bidirectional_data_dir(chart: Chart) -> None:
    daemonset = _daemonset(chart, "app.driver.csiDataDir=/run/certcsi")
    driver = containers(daemonset)[DRIVER_CONTAINERS[chart]]
    assert driver["securityContext"]["privileged"] is True
    assert {"name": "csi-data-dir", "mountPath": "/csi-data-dir", "mountPropagation": "Bidirectional"} in driver[
        "volumeMounts"
    ]
    assert _volumes(daemonset)["csi-data-dir"]["hostPath"] == {"path": "/run/certcsi", "type": "DirectoryOrCreate"}
    assert "--data-root=/csi-data-dir" in driver["args"]


@pytest.mark.parametrize("chart", ["csi-driver", "csi-driver-spiffe"])
def test_driver_gets_node_id_endpoint_and_health_probe(chart: Chart) -> None:
    daemonset = _daemonset(chart)
    driver = containers(daemonset)[DRIVER_CONTAINERS[chart]]
    assert driver["command"] == ["certcsi", "driver" if chart == "csi-driver" else "spiffe-driver"]
    assert "--node-id=$(NODE_ID)" in driver["args"] and "--endpoint=$(CSI_ENDPOINT)" in driver["args"]
    env = {e["name"]: e for e in driver["env"]}
    assert env["NODE_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["CSI_ENDPOINT"]["value"] == "unix:///plugin/csi.sock"
    assert driver["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert {"name": "healthz", "containerPort": 9809, "protocol": "TCP"} in driver["ports"]
    liveness = containers(daemonset)["liveness-probe"]
    assert "--csi-address=/plugin/csi.sock" in liveness["args"] and "--health-port=9809" in liveness["args"]


@pytest.mark.parametrize("chart", ["csi-driver", "csi-driver-spiffe"])
def test_rolling_update_never_surges(chart: Chart) -> None:
    strategy = _daemonset(chart)["spec"]["updateStrategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}


def test_selector_labels_are_a_subset_of_the_pod_labels() -> None:
    daemonset = _daemonset("csi-driver", "podLabels.tier=node", "commonLabels.team=x")
    selector = daemonset["spec"]["selector"]["matchLabels"]
    labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert labels["tier"] == "node" and labels["team"] == "x"
    assert labels["app.kubernetes.io/managed-by"] == "certcsi"


def test_csi_driver_args_follow_the_values() -> None:
    driver = containers(
        _daemonset(
            "csi-driver", "app.driver.name=certs.example.com", "app.driver.useTokenRequest=true", "app.logLevel=2"
        )
    )["cert-manager-csi-driver"]
    assert driver["args"] == [
        "-vv",
        "--node-id=$(NODE_ID)",
        "--endpoint=$(CSI_ENDPOINT)",
        "--data-root=/csi-data-dir",
        "--driver-name=certs.example.com",
        "--use-token-request",
        "--metrics-bind-address=:9402",
    ]


def test_spiffe_driver_args_follow_the_values() -> None:
    driver = containers(
        _daemonset(
            "csi-driver-spiffe",
            "app.trustDomain=example.org",
            "app.certificateRequestDuration=2h",
            "app.issuer.kind=Issuer",
            "app.issuer.name=ca",
            "app.driver.volumeFileName.cert=cert.pem",
            "app.driver.sourceCABundle=/etc/bundle/ca.pem",
            "app.runtimeIssuanceConfigMap=issuer-config",
            "release.namespace=identity",
        )
    )["cert-manager-csi-driver-spiffe"]
    assert driver["args"][4:] == [
        "--csi-driver-name=spiffe.csi.cert-manager.io",
        "--trust-domain=example.org",
        "--certificate-request-duration=2h",
        "--issuer-name=ca",
        "--issuer-kind=Issuer",
        "--issuer-group=cert-manager.io",
        "--file-name-certificate=cert.pem",
        "--file-name-key=tls.key",
        "--file-name-ca=ca.crt",
        "--source-ca-bundle=/etc/bundle/ca.pem",
        "--runtime-issuance-config-map-name=issuer-config",
        "--runtime-issuance-config-map-namespace=identity",
    ]


def test_spiffe_extra_volumes_reach_the_driver() -> None:
    daemonset = _daemonset(
        "csi-driver-spiffe",
        "app.driver.volumes[0].name=roots",
        "app.driver.volumes[0].configMap.name=roots",
        "app.driver.volumeMounts[0].name=roots",
        "app.driver.volumeMounts[0].mountPath=/etc/roots",
    )
    assert _volumes(daemonset)["roots"] == {"name": "roots", "configMap": {"name": "roots"}}
    driver = containers(daemonset)["cert-manager-csi-driver-spiffe"]
    assert {"name": "roots", "mountPath": "/etc/roots"} in driver["volumeMounts"]


def test_security_contexts_are_overridable_and_removable() -> None:
    daemonset = _daemonset(
        "csi-driver",
        "podSecurityContext.fsGroup=1000",
        "nodeDriverRegistrarSecurityContext.runAsUser=1000",
        "securityContext=null",
    )
    spec = daemonset["spec"]["template"]["spec"]
    assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 1000}
    assert containers(daemonset)["node-driver-registrar"]["securityContext"]["runAsUser"] == 1000
    # The driver mounts: it stays privileged root whatever the values remove.
    assert containers(daemonset)["cert-manager-csi-driver"]["securityContext"] == {"privileged": True, "runAsUser": 0}


def test_upstream_image_rules() -> None:
    registrar = containers(_daemonset("csi-driver", "nodeDriverRegistrarImage.registry=mirror.example.com"))
    assert registrar["node-driver-registrar"]["image"].startswith(
        "mirror.example.com/registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.15.0"
    )
    digest = containers(_daemonset("csi-driver", "image.tag=v1", "image.digest=sha256:abc", "image.pullPolicy=Always"))
    assert digest["cert-manager-csi-driver"]["image"] == "ghcr.io/certcsi/certcsi@sha256:abc"
    assert digest["cert-manager-csi-driver"]["imagePullPolicy"] == "Always"
    old = containers(
        _daemonset("csi-driver-spiffe", "image.registry=quay.io", "image.repository.driver=a/b", "image.tag=v2")
    )
    assert old["cert-manager-csi-driver-spiffe"]["image"] == "quay.io/a/b:v2"
    new = containers(_daemonset("csi-driver-spiffe", "driverImage.repository=c/d", "driverImage.tag=v3"))
    assert new["cert-manager-csi-driver-spiffe"]["image"] == "c/d:v3"
