"""README's walkthrough, exactly as written: `certcsi sandbox up --with csi-driver`, then kubectl.

walkthrough_scenario.py runs README's commands (real kubectl, real `certcsi` processes, the chart's
driver as the node runs it) in a network and mount namespace of its own (the chart's ports meet
nothing else on the machine) and reports what each printed; this test reads README too, so the two
cannot drift apart, and judges every step.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from walkthrough_scenario import blocks, walk

README = Path(__file__).resolve().parents[3] / "README.md"
COMMANDS = [
    ["sudo .venv/bin/certcsi sandbox up --with csi-driver"],
    [
        "export KUBECONFIG=$PWD/sandbox.kubeconfig",
        "kubectl get nodes",
        "kubectl -n cert-manager rollout status daemonset/cert-manager-csi-driver",
        "kubectl apply -f examples/pod.yaml",
        "kubectl wait --for=condition=Ready pod/my-csi-app",
        "kubectl get pod my-csi-app",
        "kubectl get cr",
        "kubectl describe pod my-csi-app",
        ".venv/bin/certcsi sandbox files my-csi-app",
        "kubectl delete pod my-csi-app",
        "kubectl get cr",
    ],
    [
        "kubectl apply -f examples/pod-broken-issuer.yaml",
        "kubectl get pod my-csi-app-broken",
        "kubectl get cr -o wide",
        "sudo .venv/bin/certcsi sandbox exec -n cert-manager ds/cert-manager-csi-driver -- certcsi inspect "
        "--data-root csi-data-dir",
        "kubectl describe pod my-csi-app-broken",
        "kubectl get events --field-selector reason=FailedMount",
        "kubectl delete -f examples/pod-broken-issuer.yaml",
    ],
]


def rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return walk(README, tmp_path_factory.mktemp("walkthrough"))


def output(walked: dict[str, Any], command: str, index: int = 0) -> dict[str, Any]:
    ran = [c for c in walked["commands"] if c["command"] == command]
    return dict(ran[index])


def ok(walked: dict[str, Any], command: str, index: int = 0) -> str:
    ran = output(walked, command, index)
    assert ran["rc"] == 0, ran
    return str(ran["out"])


def test_the_test_runs_the_readme_s_commands() -> None:
    assert [lines for _, lines in blocks(README)] == COMMANDS


def test_sandbox_up_says_where_everything_is(walked: dict[str, Any]) -> None:
    banner = walked["up_banner"]
    assert banner.startswith("sandbox ready: API https://127.0.0.1:")
    assert "node sandbox-node, ClusterIssuer sandbox-ca, installed csi-driver" in banner


def test_the_node_is_ready_and_the_driver_rolled_out(walked: dict[str, Any]) -> None:
    (header, node) = rows(ok(walked, "kubectl get nodes"))
    assert header == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert node[:3] == ["sandbox-node", "Ready", "<none>"]
    rollout = ok(walked, "kubectl -n cert-manager rollout status daemonset/cert-manager-csi-driver")
    assert 'daemon set "cert-manager-csi-driver" successfully rolled out' in rollout


def test_the_pod_runs_with_its_certificate_requested_by_the_driver(walked: dict[str, Any]) -> None:
    assert ok(walked, "kubectl apply -f examples/pod.yaml").strip() == "pod/my-csi-app created"
    assert ok(walked, "kubectl wait --for=condition=Ready pod/my-csi-app").strip() == "pod/my-csi-app condition met"
    header, pod = rows(ok(walked, "kubectl get pod my-csi-app"))
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pod[:4] == ["my-csi-app", "1/1", "Running", "0"]
    header, request = rows(ok(walked, "kubectl get cr"))
    assert header == ["NAME", "APPROVED", "DENIED", "READY", "ISSUER", "REQUESTER", "AGE"]
    # Denied has no condition: the empty cell merges with its neighbours' spacing.
    assert request[1:5] == ["True", "True", "sandbox-ca", "system:serviceaccount:cert-manager:cert-manager-csi-driver"]


def test_describe_shows_the_node_conditions_and_events_as_kubelet_writes_them(walked: dict[str, Any]) -> None:
    text = ok(walked, "kubectl describe pod my-csi-app")
    assert re.search(r"^Node:\s+sandbox-node/127\.0\.0\.1$", text, re.M)
    assert re.search(r"^Status:\s+Running$", text, re.M)
    for condition in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"):
        assert re.search(rf"^\s+{condition}\s+True\s*$", text, re.M), condition
    events = text[text.index("Events:") :]
    for source, reason, message in (
        ("default-scheduler", "Scheduled", "Successfully assigned default/my-csi-app to sandbox-node"),
        ("csi.cert-manager.io", "CertificateIssued", "certificate issued by CertificateRequest "),
        ("kubelet", "Pulled", 'Container image "busybox" already present on machine'),
        ("kubelet", "Created", "Created container: my-frontend"),
        ("kubelet", "Started", "Started container my-frontend"),
    ):
        assert re.search(rf"Normal\s+{reason}\s+\S+\s+{re.escape(source)}\s+{re.escape(message)}", events), reason


def test_sandbox_files_shows_the_volume_s_files(walked: dict[str, Any]) -> None:
    text = ok(walked, ".venv/bin/certcsi sandbox files my-csi-app")
    assert text.startswith("Pod default/my-csi-app, volume tls (csi.cert-manager.io) at /tls\n")
    assert "mount:     bind mount of a tmpfs; the pod's containers mount it read-only" in text
    files = {
        row[0]: row for row in (line.split(None, 4) for line in text.splitlines()) if row[0].endswith((".crt", ".key"))
    }
    assert sorted(files) == ["ca.crt", "tls.crt", "tls.key"]
    for row in files.values():  # fsGroup 2000: the group reads, nobody else
        assert row[1:3] == ["0440", "root:2000"], row
    assert "CA bundle, 1 certificate: CN=certcsi sandbox CA" in files["ca.crt"][4]
    leaf = files["tls.crt"][4]
    assert "subject CN=my-csi-app; SANs DNS:my-csi-app.default.svc.cluster.local; issuer CN=certcsi sandbox CA" in leaf
    assert "(89d left)" in leaf or "(90d left)" in leaf  # cert-manager's default duration: 90 days
    assert files["tls.key"][4].endswith("private key: RSA 2048")
    assert "BEGIN" not in text  # never a byte of the key (or of anything else)


def test_delete_waits_for_the_kubelet_and_the_request_goes_with_the_pod(walked: dict[str, Any]) -> None:
    assert ok(walked, "kubectl delete pod my-csi-app").strip() == 'pod "my-csi-app" deleted'
    gone = output(walked, "kubectl get cr", 1)
    assert gone["rc"] == 0 and gone["out"] == "" and gone["err"].strip() == "No resources found in default namespace."


def test_a_missing_issuer_leaves_the_pod_creating_with_a_pending_request(walked: dict[str, Any]) -> None:
    assert ok(walked, "kubectl apply -f examples/pod-broken-issuer.yaml").strip() == "pod/my-csi-app-broken created"
    _, pod = rows(ok(walked, "kubectl get pod my-csi-app-broken"))
    assert pod[:4] == ["my-csi-app-broken", "0/1", "ContainerCreating", "0"]
    header, request = rows(ok(walked, "kubectl get cr -o wide"))
    assert header[-2:] == ["STATUS", "AGE"]
    assert request[1:4] == ["True", "False", "sandbox-ca-typo"]  # Approved, (no Denied), not Ready
    assert (
        'Referenced "ClusterIssuer" not found: clusterissuer.cert-manager.io "sandbox-ca-typo" not found' in request[-2]
    )


def test_inspect_in_the_driver_container_shows_the_pending_volume(walked: dict[str, Any]) -> None:
    command = next(line for line in COMMANDS[2] if "inspect" in line)
    header, volume = rows(ok(walked, command))
    assert header == ["POD", "VOLUME", "STATE", "IDENTITY", "NOT AFTER", "NEXT RENEWAL", "LAST ERROR"]
    assert volume[0] == "default/my-csi-app-broken" and volume[2] == "Pending"


def test_kubelet_reports_the_failed_mount_with_its_message(walked: dict[str, Any]) -> None:
    text = ok(walked, "kubectl describe pod my-csi-app-broken")
    assert re.search(r"^Status:\s+Pending$", text, re.M)
    assert re.search(r"^\s+Reason:\s+ContainerCreating$", text, re.M)
    message = (
        r'Warning\s+FailedMount\s+\S+\s+kubelet\s+MountVolume.SetUp failed for volume "tls" : '
        r'rpc error: code = DeadlineExceeded desc = waiting for request "[^"]+" timed out after [0-9.]+s: '
        r'last condition Ready=False reason Pending: Referenced "ClusterIssuer" not found'
    )
    assert re.search(message, text.replace("\n  ", " ")), text[text.index("Events:") :]
    events = ok(walked, "kubectl get events --field-selector reason=FailedMount")
    assert re.search(r"Warning\s+FailedMount\s+pod/my-csi-app-broken\s+MountVolume.SetUp failed", events)
    assert ok(walked, "kubectl delete -f examples/pod-broken-issuer.yaml").strip() == 'pod "my-csi-app-broken" deleted'


def test_ctrl_c_stops_everything_and_leaves_nothing(walked: dict[str, Any]) -> None:
    assert walked["up_rc"] == 0, walked["up_stderr"]
    assert walked["state_dir_left"] is False
    assert walked["processes_left"] == []
