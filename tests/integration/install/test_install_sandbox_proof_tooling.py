"""The proof's own tools do what the proof relies on: the webhook's signer asks fold into one check,
and a rendered container's command line is moved onto this machine and nothing else changes."""

from __future__ import annotations

from pathlib import Path

from helm_charts import container, find
from rbac_proof_support import CONFIGS, AuditLog, command_line, rendered

from certcsi.sandbox.apiserver.authn import UserInfo
from certcsi.sandbox.apiserver.rbac import Decision, RequestAttributes

APPROVER = UserInfo("system:serviceaccount:cert-manager:approver")


def _approve(name: str) -> RequestAttributes:
    return RequestAttributes("approve", "cert-manager.io", "signers", name=name)


def test_the_webhook_s_asks_for_one_approval_are_one_check() -> None:
    audit = AuditLog()
    answers = [
        ("clusterissuers.cert-manager.io/*", False),
        ("clusterissuers.cert-manager.io/ca", True),  # the first approval: passed on its exact name
        ("clusterissuers.cert-manager.io/*", False),
        ("clusterissuers.cert-manager.io/ca", False),  # the second: refused on both
        ("clusterissuers.cert-manager.io/*", True),  # the third: passed on the wildcard
    ]
    for name, allowed in answers:
        audit(APPROVER, _approve(name), Decision(allowed))
    audit(APPROVER, RequestAttributes("list", "cert-manager.io", "certificaterequests"), Decision(True))
    checks = audit.checks([APPROVER.username])
    assert [(len(c.asked), c.allowed) for c in checks] == [(2, True), (2, False), (1, True), (1, True)]
    assert audit.checks(["someone-else"]) == []


def test_the_driver_s_command_line_is_the_rendered_one_moved_onto_this_machine(tmp_path: Path) -> None:
    daemonset = find(rendered(CONFIGS["csi-driver"]), "DaemonSet")
    spec = container(daemonset, "cert-manager-csi-driver")
    command, args = command_line(
        spec,
        pod_fields={"spec.nodeName": "node-7"},
        volumes={"plugin-dir": tmp_path / "plugin", "csi-data-dir": tmp_path / "data"},
    )
    assert command == spec["command"] == ["certcsi", "driver"]
    # Upstream's relative paths (the container's working directory is /) land in the mounted volumes.
    assert args == [
        arg.replace("$(NODE_ID)", "node-7")
        .replace("$(CSI_ENDPOINT)", f"unix://{tmp_path}/plugin/csi.sock")
        .replace("=csi-data-dir", f"={tmp_path}/data")
        for arg in spec["args"]
    ]
    assert f"--data-root={tmp_path}/data" in args
    assert f"--endpoint=unix://{tmp_path}/plugin/csi.sock" in args
