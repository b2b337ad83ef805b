"""Helpers for the `certcsi install` tests: render to objects, find objects, representative values."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from certcsi.install import Chart, render

Obj = dict[str, Any]

# Representative --set combinations per chart: defaults, everything switched on, and the quiet variant.
CONFIGS: dict[Chart, dict[str, list[str]]] = {
    "csi-driver": {
        "defaults": [],
        "everything": [
            "app.driver.useTokenRequest=true",
            "app.driver.podReadinessGates={pod-ip:any,pod-condition:Ready=True}",
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
            "image.digest=sha256:0e072dddd1f7f8fc8909a2ca6f65e76c5f0d2fcfb8be47935ae3457e8bbceb20",
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
            "openshift.securityContextConstraint.enabled=true",
            "release.name=edge",
            "release.namespace=certcsi-system",
            "nameOverride=edge-csi",
        ],
        "quiet": ["metrics.enabled=false", "app.logLevel=0", "nodeSelector=null", "securityContext.runAsUser=null"],
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
            "app.driver.resources.requests.cpu=10m",
            "app.approver.replicaCount=2",
            "app.approver.autoApproveNonSpiffe=true",
            "app.approver.resources.requests.memory=64Mi",
            "app.approver.metrics.service.type=NodePort",
            "app.approver.metrics.service.servicemonitor.enabled=true",
            "app.approver.metrics.service.servicemonitor.labels.team=platform",
            "image.registry=quay.io",
            "image.repository.driver=acme/certcsi",
            "image.repository.approver=acme/certcsi",
            "image.tag=v9.9.9",
            "approverImage.digest=sha256:0e072dddd1f7f8fc8909a2ca6f65e76c5f0d2fcfb8be47935ae3457e8bbceb20",
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


def objects(chart: Chart, sets: Sequence[str] = (), files: Sequence[Path] = ()) -> list[Obj]:
    """Render through the public text API and parse it back, as `kubectl apply` would read it."""
    return [doc for doc in yaml.safe_load_all(render(chart, values_files=files, sets=sets)) if doc is not None]


def config_objects(chart: Chart, config: str) -> list[Obj]:
    return objects(chart, CONFIGS[chart][config])


def only(found: Sequence[Obj], kind: str, name: str | None = None) -> Obj:
    matches = [o for o in found if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in matches]}"
    return matches[0]


def kinds(found: Sequence[Obj]) -> list[str]:
    return [o["kind"] for o in found]


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


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
