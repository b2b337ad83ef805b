"""The approver Deployment: leader election, non-root, read-only root, readiness and metrics ports."""

from __future__ import annotations

from install_support import Obj, containers, objects, only

NAME = "cert-manager-csi-driver-spiffe-approver"


def _deployment(*sets: str) -> Obj:
    return only(objects("csi-driver-spiffe", sets), "Deployment", NAME)


def test_hardened_pod_and_container() -> None:
    deployment = _deployment()
    spec = deployment["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == NAME
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    approver = containers(deployment)[NAME]
    assert approver["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    assert approver["command"] == ["certcsi", "approver"]


def test_default_args_ports_and_readiness() -> None:
    approver = containers(_deployment())[NAME]
    assert approver["args"] == [
        "-v",
        "--csi-driver-name=spiffe.csi.cert-manager.io",
        "--trust-domain=cluster.local",
        "--certificate-request-duration=1h",
        "--issuer-name=spiffe-ca",
        "--issuer-kind=ClusterIssuer",
        "--issuer-group=cert-manager.io",
        "--leader-election-namespace=$(POD_NAMESPACE)",
        "--metrics-bind-address=:9402",
        "--readiness-probe-bind-address=:6060",
    ]
    assert approver["env"] == [
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
    ]
    ports = {p["name"]: p["containerPort"] for p in approver["ports"]}
    assert ports == {"metrics": 9402, "readyz": 6060}
    assert approver["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "readyz"}


def test_replicas_ports_and_modes_follow_the_values() -> None:
    deployment = _deployment(
        "app.approver.replicaCount=3",
        "app.approver.metrics.port=19402",
        "app.approver.readinessProbe.port=16060",
        "app.approver.autoApproveNonSpiffe=true",
        "app.runtimeIssuanceConfigMap=issuer-config",
        "app.driver.useOwnServiceAccount=true",
        "release.namespace=identity",
    )
    assert deployment["spec"]["replicas"] == 3
    args = containers(deployment)[NAME]["args"]
    assert "--metrics-bind-address=:19402" in args and "--readiness-probe-bind-address=:16060" in args
    assert args[-5:] == [
        "--auto-approve-non-spiffe",
        "--runtime-issuance-config-map-name=issuer-config",
        "--runtime-issuance-config-map-namespace=identity",
        "--use-own-service-account",
        "--driver-service-account=system:serviceaccount:identity:cert-manager-csi-driver-spiffe",
    ]


def test_placement_and_spread() -> None:
    spec = _deployment(
        "topologySpreadConstraints[0].maxSkew=1",
        "topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
        "topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
        "priorityClassName=high",
    )["spec"]["template"]["spec"]
    assert spec["topologySpreadConstraints"][0]["maxSkew"] == 1
    assert spec["priorityClassName"] == "high"
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
