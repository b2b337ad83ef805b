"""`certcsi sandbox up --with csi-driver --with csi-driver-spiffe`: both charts on one node (one data root,
upstream's, as on a real node; their own ports), the SPIFFE approver deciding its issuer's requests,
cert-manager's the others; a SPIFFE pod (examples/spiffe-pod.yaml) and a csi-driver pod (examples/pod.yaml)
both get their files."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from walkthrough_scenario import walk

COMMANDS = [
    ["sudo .venv/bin/certcsi sandbox up --with csi-driver --with csi-driver-spiffe"],
    [
        "export KUBECONFIG=$PWD/sandbox.kubeconfig",
        "kubectl -n cert-manager rollout status deployment/cert-manager-csi-driver-spiffe-approver",
        "kubectl -n cert-manager rollout status daemonset/cert-manager-csi-driver-spiffe-driver",
        "kubectl -n cert-manager rollout status daemonset/cert-manager-csi-driver",
        "kubectl apply -f examples/spiffe-pod.yaml -f examples/pod.yaml",
        "kubectl wait --for=condition=Ready pod/example-app pod/my-csi-app",
        "kubectl get cr -o wide",
        "kubectl get cr -o 'custom-columns=ISSUER:.spec.issuerRef.name,APPROVED BY:"
        '.status.conditions[?(@.type=="Approved")].reason\'',
        ".venv/bin/certcsi sandbox files example-app",
    ],
]


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("both-charts")
    (directory / "blocks.json").write_text(json.dumps(COMMANDS))
    return walk(directory / "blocks.json", directory)


def ok(walked: dict[str, Any], command: str) -> str:
    (ran,) = [c for c in walked["commands"] if c["command"] == command]
    assert ran["rc"] == 0, ran
    return str(ran["out"])


def test_both_charts_roll_out_and_both_pods_get_their_certificates(walked: dict[str, Any]) -> None:
    assert "installed csi-driver, csi-driver-spiffe" in walked["up_banner"]
    for command in COMMANDS[1][1:4]:
        assert "successfully rolled out" in ok(walked, command)
    requests = [re.split(r"\s{2,}", line.strip()) for line in ok(walked, "kubectl get cr -o wide").splitlines()[1:]]
    approvals = {row[4]: row for row in requests}  # by requester
    spiffe = approvals["system:serviceaccount:default:example-app"]
    assert spiffe[1:4] == ["True", "True", "spiffe-ca"]
    driver = approvals["system:serviceaccount:cert-manager:cert-manager-csi-driver"]
    assert driver[1:4] == ["True", "True", "sandbox-ca"]
    # The SPIFFE request was approved by the chart's approver, the other by cert-manager's own.
    approvers = sorted(line.split() for line in ok(walked, COMMANDS[1][7]).splitlines()[1:])
    assert approvers == [["sandbox-ca", "cert-manager.io"], ["spiffe-ca", "spiffe.csi.cert-manager.io"]]
    files = ok(walked, ".venv/bin/certcsi sandbox files example-app")
    assert "SANs URI:spiffe://cluster.local/ns/default/sa/example-app; issuer CN=csi-driver-spiffe-ca" in files
    assert "private key: ECDSA P-256" in files


def test_ctrl_c_leaves_nothing(walked: dict[str, Any]) -> None:
    assert walked["up_rc"] == 0 and walked["state_dir_left"] is False and walked["processes_left"] == []
