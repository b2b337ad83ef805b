"""A values file written for upstream's Helm charts works unchanged, and every upstream key is known."""

from __future__ import annotations

from pathlib import Path

import pytest
from install_support import containers, objects, only, write

from certcsi.install import Chart
from certcsi.install.values import SCHEMAS, Leaf, Tree

_IMAGE = ["registry", "repository", "tag", "digest", "pullPolicy"]

# Every key of upstream's charts (values.yaml, values.schema.json and the chart tests of the newest releases).
UPSTREAM_KEYS: dict[Chart, list[str]] = {
    "csi-driver": [
        "metrics.enabled",
        "metrics.port",
        *(
            f"metrics.podmonitor.{k}"
            for k in (
                "enabled",
                "namespace",
                "prometheusInstance",
                "interval",
                "scrapeTimeout",
                "labels",
                "annotations",
                "honorLabels",
                "endpointAdditionalProperties",
            )
        ),
        *(f"image.{k}" for k in _IMAGE),
        *(f"nodeDriverRegistrarImage.{k}" for k in _IMAGE),
        *(f"livenessProbeImage.{k}" for k in _IMAGE),
        "imagePullSecrets",
        "commonLabels",
        "app.logLevel",
        "app.driver.name",
        "app.driver.useTokenRequest",
        "app.driver.csiDataDir",
        "app.livenessProbe.port",
        "app.kubeletRootDir",
        "daemonSetAnnotations",
        "podAnnotations",
        "podLabels",
        "resources",
        "nodeSelector",
        "affinity",
        "tolerations",
        "priorityClassName",
        "openshift.securityContextConstraint.enabled",
        "openshift.securityContextConstraint.name",
        "securityContext",
        "podSecurityContext",
        "global",
        "nameOverride",
    ],
    "csi-driver-spiffe": [
        "image.registry",
        "image.repository.driver",
        "image.repository.approver",
        "image.tag",
        "image.digest.driver",
        "image.digest.approver",
        "image.pullPolicy",
        *(f"driverImage.{k}" for k in _IMAGE),
        *(f"approverImage.{k}" for k in _IMAGE),
        "imagePullSecrets",
        "app.logLevel",
        "app.certificateRequestDuration",
        "app.runtimeIssuanceConfigMap",
        "app.extraCertificateRequestAnnotations",
        "app.trustDomain",
        "app.name",
        "app.issuer.name",
        "app.issuer.kind",
        "app.issuer.group",
        "app.driver.sourceCABundle",
        "app.driver.volumeFileName.cert",
        "app.driver.volumeFileName.key",
        "app.driver.volumeFileName.ca",
        "app.driver.volumes",
        "app.driver.volumeMounts",
        "app.driver.csiDataDir",
        "app.driver.resources",
        "app.driver.useOwnServiceAccount",
        *(f"app.driver.nodeDriverRegistrarImage.{k}" for k in _IMAGE),
        *(f"app.driver.livenessProbeImage.{k}" for k in _IMAGE),
        "app.driver.livenessProbe.port",
        "app.approver.replicaCount",
        "app.approver.signerName",
        "app.approver.autoApproveNonSpiffe",
        "app.approver.readinessProbe.port",
        "app.approver.metrics.port",
        "app.approver.metrics.service.enabled",
        "app.approver.metrics.service.type",
        *(
            f"app.approver.metrics.service.servicemonitor.{k}"
            for k in ("enabled", "prometheusInstance", "interval", "scrapeTimeout", "labels")
        ),
        "app.approver.resources",
        "priorityClassName",
        "commonLabels",
        "nodeSelector",
        "affinity",
        "tolerations",
        "topologySpreadConstraints",
        "openshift.securityContextConstraint.enabled",
        "openshift.securityContextConstraint.name",
        "nodeDriverRegistrarSecurityContext",
        "podSecurityContext",
        "global",
        "nameOverride",
    ],
}

CSI_DRIVER_VALUES = """\
metrics:
  enabled: true
  port: 9402
  podmonitor:
    enabled: true
    prometheusInstance: default
    interval: 60s
    scrapeTimeout: 30s
    labels: {}
    annotations: {}
    honorLabels: false
    endpointAdditionalProperties: {}
image:
  repository: registry.example.com/certcsi
  tag: v0.1.0
  pullPolicy: IfNotPresent
imagePullSecrets: []
commonLabels: {}
nodeDriverRegistrarImage:
  repository: registry.k8s.io/sig-storage/csi-node-driver-registrar
  tag: v2.10.0
  pullPolicy: IfNotPresent
livenessProbeImage:
  repository: registry.k8s.io/sig-storage/livenessprobe
  tag: v2.12.0
  pullPolicy: IfNotPresent
app:
  logLevel: 1 # 1-5
  driver:
    name: csi.cert-manager.io
    useTokenRequest: true
    csiDataDir: /tmp/cert-manager-csi-driver
  livenessProbe:
    port: 9809
  kubeletRootDir: /var/lib/k0s/kubelet
daemonSetAnnotations: {}
podAnnotations: {}
podLabels: {}
resources: {}
nodeSelector:
  kubernetes.io/os: linux
affinity: {}
tolerations:
- operator: Exists
priorityClassName: ""
openshift:
  securityContextConstraint:
    enabled: detect
    name: privileged
"""

