"""Representative values for the chart tests: defaults, everything switched on, and a quiet variant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from helm_charts import Chart, Obj, render

DIGEST = "sha256:0e072dddd1f7f8fc8909a2ca6f65e76c5f0d2fcfb8be47935ae3457e8bbceb20"
CONFIGS: dict[Chart, dict[str, list[str]]] = {
    "csi-driver": {
        "defaults": [],
        "everything": [
            "app.driver.useTokenRequest=true",
            "app.driver.continueOnNotReady=true",
            "app.driver.podReadinessGates={pod-ip:any,pod-condition:Ready=True}",
            "app.driver.gateBackoff.duration=2s",
            "app.driver.gateBackoff.factor=1.5",
            "app.driver.gateBackoff.cap=30s",
            "app.driver.kubernetesAPIQPS=20",
            "app.driver.kubernetesAPIBurst=40",
            "app.driver.strictAttributes=true",
            "app.driver.keyPoolSize=16",
            "app.kubeletRootDir=/var/data/kubelet",
            "app.driver.csiDataDir=/run/certcsi",
            "app.livenessProbe.port=19809",
            "app.logLevel=3",
            "metrics.port=19402",
            "metrics.podmonitor.enabled=true",
            "metrics.podmonitor.namespace=monitoring",
            "metrics.podmonitor.labels.team=platform",
            "metrics.podmonitor.endpointAdditionalProperties.relabelings[0].action=replace",
            "metrics.podmonitor.endpointAdditionalProperties.relabelings[0].targetLabel=instance",
            "image.registry=registry.example.com",
            "image.repository=platform/certcsi",
            f"image.digest={DIGEST}",
            "imagePullSecrets[0].name=pull-secret",
            "commonLabels.team=platform",
            "podLabels.tier=node",
            "podAnnotations.example\\.com/owner=platform",
            "daemonSetAnnotations.example\\.com/rollout=manual",
            "resources.requests.cpu=10m",
            "resources.limits.memory=128Mi",
            "tolerations[0].operator=Exists",
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
            ".matchExpressions[0].key=node-role",
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
            ".matchExpressions[0].operator=Exists",
            "priorityClassName=system-node-critical",
            "hostNetwork=true",
            "openshift.securityContextConstraint.enabled=true",
            "nameOverride=edge-csi",
        ],
        "quiet": ["metrics.enabled=false", "app.logLevel=0", "nodeSelector=null"],
    },
    "csi-driver-spiffe": {
        "defaults": [],
        "everything": [
            "app.trustDomain=prod.example.com",
            "app.certificateRequestDuration=30m",
            "app.issuer.name=",
            "app.runtimeIssuanceConfigMap=spiffe-issuer",
            "app.extraCertificateRequestAnnotations=team=platform\\,tier=gold",
            "app.kubeletRootDir=/var/data/kubelet",
            "app.driver.sourceCABundle=/var/run/secrets/spiffe.io/ca.pem",
            "app.driver.volumes[0].name=root-cas",
            "app.driver.volumes[0].secret.secretName=root-ca-bundle",
            "app.driver.volumeMounts[0].name=root-cas",
            "app.driver.volumeMounts[0].mountPath=/var/run/secrets/spiffe.io",
            "app.driver.volumeFileName.ca=bundle.pem",
            "app.driver.useOwnServiceAccount=true",
            "app.driver.strictAttributes=true",
            "app.driver.keyPoolSize=0",
            "app.driver.resources.requests.cpu=10m",
            "app.approver.replicaCount=2",
            "app.approver.autoApproveNonSPIFFE=true",
            "app.approver.resources.requests.memory=64Mi",
            "app.approver.metrics.service.type=NodePort",
            "app.approver.metrics.service.servicemonitor.enabled=true",
            "app.approver.metrics.service.servicemonitor.labels.team=platform",
            "image.registry=quay.io",
            "image.repository.driver=acme/certcsi",
            "image.repository.approver=acme/certcsi",
            "image.tag=v9.9.9",
            f"approverImage.digest={DIGEST}",
            "topologySpreadConstraints[0].maxSkew=1",
            "topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
            "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
            "tolerations[0].operator=Exists",
            "priorityClassName=system-node-critical",
            "openshift.securityContextConstraint.enabled=true",
            "commonLabels.team=platform",
        ],
        "quiet": ["app.approver.metrics.service.enabled=false", "app.approver.signerName=example.com/my-signer"],
    },
}
ALL_CONFIGS = [(chart, name) for chart, configs in CONFIGS.items() for name in configs]


def config_objects(chart: Chart, config: str) -> list[Obj]:
    return render(chart, sets=CONFIGS[chart][config])


def containers(workload: Obj) -> dict[str, Obj]:
    return {c["name"]: c for c in workload["spec"]["template"]["spec"]["containers"]}


def all_strings(value: Any) -> Iterator[str]:
    """Every string anywhere in a rendered object (keys and values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_strings(item)