SPIFFE_VALUES = """\
image:
  repository:
    driver: registry.example.com/certcsi
    approver: registry.example.com/certcsi
  digest: {}
  pullPolicy: IfNotPresent
imagePullSecrets: []
app:
  logLevel: 1
  certificateRequestDuration: 1h
  runtimeIssuanceConfigMap: ""
  extraCertificateRequestAnnotations:
  trustDomain: example.internal
  name: spiffe.csi.cert-manager.io
  issuer:
    name: spiffe-ca
    kind: ClusterIssuer
    group: cert-manager.io
  driver:
    sourceCABundle:
    volumeFileName:
      cert: tls.crt
      key: tls.key
      ca: ca.crt
    volumes: []
    volumeMounts: []
    csiDataDir: /tmp/cert-manager-csi-driver
    resources: {}
    nodeDriverRegistrarImage:
      repository: registry.k8s.io/sig-storage/csi-node-driver-registrar
      tag: v2.15.0
      pullPolicy: IfNotPresent
    livenessProbeImage:
      repository: registry.k8s.io/sig-storage/livenessprobe
      tag: v2.17.0
      pullPolicy: IfNotPresent
    livenessProbe:
      port: 9809
  approver:
    replicaCount: 2
    signerName: ""
    readinessProbe:
      port: 6060
    metrics:
      port: 9402
      service:
        enabled: true
        type: ClusterIP
        servicemonitor:
          enabled: false
          prometheusInstance: default
          interval: 10s
          scrapeTimeout: 5s
          labels: {}
    resources: {}
priorityClassName: ""
commonLabels: {}
nodeSelector:
  kubernetes.io/os: linux
affinity: {}
tolerations: []
topologySpreadConstraints: []
openshift:
  securityContextConstraint:
    enabled: detect
    name: privileged
global: {}
"""


def _known(tree: Tree, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, node in tree.items():
        keys.add(prefix + key)
        if not isinstance(node, Leaf):
            keys |= _known(node, prefix + key + ".")
    return keys


@pytest.mark.parametrize("chart", ["csi-driver", "csi-driver-spiffe"])
def test_every_upstream_key_is_known(chart: Chart) -> None:
    known = _known(SCHEMAS[chart])
    assert [key for key in UPSTREAM_KEYS[chart] if key not in known] == []


def test_upstream_csi_driver_values_file(tmp_path: Path) -> None:
    found = objects("csi-driver", files=[write(tmp_path, "values.yaml", CSI_DRIVER_VALUES)])
    daemonset = only(found, "DaemonSet")
    driver = containers(daemonset)["cert-manager-csi-driver"]
    assert driver["image"] == "registry.example.com/certcsi:v0.1.0"
    assert "--use-token-request" in driver["args"]
    assert containers(daemonset)["node-driver-registrar"]["image"].endswith("csi-node-driver-registrar:v2.10.0")
    assert daemonset["spec"]["template"]["spec"]["tolerations"] == [{"operator": "Exists"}]
    volumes = {v["name"]: v["hostPath"]["path"] for v in daemonset["spec"]["template"]["spec"]["volumes"]}
    assert volumes["pods-mount-dir"] == "/var/lib/k0s/kubelet/pods"
    assert only(found, "CSIDriver")["spec"]["requiresRepublish"] is True
    assert only(found, "PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"] == "http-metrics"


def test_upstream_spiffe_values_file(tmp_path: Path) -> None:
    found = objects("csi-driver-spiffe", files=[write(tmp_path, "values.yaml", SPIFFE_VALUES)])
    driver = containers(only(found, "DaemonSet"))["cert-manager-csi-driver-spiffe"]
    assert driver["image"].startswith("registry.example.com/certcsi:")
    assert "--trust-domain=example.internal" in driver["args"]
    assert not [a for a in driver["args"] if a.startswith(("--source-ca-bundle", "--extra-certificate"))]
    deployment = only(found, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert containers(deployment)["cert-manager-csi-driver-spiffe-approver"]["image"].startswith(
        "registry.example.com/certcsi:"
    )
